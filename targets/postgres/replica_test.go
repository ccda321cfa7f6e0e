package postgres

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

// startPair starts a primary and its streaming replica on the local
// provider and closes them when the test ends.
func startPair(t *testing.T) *local.Cluster {
	t.Helper()
	return startNodes(t, VariantUniqueConstraint, 2, 60*time.Second)
}

// exec runs sql on node through admin.
func execOn(t *testing.T, admin targets.Admin, node, sql string, args ...any) {
	t.Helper()
	addr, err := admin.Addr(node)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer closeQuietly(conn)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s on %s: %v", sql, node, err)
	}
}

// waitRow polls node, for at most 20 s, until table t_rep holds id; it
// returns whether it did.
func waitRow(t *testing.T, admin targets.Admin, node string, id int) bool {
	t.Helper()
	addr, err := admin.Addr(node)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		conn, err := dial(ctx, addr)
		if err == nil {
			var n int
			err = conn.QueryRow(ctx, `SELECT count(*) FROM t_rep WHERE id = $1`, id).Scan(&n)
			closeQuietly(conn)
			if err == nil && n == 1 {
				cancel()
				return true
			}
		}
		cancel()
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// TestReplicaFollowsAndFailsOver: with --nodes 2, n2 starts as a streaming
// replica of n1 (what n1 commits shows on n2, which refuses writes); the
// Promoter finds n1 primary, promotes n2, and rebuilds n1 as n2's replica,
// after which n1 holds what only n2 took, has lost what only it took, and
// the reset marker is gone.
func TestReplicaFollowsAndFailsOver(t *testing.T) {
	c := startPair(t)
	admin := lifecycle.Admin(c)
	p := failover(admin)
	if _, ok := p.(nemesis.Rebuilder); !ok {
		t.Fatal("the promoter is no Rebuilder: the failover fault would restart a killed primary as a second one")
	}
	prim, members, err := p.Primary(t.Context())
	if err != nil || prim != "n1" || len(members) != 2 {
		t.Fatalf("Primary = %q %v %v, want n1 of [n1 n2]", prim, members, err)
	}
	execOn(t, admin, "n1", `CREATE TABLE t_rep (id int PRIMARY KEY)`)
	execOn(t, admin, "n1", `INSERT INTO t_rep VALUES (1)`)
	if !waitRow(t, admin, "n2", 1) {
		t.Fatal("the replica never showed the primary's row")
	}
	addr2, _ := admin.Addr("n2")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := dial(ctx, addr2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO t_rep VALUES (99)`); err == nil {
		t.Fatal("the replica took a write")
	}
	closeQuietly(conn)

	// Cut nothing: stop the stream by promoting n2 while n1 still runs,
	// then write on each: n1's write is what a split brain loses.
	if err := p.Promote(t.Context(), "n2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Primary(t.Context()); err == nil {
		t.Fatal("two primaries after the promotion, and Primary did not say so")
	}
	execOn(t, admin, "n1", `INSERT INTO t_rep VALUES (2)`)
	execOn(t, admin, "n2", `INSERT INTO t_rep VALUES (3)`)
	if err := p.Follow(t.Context(), "n1", "n2"); err != nil {
		t.Fatalf("n1 follows n2: %v", err)
	}
	if prim, _, err := p.Primary(t.Context()); err != nil || prim != "n2" {
		t.Fatalf("after the rebuild Primary = %q %v, want n2", prim, err)
	}
	if !waitRow(t, admin, "n1", 3) {
		t.Fatal("the rebuilt n1 lacks the new primary's row")
	}
	addr1, _ := admin.Addr("n1")
	conn, err = dial(ctx, addr1)
	if err != nil {
		t.Fatal(err)
	}
	defer closeQuietly(conn)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM t_rep WHERE id = 2`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the rebuilt n1 still holds its own row: %d %v", n, err)
	}
	cfg, _ := c.NodeConfig("n1")
	if _, err := os.Stat(filepath.Join(cfg.DataDir, targets.ResetMarker)); !os.IsNotExist(err) {
		t.Fatalf("the reset marker is still there: %v", err)
	}
	// Killed, then rebuilt as it is (the failover fault's kill mode).
	if err := c.Kill(t.Context(), "n1"); err != nil {
		t.Fatal(err)
	}
	if err := p.Follow(t.Context(), "n1", "n2"); err != nil {
		t.Fatalf("killed n1 follows n2: %v", err)
	}
	if !waitRow(t, admin, "n1", 3) {
		t.Fatal("n1 rebuilt after a kill lacks the primary's row")
	}
}

// TestMoreThanTwoNodesRefused: postgres lays out at most a primary and one
// replica.
func TestMoreThanTwoNodesRefused(t *testing.T) {
	if _, err := (Target{}).Layout(targets.Spec{Variant: VariantCheckThenInsert, Nodes: 3}); !errors.Is(err, core.ErrBadInput) {
		t.Fatalf("--nodes 3: %v, want bad input", err)
	}
	l, err := Target{}.Layout(targets.Spec{Variant: VariantCheckThenInsert, Nodes: 2})
	if err != nil || l.Failover == nil || l.Roles[0].Count != 2 || !l.Roles[0].Serial {
		t.Fatalf("--nodes 2: %+v %v", l, err)
	}
	if l, _ := (Target{}).Layout(targets.Spec{Variant: VariantCheckThenInsert, Nodes: 1}); l.Failover != nil {
		t.Fatal("one node has a failover")
	}
}
