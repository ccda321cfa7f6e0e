package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/demokv"
)

func TestStartServesAndCloseRemovesEverything(t *testing.T) {
	eng := engine(t)
	cfg := testConfig(t, eng, 3, "")
	begin := time.Now()
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("3 nodes started in %v", time.Since(begin).Round(time.Millisecond))
	closed := false
	t.Cleanup(func() {
		if !closed {
			c.Close(context.Background())
		}
	})

	// Every container: labelled, NET_ADMIN only, API published on loopback.
	for _, name := range c.Nodes() {
		id, _ := c.ContainerID(name)
		in, err := eng.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ct := in.Container
		if l := ct.Config.Labels; l[LabelFaultline] != "1" || l[LabelRun] != cfg.RunID || l[LabelNode] != name {
			t.Errorf("%s: labels %v", name, l)
		}
		if ct.HostConfig.Privileged {
			t.Errorf("%s: privileged", name)
		}
		if !slices.Equal(ct.HostConfig.CapAdd, []string{"CAP_NET_ADMIN"}) && !slices.Equal(ct.HostConfig.CapAdd, []string{"NET_ADMIN"}) {
			t.Errorf("%s: CapAdd %v, want NET_ADMIN only", name, ct.HostConfig.CapAdd)
		}
		for _, b := range ct.NetworkSettings.Ports[apiPort] {
			if b.HostIP.String() != "127.0.0.1" {
				t.Errorf("%s: API published on %v", name, b.HostIP)
			}
		}
		if _, ok := ct.NetworkSettings.Networks[c.Network()]; !ok || len(ct.NetworkSettings.Networks) != 1 {
			t.Errorf("%s: networks %v, want only %s", name, ct.NetworkSettings.Networks, c.Network())
		}
	}
	nw, err := eng.NetworkInspect(t.Context(), c.Network(), client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nw.Network.Labels[LabelFaultline] != "1" || nw.Network.Labels[LabelRun] != cfg.RunID {
		t.Errorf("network labels %v", nw.Network.Labels)
	}

	// Clients reach every node through its proxy, and writes replicate.
	addrs := c.ClientAddrs()
	if err := newKV(addrs[0], 5*time.Second).write("k", 42); err != nil {
		t.Fatal(err)
	}
	for i, a := range addrs {
		k := newKV(a, 5*time.Second)
		if !eventually(10*time.Second, func() bool { v, err := k.read("k"); return err == nil && v == 42 }) {
			t.Errorf("node %s never read the replicated write", c.Nodes()[i])
		}
	}

	// The layout and the logs are in the run folder.
	l, err := ReadLayout(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Provider != "docker" || l.RunID != cfg.RunID || l.Network.Name != c.Network() || l.Network.ID == "" || len(l.Nodes) != 3 || len(l.Links) != 3 {
		t.Errorf("layout %+v", l)
	}
	for i, n := range l.Nodes {
		id, _ := c.ContainerID(n.Name)
		if n.ContainerID != id || n.IP == "" || n.HostAPIAddr == "" || l.Links[i].Addr != addrs[i] {
			t.Errorf("layout node %+v", n)
		}
	}
	for _, name := range c.Nodes() {
		if !eventually(5*time.Second, func() bool {
			b, _ := os.ReadFile(filepath.Join(cfg.Dir, "nodes", name, "node.log"))
			return strings.Contains(string(b), "node starting")
		}) {
			t.Errorf("%s: node.log lacks the node's output", name)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	begin = time.Now()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	t.Logf("closed in %v", time.Since(begin).Round(time.Millisecond))
	checkNothingLeft(t, eng, cfg.RunID)
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Kill(ctx, "n1"); !errors.Is(err, nemesis.ErrClosed) {
		t.Errorf("Kill after Close: %v, want nemesis.ErrClosed", err)
	}
	if err := c.HealAll(ctx); !errors.Is(err, nemesis.ErrClosed) {
		t.Errorf("HealAll after Close: %v, want nemesis.ErrClosed", err)
	}
	for _, a := range addrs {
		if err := newKV(a, time.Second).write("k", 1); err == nil {
			t.Errorf("proxy %s still serves after Close", a)
		}
	}
}

// bogusVariant is demo-kv with one more variant, which the node inside
// the container (plain demo-kv) rejects at once.
type bogusVariant struct{ demokv.Target }

func (bogusVariant) Variants() []targets.Choice {
	return append(demokv.Target{}.Variants(), targets.Choice{Name: "bogus", Description: "exits at once"})
}

func TestFailedStartRemovesEverything(t *testing.T) {
	eng := engine(t)
	cfg := testConfig(t, eng, 3, "bogus")
	cfg.Target = bogusVariant{}
	begin := time.Now()
	c, err := Start(t.Context(), cfg)
	if err == nil {
		c.Close(context.Background())
		t.Fatal("Start succeeded with nodes that exit at once")
	}
	t.Logf("Start failed after %v: %v", time.Since(begin).Round(time.Millisecond), err)
	for _, want := range []string{"exited", "bogus"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
	checkNothingLeft(t, eng, cfg.RunID)
}

func TestStartFailsOnAMissingImage(t *testing.T) {
	eng := engine(t)
	cfg := testConfig(t, eng, 2, "")
	cfg.Image = "faultline-no-such-image:" + strings.ToLower(cfg.RunID)
	_, err := Start(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.Image) {
		t.Fatalf("Start with a missing image: %v", err)
	}
	checkNothingLeft(t, eng, cfg.RunID)
}

func TestStartCancelledRemovesEverything(t *testing.T) {
	eng := engine(t)
	cfg := testConfig(t, eng, 2, "")
	ctx, cancel := context.WithCancel(t.Context())
	// Cancel as soon as the first container exists.
	go func() {
		defer cancel()
		eventually(30*time.Second, func() bool {
			cs, err := eng.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: labelFilter(LabelRun, cfg.RunID)})
			return err == nil && len(cs.Items) > 0
		})
	}()
	c, err := Start(ctx, cfg)
	if err == nil {
		c.Close(context.Background())
		t.Skip("the cluster started before the cancellation landed")
	}
	t.Logf("Start: %v", err)
	checkNothingLeft(t, eng, cfg.RunID)
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Target: demokv.New(), Nodes: 3, Dir: "x", Image: "img"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Target = nil }, "no target"},
		{func(c *Config) { c.Nodes = 0 }, "at least 1"},
		{func(c *Config) { c.Nodes = MaxNodes + 1 }, "at most 32 nodes"},
		{func(c *Config) { c.Dir = "" }, "run folder"},
		{func(c *Config) { c.Image = "" }, "image"},
		{func(c *Config) { c.RunID = "bad id" }, "run id"},
		{func(c *Config) { c.RunID = "-x" }, "run id"},
		{func(c *Config) { c.ReadyTimeout = -1 }, "negative"},
		{func(c *Config) { c.Variant = "nope" }, "unsafe, safe"},
	} {
		c := ok
		tc.mut(&c)
		err := c.Validate()
		if err == nil {
			_, err = Plan(c) // the layout's size is the plan's to check
		}
		if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want bad input about %q", c, err, tc.want)
		}
	}
	if id := NewRunID(time.Now()); !runIDPattern.MatchString(id) {
		t.Errorf("NewRunID gave %q", id)
	}
}
