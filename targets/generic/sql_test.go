package generic_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/generic"
	"github.com/faultline/faultline/targets/postgres"
	"github.com/faultline/faultline/workloads/idempotency"
	"github.com/faultline/faultline/workloads/register"
)

// startPostgres starts one PostgreSQL server as the postgres target lays
// it out (initdb, trust authentication, as the account postgres when the
// test runs as root) with the local provider, stops it when the test
// ends, and returns the port where clients reach it.
func startPostgres(t *testing.T) string {
	t.Helper()
	_, err := postgres.Server().Find()
	testenv.Need(t, "postgres", err, "Debian package postgresql; make test installs it")
	dir := t.TempDir()
	// The server's account must reach its data folder under the test's
	// private temporary folder.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := local.Start(t.Context(), local.Config{
		Target: postgres.Target{}, Nodes: 1, Dir: dir, ReadyTimeout: 30 * time.Second, StopGrace: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("stop postgres: %v", err)
		}
	})
	_, port, err := net.SplitHostPort(c.Endpoints()[0].Addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

var dbNodes = []targets.Endpoint{{Name: "db", Role: "db", Addr: "127.0.0.1"}}

// dsn is the connection string of the server on port.
func dsn(port string) string {
	return "postgres://" + postgres.User + "@{host}:" + port + "/" + postgres.Database + "?sslmode=disable&connect_timeout=5"
}

// registerSQL is a register client over table, made by setup.
func registerSQL(port, table string) generic.Config {
	return generic.Config{Name: "db", Services: []string{"db"}, SQL: &generic.SQL{
		DSN:   dsn(port),
		Setup: []string{"CREATE TABLE IF NOT EXISTS " + table + " (key text PRIMARY KEY, value bigint NOT NULL CHECK (value < 1000000))"},
		Read:  &generic.SQLStatement{Statement: "SELECT value FROM " + table + " WHERE key = $1", Params: []string{"key"}},
		Write: &generic.SQLStatement{Node: "db", Statement: "INSERT INTO " + table + " (key, value) VALUES ($2, $1) ON CONFLICT (key) DO UPDATE SET value = $1",
			Params: []string{"value", "key"}},
		CAS: &generic.SQLStatement{Statement: "UPDATE " + table + " SET value = $3 WHERE key = $1 AND value = $2", Params: []string{"key", "old", "new"}},
	}}
}

// TestSQL runs the SQL client against one real PostgreSQL server: its
// operations and their outcomes, a register history checked valid, and
// the idempotency workload over a ledger with and without a unique
// request id.
func TestSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	port := startPostgres(t)

	t.Run("operations", func(t *testing.T) {
		tg := newTarget(t, registerSQL(port, "ops"))
		do := func(op core.Op) core.Op { return invoke(t, tg, dbNodes, 0, op, 5*time.Second) }
		for i, st := range []struct {
			op   core.Op
			want core.Op
		}{
			{core.Op{F: "read", Key: "k0"}, core.Op{Type: core.OK}},
			{core.Op{F: "cas", Key: "k0", Value: [2]int64{1, 2}}, core.Op{Type: core.Fail, Value: [2]int64{1, 2}, Error: "cas: no row holds the old value"}},
			{core.Op{F: "write", Key: "k0", Value: int64(1)}, core.Op{Type: core.OK, Value: int64(1)}},
			{core.Op{F: "read", Key: "k0"}, core.Op{Type: core.OK, Value: int64(1)}},
			{core.Op{F: "cas", Key: "k0", Value: [2]int64{1, 2}}, core.Op{Type: core.OK, Value: [2]int64{1, 2}}},
			{core.Op{F: "read", Key: "k0"}, core.Op{Type: core.OK, Value: int64(2)}},
		} {
			got := do(st.op)
			st.want.F, st.want.Key, st.want.Node = st.op.F, st.op.Key, "db"
			if got != st.want {
				t.Errorf("step %d: %+v, want %+v", i, got, st.want)
			}
		}
		// The server's error rolls the statement back: fail; unless the
		// file names its SQLSTATE (23514, check_violation) as unknown.
		if got := do(core.Op{F: "write", Key: "k0", Value: int64(5000000)}); got.Type != core.Fail || !strings.Contains(got.Error, "SQLSTATE 23514") {
			t.Errorf("write the server refused: %+v", got)
		}
		cfg := registerSQL(port, "ops")
		cfg.SQL.InfoSQLStates = []string{"23"}
		if got := invoke(t, newTarget(t, cfg), dbNodes, 0, core.Op{F: "write", Key: "k0", Value: int64(5000000)}, 5*time.Second); got.Type != core.Info {
			t.Errorf("write refused with a SQLSTATE of info_sqlstates: %+v", got)
		}
		// Sent, and still running when the time is up: unknown.
		cfg = registerSQL(port, "ops")
		cfg.SQL.Write.Statement = "SELECT pg_sleep(5) WHERE $1::bigint IS NOT NULL AND $2::text IS NOT NULL"
		if got := invoke(t, newTarget(t, cfg), dbNodes, 0, core.Op{F: "write", Key: "k0", Value: int64(3)}, 300*time.Millisecond); got.Type != core.Info || got.Error != "timeout" {
			t.Errorf("write that timed out: %+v; want info, timeout", got)
		}
		// A read that is not of one integer fails.
		cfg = registerSQL(port, "ops")
		cfg.SQL.Read.Statement = "SELECT 'x' || $1::text"
		if got := invoke(t, newTarget(t, cfg), dbNodes, 0, core.Op{F: "read", Key: "k0"}, 5*time.Second); got.Type != core.Fail || !strings.Contains(got.Error, "is not an integer") {
			t.Errorf("read of text: %+v", got)
		}
		cfg.SQL.Read.Statement = "SELECT value FROM ops WHERE key <> $1 OR true"
		do(core.Op{F: "write", Key: "k1", Value: int64(7)})
		if got := invoke(t, newTarget(t, cfg), dbNodes, 0, core.Op{F: "read", Key: "k0"}, 5*time.Second); got.Type != core.Fail || !strings.Contains(got.Error, "returned 2 rows") {
			t.Errorf("read of two rows: %+v", got)
		}
		// Setup that fails: nothing else is sent, and it is tried again.
		cfg = registerSQL(port, "ops")
		cfg.SQL.Setup = []string{"CREATE TABLE IF NOT EXISTS ops (key text PRIMARY KEY)", "THIS IS NOT SQL"}
		if got := invoke(t, newTarget(t, cfg), dbNodes, 0, core.Op{F: "write", Key: "k0", Value: int64(3)}, 5*time.Second); got.Type != core.Fail ||
			!strings.HasPrefix(got.Error, "not sent: setup: ") || !strings.Contains(got.Error, "syntax error") {
			t.Errorf("write after a failed setup: %+v", got)
		}
		// Nobody listens: not sent.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		if got := invoke(t, newTarget(t, registerSQL(closed, "ops")), dbNodes, 0, core.Op{F: "write", Key: "k0", Value: int64(3)}, 5*time.Second); got.Type != core.Fail || !strings.HasPrefix(got.Error, "not sent: ") {
			t.Errorf("write to a closed port: %+v", got)
		}
	})

	t.Run("register checked", func(t *testing.T) {
		tg := newTarget(t, registerSQL(port, "registers_checked"))
		h, res := drive(t, tg, register.Workload{}, dbNodes, 3, 400, 4)
		if r := verdict(t, res); r.Verdict != core.Valid {
			t.Fatalf("verdict %s: %s", r.Verdict, r.Summary)
		}
		reads, values := counts(h, "read")
		cas, _ := counts(h, "cas")
		if values == 0 || cas[core.OK] == 0 || cas[core.Fail] == 0 || reads[core.Fail]+reads[core.Info] != 0 {
			t.Fatalf("reads %v (%d with a value), cas %v: want values read, cas ok and failed, no failed read", reads, values, cas)
		}
	})

	for _, tc := range []struct {
		name, schema, charge string
		want                 core.Verdict
	}{
		{"idempotency unique", "CREATE TABLE IF NOT EXISTS ledger_u (seq bigserial, request_id text PRIMARY KEY, account text NOT NULL, amount bigint NOT NULL)",
			"INSERT INTO ledger_u (request_id, account, amount) VALUES ($1, $2, $3) ON CONFLICT (request_id) DO NOTHING", core.Valid},
		{"idempotency naive", "CREATE TABLE IF NOT EXISTS ledger_n (seq bigserial PRIMARY KEY, request_id text NOT NULL, account text NOT NULL, amount bigint NOT NULL)",
			"INSERT INTO ledger_n (request_id, account, amount) VALUES ($1, $2, $3)", core.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := strings.Fields(tc.schema)[5]
			tg := newTarget(t, generic.Config{Name: "db", Services: []string{"db"}, SQL: &generic.SQL{
				DSN: dsn(port), Setup: []string{tc.schema},
				Charge: &generic.SQLStatement{Statement: tc.charge, Params: []string{"request_id", "key", "amount"}},
				Ledger: &generic.SQLStatement{Statement: "SELECT request_id, amount FROM " + table + " WHERE account = $1 ORDER BY seq", Params: []string{"key"}},
			}})
			h, res := drive(t, tg, idempotency.Workload{}, dbNodes, 3, 150, 4)
			r := verdict(t, res)
			if r.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s: %s", r.Verdict, tc.want, r.Summary)
			}
			charges, _ := counts(h, "charge")
			if d, _ := r.Details.(*idempotency.Details); charges[core.OK] == 0 || d == nil || d.Rows == 0 || d.Redelivered == 0 {
				t.Fatalf("charges %v, details %+v: want ok charges, rows read back, requests delivered twice", charges, r.Details)
			}
		})
	}
}
