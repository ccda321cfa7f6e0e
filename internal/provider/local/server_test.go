package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/internal/testtargets"
	"github.com/faultline/faultline/nemesis"
)

// TestServerNodes runs real redis-server nodes: init before the first
// start, the servers' own account, readiness by PING, replication through
// the proxied link from replica to primary, a partition of that link by
// role, and a kill and restart of a server.
func TestServerNodes(t *testing.T) {
	testenv.NeedBinary(t, "redis-server", "redis-server")
	cfg := testConfig(t, 1, "")
	cfg.Target = testtargets.RedisPair{}
	if os.Geteuid() == 0 {
		// The test's folders are private (0700): a server running as its
		// own account cannot reach them, and Start says so.
		_, err := Start(t.Context(), cfg)
		if !errors.Is(err, ErrUser) || !strings.Contains(err.Error(), "cannot enter") {
			t.Fatalf("Start in a private folder: %v; want ErrUser", err)
		}
		for d := cfg.Dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { closeAndCheck(t, c) })
	addr := map[string]string{}
	for _, e := range c.Endpoints() {
		addr[e.Name] = e.Addr
	}
	if got := strings.Join(c.Nodes(), " "); got != "primary replica" {
		t.Fatalf("nodes %q", got)
	}
	for _, n := range c.nodes {
		b, err := os.ReadFile(filepath.Join(n.cfg.DataDir, testtargets.InitMarker))
		if err != nil || strings.TrimSpace(string(b)) != "initialised" {
			t.Errorf("%s: init marker %q, %v", n.name, b, err)
		}
		if os.Geteuid() == 0 {
			if uid := procUID(t, n.proc.pid); n.cred == nil || uid != fmt.Sprint(n.cred.Uid) {
				t.Errorf("%s runs as uid %s, want the account redis", n.name, uid)
			}
		}
	}
	layout, err := os.ReadFile(filepath.Join(cfg.Dir, "nodes", "cluster.json"))
	if err != nil || !strings.Contains(string(layout), `"program": "/usr/bin/redis-server"`) && !strings.Contains(string(layout), "redis-server") {
		t.Errorf("cluster.json does not name the server: %s %v", layout, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	set := func(k, v string) {
		t.Helper()
		if err := testtargets.Set(ctx, addr["primary"], k, v); err != nil {
			t.Fatal(err)
		}
	}
	replicated := func(k, v string, within time.Duration) bool {
		return testtargets.Has(ctx, addr["replica"], k, v, within)
	}
	set("a", "1")
	if !replicated("a", "1", 20*time.Second) {
		t.Fatal("the replica never got a=1 through its link to the primary")
	}

	p := &nemesis.Partition{Role: "replica", Against: "primary"}
	if _, err := p.Start(ctx, c, nil); err != nil {
		t.Fatalf("partition: %v", err)
	}
	set("b", "2")
	if replicated("b", "2", time.Second) {
		t.Error("the replica got b=2 across the partition")
	}
	if _, err := p.Stop(ctx, c); err != nil {
		t.Fatal(err)
	}
	if !replicated("b", "2", 30*time.Second) {
		t.Error("the replica never got b=2 after the heal")
	}

	if err := c.Kill(ctx, "replica"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, "replica"); err != nil {
		t.Fatalf("restart of a server node: %v", err)
	}
	set("c", "3")
	if !replicated("c", "3", 30*time.Second) {
		t.Error("the restarted replica never got c=3")
	}
}

// procUID returns the real uid of process pid.
func procUID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	return ""
}
