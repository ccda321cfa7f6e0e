package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/idempotency"
)

// TestLayout: one pg node running postgres as the account postgres, for
// each variant; an unknown variant is bad input naming the variants.
func TestLayout(t *testing.T) {
	for _, v := range []string{"", VariantCheckThenInsert, VariantUniqueConstraint} {
		nodes, err := targets.Plan(Target{}, targets.Spec{Variant: v, Nodes: 1})
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if len(nodes) != 1 || nodes[0].Name != "n1" || nodes[0].Role.Name != RolePG || !nodes[0].Role.OnePort || nodes[0].Role.Ready == nil {
			t.Fatalf("%q: nodes %+v", v, nodes)
		}
		s, ok := nodes[0].Role.Program.(targets.Server)
		if !ok || s.Binary != "postgres" || s.Package != "postgresql" || s.User != "postgres" ||
			!slices.Equal(s.Dirs, []string{"/usr/lib/postgresql/*/bin"}) || s.Init == nil {
			t.Fatalf("%q: program %+v", v, nodes[0].Role.Program)
		}
	}
	_, err := Target{}.Layout(targets.Spec{Variant: "serializable"})
	if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), "check-then-insert, unique-constraint") {
		t.Fatalf("unknown variant: %v", err)
	}
	if got := targets.VariantNames(Target{}); !slices.Equal(got, []string{VariantCheckThenInsert, VariantUniqueConstraint}) {
		t.Fatalf("variants %v", got)
	}
	d := Target{}.Defaults(VariantUniqueConstraint)
	if d.Nodes != 1 || d.OpTimeout != 5*time.Second || !slices.Equal(d.Nemesis, []string{"kill"}) {
		t.Fatalf("defaults %+v", d)
	}
}

// TestServerArgsAndInit: the init script makes DataDir/pgdata with initdb
// (the superuser postgres, trust authentication, pg_hba.conf lines
// trusting TCP and replication from anywhere) on the first node's first
// start, and otherwise copies the primary among the node's peers with
// pg_basebackup; the server runs on that folder, on the API address's host
// and port only, without a unix socket, with fsync on.
func TestServerArgsAndInit(t *testing.T) {
	cfg := targets.NodeConfig{Name: "n1", Role: RolePG, APIAddr: "10.1.2.3:5544", DataDir: "/r/nodes/n1/data"}
	s := Server()
	args := strings.Join(s.Args(cfg), " ")
	for _, want := range []string{"-D /r/nodes/n1/data/pgdata ", "-p 5544 ", "-c listen_addresses=10.1.2.3 ",
		"-c unix_socket_directories= ", "-c fsync=on ", "-c synchronous_commit=on "} {
		if !strings.Contains(args+" ", want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if args := strings.Join(s.Args(targets.NodeConfig{APIAddr: ":5432", DataDir: "/d"}), " "); !strings.Contains(args, "listen_addresses=* ") {
		t.Errorf("no host: args %q; want every address", args)
	}
	init := s.Init(cfg)
	if len(init) != 1 || len(init[0]) != 7 || init[0][0] != "sh" || init[0][1] != "-c" {
		t.Fatalf("init %q; want one sh -c script", init)
	}
	script := init[0][2]
	for _, want := range []string{`initdb -D "$pgdata" -U postgres --auth=trust`, "host all all all trust", "host replication all all trust",
		`[ ! -e "$marker" ]`, "pg_is_in_recovery()", `pg_basebackup -h "$h" -p "$port" -U postgres -D "$pgdata" -R`} {
		if !strings.Contains(script, want) {
			t.Errorf("init script lacks %q", want)
		}
	}
	if got := init[0][4:]; !slices.Equal(got, []string{"/r/nodes/n1/data/pgdata", "1", "/r/nodes/n1/data/" + targets.ResetMarker}) {
		t.Errorf("a lone node's init arguments %q", got)
	}
	// The second node of a pair copies the first, reached through its link.
	cfg2 := targets.NodeConfig{Name: "n2", Role: RolePG, APIAddr: "10.1.2.4:5545", DataDir: "/r/nodes/n2/data",
		Roles: map[string][]string{RolePG: {"n1", "n2"}}, Peers: map[string]string{"n1": "127.0.0.1:7001"}}
	if got := s.Init(cfg2)[0][4:]; !slices.Equal(got, []string{"/r/nodes/n2/data/pgdata", "0", "/r/nodes/n2/data/" + targets.ResetMarker, "127.0.0.1:7001"}) {
		t.Errorf("the replica's init arguments %q", got)
	}
	if init[0][3] != "pg-init" {
		t.Errorf("$0 of the init script %q", init[0][3])
	}
}

// TestDockerfile: the embedded recipe installs Debian's postgresql (without
// its default cluster, postgres and initdb linked onto PATH), the network
// tools and faultline, and labels the image for this target.
func TestDockerfile(t *testing.T) {
	df := string(Target{}.Dockerfile())
	for _, want := range []string{"ARG BASE", "FROM ${BASE}", "postgresql iptables iproute2", "create_main_cluster = false", "/usr/local/bin/;",
		"COPY faultline /usr/local/bin/faultline", "ARG INPUTS", "faultline.target=postgres", "faultline.inputs=${INPUTS}"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// TestNewClientRefuses: a workload without a client, an unknown
// variant and a cluster without a pg node are refused; the first two as
// bad input naming what there is.
func TestNewClientRefuses(t *testing.T) {
	eps := []targets.Endpoint{{Name: "n1", Role: RolePG, Addr: "127.0.0.1:1"}}
	_, err := Target{}.NewClient(targets.ClientConfig{Workload: "lock", Nodes: eps})
	if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), `workload "lock" (it has: idempotency, `) {
		t.Errorf("lock: %v", err)
	}
	_, err = Target{}.NewClient(targets.ClientConfig{Workload: WorkloadIdempotency, Variant: "nope", Nodes: eps})
	if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), `no variant "nope"`) {
		t.Errorf("unknown variant: %v", err)
	}
	if _, err = (Target{}).NewClient(targets.ClientConfig{Workload: WorkloadIdempotency}); err == nil {
		t.Errorf("no node: no error")
	}
}

// TestCommitOutcome: a commit the server refused with an ERROR, or
// answered with ROLLBACK, was not applied; a timeout, a lost connection
// or a FATAL
// error leave the outcome unknown. (TestCommitLost cuts real connections
// at the commit.)
func TestCommitOutcome(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want outcome
	}{
		{"none", nil, applied},
		{"serialization failure", &pgconn.PgError{Severity: "ERROR", Code: "40001", Message: "could not serialize access"}, notApplied},
		{"rolled back", pgx.ErrTxCommitRollback, notApplied},
		{"wrapped error", fmt.Errorf("commit: %w", &pgconn.PgError{Severity: "ERROR", Code: "23505"}), notApplied},
		{"fatal", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection"}, unknown},
		{"deadline", context.DeadlineExceeded, unknown},
		{"eof", io.ErrUnexpectedEOF, unknown},
		{"reset", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, unknown},
	} {
		if got := commitOutcome(tc.err); got != tc.want {
			t.Errorf("%s (%v): %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestDescribe: a try's error is described by its step and "timeout", or
// by the server's message and SQLSTATE.
func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("commit: %w", context.DeadlineExceeded), "commit: timeout"},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("insert: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection"}), "insert: terminating connection (SQLSTATE 57P01)"},
		{errors.New("connect: refused"), "connect: refused"},
	} {
		if got := describe(tc.err); got != tc.want {
			t.Errorf("describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// deadServer returns the address of a port nothing listens on.
func deadServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentServer returns the address of a server that accepts connections
// and never answers, and closes it when the test ends.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestChargeWithoutServer: with nothing listening, and with a server that
// never answers, a charge makes every one of its tries (each fails before
// anything of the charge is sent) and completes fail, within its context;
// its value lists each try's error.
func TestChargeWithoutServer(t *testing.T) {
	for _, tc := range []struct {
		name, addr, err string
	}{
		{"refused", deadServer(t), "connect: "},
		{"silent", silentServer(t), "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClient(t, VariantUniqueConstraint, tc.addr, 1)
			start := time.Now()
			op := charge(t, cl, "a0", "r1", 5, 1500*time.Millisecond)
			v, _ := op.Value.(idempotency.ChargeResult)
			if op.Type != core.Fail || v.Attempts != 3 || len(v.Errors) != 3 {
				t.Fatalf("%s %+v %q; want fail after 3 tries", op.Type, op.Value, op.Error)
			}
			for _, e := range v.Errors {
				if !strings.Contains(e, tc.err) {
					t.Errorf("try error %q lacks %q", e, tc.err)
				}
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the charge took %v past its 1.5s context", took)
			}
			if err := v.Validate(op.Type); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestChargeRefusesBadValues: a charge without a valid request, without an
// account, or an unknown operation fails at once, and a ledger read with a
// bad page too.
func TestChargeRefusesBadValues(t *testing.T) {
	cl := newClient(t, VariantCheckThenInsert, deadServer(t), 1)
	for _, op := range []core.Op{
		{F: idempotency.Charge, Key: "a0", Value: "r1"},
		{F: idempotency.Charge, Key: "a0", Value: idempotency.ChargeRequest{RequestID: "r1"}},
		{F: idempotency.Charge, Value: idempotency.ChargeRequest{RequestID: "r1", Amount: 1}},
		{F: idempotency.Ledger, Key: "a0", Value: idempotency.LedgerRead{From: 0, Count: 0}},
		{F: "refund", Key: "a0"},
	} {
		got := cl.Invoke(t.Context(), op)
		if got.Type != core.Fail || got.Error == "" {
			t.Errorf("%+v: %s %q; want fail", op, got.Type, got.Error)
		}
	}
}
