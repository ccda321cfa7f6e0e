package compose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/docker"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/internal/testtargets/composestack"
	"github.com/faultline/faultline/nemesis"
)

// The tests below need a Docker engine and Compose (docker-compose, or
// docker compose): under CI they run, never skip. Each brings up a stack
// of its own (composestack.Up: three services of a server alone in an
// image FROM scratch) and takes it down at its end.

// startOn starts a cluster on stack, with its run folder, and registers,
// for the end of the test, its Close and the check that the stack is as
// it was found.
func startOn(t *testing.T, s *composestack.Stack) (*Cluster, string) {
	t.Helper()
	testenv.NeedDocker(t)
	runID := "fltest-" + docker.NewRunID(time.Now())
	dir := t.TempDir()
	begin := time.Now()
	c, err := Start(t.Context(), Config{
		Project: s.Project, Services: composestack.Services, Image: composestack.NodeImage(t), Dir: dir,
		RunID: runID, Engine: s.Engine, ReadyTimeout: 30 * time.Second,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("cluster started in %v", time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		begin := time.Now()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		t.Logf("closed in %v", time.Since(begin).Round(time.Millisecond))
		s.CheckAsFound(t, runID)
	})
	return c, dir
}

// reachability returns, for every ordered pair of services, whether the
// first's server connects to the second's ("a->b" when it does, "a-/>b"
// when the packets are dropped).
func reachability(t *testing.T, s *composestack.Stack) string {
	t.Helper()
	var out []string
	for _, from := range composestack.Services {
		for _, to := range composestack.Services {
			if from == to {
				continue
			}
			ok, err := s.Reach(t.Context(), from, to)
			if err != nil {
				t.Fatalf("ask %s to dial %s: %v", from, to, err)
			}
			arrow := "->"
			if !ok {
				arrow = "-/>"
			}
			out = append(out, from+arrow+to)
		}
	}
	return strings.Join(out, " ")
}

// dialFromHere reports whether a connection from the test to service's
// server opens within 300ms.
func dialFromHere(t *testing.T, s *composestack.Stack, service string) bool {
	t.Helper()
	n, err := s.Node(t.Context(), service)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", netip.AddrPortFrom(n.IP, composestack.Port).String(), 300*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func TestPartitionOfAScratchStack(t *testing.T) {
	s := composestack.Up(t, "partition")
	c, _ := startOn(t, s)
	all := "a->b a->c b->a b->c c->a c->b"
	if got := reachability(t, s); got != all {
		t.Fatalf("before any fault: %s", got)
	}
	if eps := c.Endpoints(); len(eps) != 3 || eps[0].Name != "a" || eps[0].Role != "a" || strings.Contains(eps[0].Addr, ":") {
		t.Fatalf("endpoints %+v, want a, b, c with their addresses and no port", eps)
	}

	// Node a cut off from b and c, both ways; b and c still talk.
	if err := c.Partition(t.Context(), nemesis.Isolate(c.Nodes(), "a")); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	if got, want := reachability(t, s), "a-/>b a-/>c b-/>a b->c c-/>a c->b"; got != want {
		t.Errorf("a isolated: %s, want %s", got, want)
	}
	// A new partition replaces it in place: the bridge of b between a and c.
	if err := c.Partition(t.Context(), nemesis.Grudge{"a": {"c"}, "c": {"a"}}); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	if got, want := reachability(t, s), "a->b a-/>c b->a b->c c-/>a c->b"; got != want {
		t.Errorf("a and c cut: %s, want %s", got, want)
	}
	// The clients cut off from b: the controller's packets are dropped
	// there, node-to-node links stay up.
	if err := c.Partition(t.Context(), nemesis.Grudge{nemesis.Clients: {"b"}, "b": {nemesis.Clients}}); err != nil {
		t.Fatalf("Partition of the clients: %v", err)
	}
	if dialFromHere(t, s, "b") || !dialFromHere(t, s, "a") {
		t.Errorf("clients cut from b: from here b answers %v, a answers %v; want false, true", dialFromHere(t, s, "b"), dialFromHere(t, s, "a"))
	}
	for _, p := range [][2]string{{"a", "b"}, {"c", "b"}} {
		if ok, err := s.Reach(t.Context(), p[0], p[1]); err != nil || !ok {
			t.Errorf("clients cut from b: %s does not reach b (%v)", p[0], err)
		}
	}
	if err := c.HealPartition(t.Context()); err != nil {
		t.Fatalf("HealPartition: %v", err)
	}
	if got := reachability(t, s); got != all || !dialFromHere(t, s, "b") {
		t.Errorf("healed: %s, b from here %v", got, dialFromHere(t, s, "b"))
	}
	// Loss: a share of the packets between nodes; the chains hold it
	// until ClearLoss.
	if err := c.SetLoss(t.Context(), 0.5); err != nil {
		t.Fatalf("SetLoss: %v", err)
	}
	if rules := s.Chains(t, "b"); !strings.Contains(strings.Join(rules, "\n"), "--probability 0.5") {
		t.Errorf("loss rules in b: %v", rules)
	}
	if err := c.ClearLoss(t.Context()); err != nil {
		t.Fatalf("ClearLoss: %v", err)
	}
	if err := c.HealAll(t.Context()); err != nil {
		t.Fatalf("HealAll: %v", err)
	}
}

func TestKillRestartsAndPauseResumes(t *testing.T) {
	s := composestack.Up(t, "kill")
	c, dir := startOn(t, s)
	ctx := t.Context()
	before, err := s.Node(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// a has a healthcheck: Restart returns once it is healthy again.
	if err := c.Kill(ctx, "a"); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if n, _ := s.Node(ctx, "a"); n.Running {
		t.Fatalf("a still runs after Kill: %+v", n)
	}
	if err := c.Kill(ctx, "a"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("killing a killed node: %v", err)
	}
	begin := time.Now()
	if err := c.Restart(ctx, "a"); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	after, err := s.Node(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !after.Running || after.Health != "healthy" || after.StartedAt == before.StartedAt || after.IP != before.IP {
		t.Fatalf("after Restart a is %+v, was %+v: want running, healthy, started anew at its address", after, before)
	}
	t.Logf("a restarted and healthy in %v", time.Since(begin).Round(time.Millisecond))
	// The node's output since the run began is in its log: the restarted
	// server's first line among it.
	log := filepath.Join(dir, "nodes", "a", "node.log")
	testenv.Eventually(t, 10*time.Second, "a's log holds its restart", func() error {
		b, err := os.ReadFile(log)
		if err == nil && !strings.Contains(string(b), "server: listening") {
			err = fmt.Errorf("a's log: %q", b)
		}
		return err
	})
	if l, err := ReadLayout(dir); err != nil || len(l.Nodes) != 3 || l.Nodes[0].Helper != "faultline-"+c.RunID()+"-a-2" || l.Nodes[0].IP != after.IP.String() {
		t.Errorf("cluster.json after a's restart: %+v, %v; want a's second helper and its address", l, err)
	}
	// The new namespace got the fault state: a partition cuts a again.
	if err := c.Partition(ctx, nemesis.Isolate(c.Nodes(), "a")); err != nil {
		t.Fatalf("Partition after a restart: %v", err)
	}
	if ok, _ := s.Reach(ctx, "a", "b"); ok {
		t.Error("a restarted node carries traffic across a partition")
	}
	if err := c.HealPartition(ctx); err != nil {
		t.Fatal(err)
	}

	if err := c.Pause(ctx, "c"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if n, _ := s.Node(ctx, "c"); !n.Paused {
		t.Fatalf("c is not paused: %+v", n)
	}
	// Rules change in a paused node too: its helper is not paused.
	if err := c.Partition(ctx, nemesis.Isolate(c.Nodes(), "c")); err != nil {
		t.Fatalf("Partition with c paused: %v", err)
	}
	if err := c.Resume(ctx, "c"); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if ok, _ := s.Reach(ctx, "c", "a"); ok {
		t.Error("c resumed carries traffic across the partition set while it was paused")
	}

	// Leave faults of every kind for HealAll: b paused, a killed, c cut.
	if err := c.Pause(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.HealAll(ctx); err != nil {
		t.Fatalf("HealAll: %v", err)
	}
	if err := s.Pristine(ctx); err != nil {
		t.Fatalf("after HealAll: %v", err)
	}
	if got := reachability(t, s); got != "a->b a->c b->a b->c c->a c->b" {
		t.Fatalf("after HealAll: %s", got)
	}
	if err := c.Reset(ctx, "a"); !errors.Is(err, nemesis.ErrUnsupported) {
		t.Errorf("Reset: %v", err)
	}
}

// TestStartRefusesWhatItCannotRunOn: a project without containers, a
// service without any, a paused node: bad input, one line, and nothing
// created.
func TestStartRefusesWhatItCannotRunOn(t *testing.T) {
	s := composestack.Up(t, "refuse")
	ctx := t.Context()
	try := func(project string, services []string, want string) {
		t.Helper()
		runID := "fltest-" + docker.NewRunID(time.Now())
		c, err := Start(ctx, Config{Project: project, Services: services, Image: composestack.NodeImage(t), RunID: runID, Engine: s.Engine})
		if err == nil {
			c.Close(context.Background())
			t.Fatalf("Start on %s %v succeeded, want %q", project, services, want)
		}
		if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Start on %s %v: %v; want one bad-input line with %q", project, services, err, want)
		}
		if left, _ := s.Labelled(ctx, runID); len(left) > 0 {
			t.Errorf("a refused start left %v", left)
		}
	}
	try(s.Project+"-none", composestack.Services, "has no containers")
	try(s.Project, []string{"a", "d"}, "service d has no containers (services with containers: a, b, c)")
	n, err := s.Node(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Engine.ContainerPause(ctx, n.ID, client.ContainerPauseOptions{}); err != nil {
		t.Fatal(err)
	}
	try(s.Project, composestack.Services, "is paused")
	if _, err := s.Engine.ContainerUnpause(ctx, n.ID, client.ContainerUnpauseOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "c runs again", func() error {
		if n, err := s.Node(ctx, "c"); err != nil || !n.Running || n.Paused {
			return fmt.Errorf("c: %+v %v", n, err)
		}
		return nil
	})
}
