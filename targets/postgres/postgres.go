// Package postgres is the target "postgres": real PostgreSQL (Debian's
// package postgresql) taking idempotent payments, serving the idempotency
// workload (workloads/idempotency). Clients charge accounts with requests
// named by client-chosen ids, retry them and sometimes deliver them twice
// at once; what keeps a request from being charged twice is the target's
// variant:
//
//   - check-then-insert (the default): in one transaction at the run's
//     isolation level (--isolation, read committed by default), SELECT the
//     request id from the ledger and INSERT the row when it is absent; the
//     ledger has no constraint on request_id. Two deliveries of one request
//     that run at once both find nothing and both insert: the request is
//     charged twice (serializable turns one of them into a serialization
//     failure).
//   - unique-constraint: request_id is the ledger's primary key and the
//     charge is INSERT … ON CONFLICT (request_id) DO NOTHING: the database
//     itself keeps a request to one row.
//
// The target serves the register workload (workloads/register) too: one
// row per key in the table registers, each operation one transaction at
// the run's isolation level; the variants do not apply to it.
//
// The cluster has one role, "pg", of one node: a postgres server whose
// data folder initdb makes in the node's data folder (DataDir/pgdata),
// trusting connections from anywhere, with fsync on. PostgreSQL refuses
// to run as root: when faultline runs as root, the server runs as the
// account "postgres" that Debian's package creates.
package postgres

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

// Name is the --target name of this target.
const Name = "postgres"

// The variants of postgres; VariantCheckThenInsert is the default.
const (
	// VariantCheckThenInsert looks the request id up and inserts the row
	// when it is absent, in one read-committed transaction, with no
	// constraint on request_id.
	VariantCheckThenInsert = "check-then-insert"
	// VariantUniqueConstraint makes request_id the ledger's primary key
	// and inserts with ON CONFLICT (request_id) DO NOTHING.
	VariantUniqueConstraint = "unique-constraint"
)

// WorkloadIdempotency is the idempotency workload (workloads/idempotency),
// the one the variants are about.
const WorkloadIdempotency = "idempotency"

// RolePG is the role of the postgres nodes.
const RolePG = "pg"

// User is the account the server runs as when faultline runs as root;
// Debian's package creates it. It is also the name of the database
// superuser initdb makes and the clients connect as.
const User = "postgres"

// Database is the database the clients use (the one initdb makes).
const Database = "postgres"

// DataSubdir is the folder, inside a node's data folder, that initdb
// makes and the server runs on: initdb gives it the permissions
// PostgreSQL demands (0700) whatever the provider did to the data folder.
const DataSubdir = "pgdata"

// readyTimeout bounds one readiness probe.
const readyTimeout = 2 * time.Second

// Target is the postgres target. Its zero value is ready to use; it holds
// no state, so one value serves any number of nodes and clients.
type Target struct{}

var (
	_ targets.Target    = Target{}
	_ targets.Imager    = Target{}
	_ targets.Defaulter = Target{}
	_ targets.Isolator  = Target{}
	_ targets.Staller   = Target{}
)

// StallPoint says where the bank workload's clients stall under
// client-pause: between reading the balances and writing them back, in
// the open transaction. The other workloads' clients have no stall point.
func (Target) StallPoint(workload string) string {
	if workload != WorkloadBank {
		return ""
	}
	return "between reading the balances and writing them back, in the open transaction"
}

// The isolation levels of --isolation; IsolationReadCommitted is the
// default (PostgreSQL's own).
const (
	// IsolationReadCommitted: each statement sees what was committed
	// before it began.
	IsolationReadCommitted = "read-committed"
	// IsolationRepeatableRead: snapshot isolation; a write to a row that
	// changed since the snapshot fails with a serialization failure.
	IsolationRepeatableRead = "repeatable-read"
	// IsolationSerializable: serializable snapshot isolation; any
	// transaction that could break serializability fails.
	IsolationSerializable = "serializable"
)

// Isolations lists read-committed (the default), repeatable-read and
// serializable.
func (Target) Isolations() []targets.Choice {
	return []targets.Choice{
		{Name: IsolationReadCommitted, Description: "each statement sees what was committed before it began (PostgreSQL's default)"},
		{Name: IsolationRepeatableRead, Description: "one snapshot per transaction; concurrent updates of one row fail with a serialization failure"},
		{Name: IsolationSerializable, Description: "serializable snapshot isolation: a transaction that could break serializability fails"},
	}
}

// isoLevel maps an --isolation level to pgx's; "" is read committed.
func isoLevel(level string) (pgx.TxIsoLevel, error) {
	switch level {
	case "", IsolationReadCommitted:
		return pgx.ReadCommitted, nil
	case IsolationRepeatableRead:
		return pgx.RepeatableRead, nil
	case IsolationSerializable:
		return pgx.Serializable, nil
	}
	return "", core.BadInput("postgres has no isolation level %q (it has: %s, %s, %s)", level, IsolationReadCommitted, IsolationRepeatableRead, IsolationSerializable)
}

// New returns the postgres target.
func New() Target { return Target{} }

// Name returns "postgres".
func (Target) Name() string { return Name }

// Description is one line for `faultline list`.
func (Target) Description() string {
	return "real PostgreSQL at the run's isolation level: idempotent payments (a request id checked before the insert, or a unique constraint), bank transfers that read balances and write them back, registers; a streaming replica to fail over to"
}

// Variants lists check-then-insert (the default) and unique-constraint.
func (Target) Variants() []targets.Choice {
	return []targets.Choice{
		{Name: VariantCheckThenInsert, Description: "SELECT the request id, INSERT when absent, one transaction, no constraint: two deliveries at once both insert (below serializable)", Workloads: []string{WorkloadIdempotency}},
		{Name: VariantUniqueConstraint, Description: "request_id is the primary key, INSERT … ON CONFLICT DO NOTHING: each request is charged at most once", Workloads: []string{WorkloadIdempotency}},
	}
}

// Workloads lists "idempotency" (the default), "bank" and "register".
func (Target) Workloads() []string {
	return []string{WorkloadIdempotency, WorkloadBank, WorkloadRegister}
}

// MaxNodes is the largest --nodes: a primary and one streaming replica.
const MaxNodes = 2

// Layout lays out the pg role: one node (--nodes 1, the default), or a
// primary, n1, and a streaming replica, n2, that copies it at init and
// starts once it serves (--nodes 2), with the failover fault's Promoter.
func (Target) Layout(spec targets.Spec) (targets.Layout, error) {
	if _, err := checkVariant(spec.Variant); err != nil {
		return targets.Layout{}, err
	}
	n := max(spec.Nodes, 1)
	if n > MaxNodes {
		return targets.Layout{}, core.BadInput("postgres runs one node or a primary and a streaming replica (--nodes 1 or 2), got %d", spec.Nodes)
	}
	l := targets.Layout{Roles: []targets.Role{Role(n)}}
	if n > 1 {
		l.Failover = failover
	}
	return l, nil
}

// Role is the pg role of n nodes as this target lays it out: Server on
// one port, ready when Ready says so, the nodes started one after another
// (the first initdb's, the others copy it). Other targets that keep their
// state in PostgreSQL lay out this role too.
func Role(n int) targets.Role {
	return targets.Role{Name: RolePG, Count: n, Program: Server(), Ready: Ready, OnePort: true, Serial: true}
}

// Server is a pg node: postgres from Debian's package on its data folder
// DataDir/pgdata. Before the cluster's first start, the first pg node's
// init makes it with initdb (the superuser "postgres", trust
// authentication, pg_hba.conf lines trusting TCP connections and
// replication from any address); every other node's init, and any node's
// after a reset (targets.Admin.Reset), copies the node that answers as
// primary with pg_basebackup and starts as its streaming replica.
func Server() targets.Server {
	return targets.Server{
		Binary:  "postgres",
		Dirs:    []string{"/usr/lib/postgresql/*/bin"},
		Package: "postgresql",
		User:    User,
		Init:    initCommands,
		Args:    serverArgs,
	}
}

// PGData returns the folder the node's server runs on.
func PGData(cfg targets.NodeConfig) string { return filepath.Join(cfg.DataDir, DataSubdir) }

// initScript makes a pg node's data folder. Its arguments: the folder,
// "1" when the node is the first pg node, the reset marker's path, then
// the addresses at which the node reaches the other pg nodes. The first
// node, on the cluster's first start, runs initdb; otherwise the script
// asks the others which is primary (for at most InitCopyTimeout) and
// copies it with pg_basebackup -R, which makes the copy its streaming
// replica.
const initScript = `set -e
pgdata=$1 first=$2 marker=$3
shift 3
for d in /usr/lib/postgresql/*/bin; do [ -d "$d" ] && PATH=$d:$PATH; done
export PATH PGCONNECT_TIMEOUT=2
if [ "$first" = 1 ] && [ ! -e "$marker" ]; then
	initdb -D "$pgdata" -U ` + User + ` --auth=trust -E UTF8 --locale=C --no-sync
	printf 'host all all all trust\nhost replication all all trust\n' >> "$pgdata/pg_hba.conf"
	exit 0
fi
end=$(( $(date +%s) + ` + initCopySeconds + ` ))
while :; do
	for p in "$@"; do
		h=${p%:*} port=${p##*:}
		if [ "$(psql -h "$h" -p "$port" -U ` + User + ` -d ` + Database + ` -XtAqc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; then
			echo "init: copying the primary at $p"
			exec pg_basebackup -h "$h" -p "$port" -U ` + User + ` -D "$pgdata" -R -X stream -c fast
		fi
	done
	if [ "$(date +%s)" -ge "$end" ]; then
		echo "init: no node among $* answered as primary within ` + initCopySeconds + `s: nothing to copy" >&2
		exit 1
	fi
	sleep 0.2
done`

// initCopySeconds bounds, in seconds, a replica's wait at init for a node
// that answers as primary.
const initCopySeconds = "60"

// initCommands returns the node's init: initScript with its arguments.
func initCommands(cfg targets.NodeConfig) [][]string {
	pgs := cfg.Roles[RolePG]
	first := "0"
	if len(pgs) == 0 || pgs[0] == cfg.Name {
		first = "1"
	}
	argv := []string{"sh", "-c", initScript, "pg-init", PGData(cfg), first, filepath.Join(cfg.DataDir, targets.ResetMarker)}
	for _, other := range pgs {
		if other != cfg.Name {
			argv = append(argv, cfg.Peers[other])
		}
	}
	return [][]string{argv}
}

// serverArgs runs postgres on the node's API address only, with no unix
// socket, fsync and synchronous commit on, and little shared memory.
func serverArgs(cfg targets.NodeConfig) []string {
	host, _, _ := net.SplitHostPort(cfg.APIAddr)
	if host == "" {
		host = "*"
	}
	return []string{
		"-D", PGData(cfg),
		"-p", fmt.Sprint(cfg.APIPort()),
		"-c", "listen_addresses=" + host,
		"-c", "unix_socket_directories=",
		"-c", "fsync=on",
		"-c", "synchronous_commit=on",
		"-c", "full_page_writes=on",
		"-c", "shared_buffers=32MB",
		"-c", "max_connections=200",
	}
}

// Ready returns nil when the postgres server at addr accepts a connection
// as the superuser and answers SELECT 1. It makes one attempt, bounded by
// ctx and by two seconds.
func Ready(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	cfg, err := connConfig(addr, readyTimeout)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres %s: %w", addr, err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("postgres %s: SELECT 1: %w", addr, err)
	}
	if one != 1 {
		return fmt.Errorf("postgres %s: SELECT 1 answered %d", addr, one)
	}
	return nil
}

// ConnConfig is the configuration of a connection to the pg node at addr
// as the superuser, without TLS, giving up connecting after timeout: how
// other targets' nodes reach a node of Role.
func ConnConfig(addr string, timeout time.Duration) (*pgx.ConnConfig, error) {
	return connConfig(addr, timeout)
}

// connConfig is the configuration of a connection to the server at addr
// as the superuser, without TLS, giving up connecting after timeout.
func connConfig(addr string, timeout time.Duration) (*pgx.ConnConfig, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("postgres address %q: %w", addr, err)
	}
	dsn := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable connect_timeout=%d application_name=faultline",
		quoteDSN(host), port, User, Database, max(1, int(timeout.Round(time.Second)/time.Second)))
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres address %q: %w", addr, err)
	}
	cfg.ConnectTimeout = timeout
	// Each try sends its statements as they are; no statement cache that
	// a lost connection could leave half made.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	return cfg, nil
}

// quoteDSN quotes a value of a key=value connection string.
func quoteDSN(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Defaults: one node, five-second operations (room for a charge's
// retries), and the kill fault.
func (Target) Defaults(string) targets.Defaults {
	return targets.Defaults{Nodes: 1, OpTimeout: 5 * time.Second, Nemesis: []string{"kill"}}
}

//go:embed Dockerfile
var dockerfile []byte

// Dockerfile returns postgres's image recipe (its Dockerfile, embedded):
// Debian's postgresql, iptables and iproute2, with faultline.
func (Target) Dockerfile() []byte { return dockerfile }

func checkVariant(v string) (string, error) {
	switch v {
	case "":
		return VariantCheckThenInsert, nil
	case VariantCheckThenInsert, VariantUniqueConstraint:
		return v, nil
	}
	return "", core.BadInput("postgres has no variant %q (it has: %s, %s)", v, VariantCheckThenInsert, VariantUniqueConstraint)
}
