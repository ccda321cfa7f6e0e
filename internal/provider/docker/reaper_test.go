package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/images"
	"github.com/faultline/faultline/targets/demokv"
)

// envReaperChild makes the test binary a controller that starts a
// cluster, pauses a node, says "ready" on stdout and waits to be killed.
const envReaperChild = "FAULTLINE_TEST_REAPER_CHILD"

// reapDeadline is how soon after its controller's death a run must be
// gone.
const reapDeadline = 20 * time.Second

func TestMain(m *testing.M) {
	if raw, ok := os.LookupEnv(envReaperChild); ok {
		os.Exit(reaperChild(raw))
	}
	os.Exit(m.Run())
}

// childConfig is what the parent test tells the child controller.
type childConfig struct {
	Dir, Image, RunID string
}

// reaperChild is the child controller. It never closes its cluster: it is
// killed, or gives up after five minutes.
func reaperChild(raw string) int {
	var cc childConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{
		Target: demokv.New(), Nodes: 2, Dir: cc.Dir, Image: cc.Image, RunID: cc.RunID,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: start:", err)
		return 1
	}
	if err := c.Pause(ctx, "n1"); err != nil {
		fmt.Fprintln(os.Stderr, "child: pause:", err)
		c.Close(context.Background())
		return 1
	}
	fmt.Println("ready")
	<-ctx.Done()
	c.Close(context.Background())
	return 1
}

// runObjects lists the containers (name and state) and networks labelled
// with runID.
func runObjects(t *testing.T, eng Engine, runID string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := labelFilter(LabelRun, runID)
	cs, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	ns, err := eng.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatalf("list networks: %v", err)
	}
	var out []string
	for _, ct := range cs.Items {
		out = append(out, fmt.Sprintf("container %s %s", strings.TrimPrefix(ct.Names[0], "/"), ct.State))
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	return out
}

// decoys creates, for the run to spare, a running container and a network
// of another run and a running container with faultline=1 but no run id
// (the node image's own label); it removes them when the test ends and
// returns their ids.
func decoys(t *testing.T, eng *client.Client) []string {
	t.Helper()
	other := testRunID()
	var ids []string
	for i, labels := range []map[string]string{
		{LabelFaultline: "1", LabelRun: other},
		{},
	} {
		res, err := eng.ContainerCreate(t.Context(), client.ContainerCreateOptions{
			Name:       fmt.Sprintf("faultline-decoy-%s-%d", other, i),
			Config:     &container.Config{Image: image(t), Cmd: []string{"sleep", "600"}, Labels: labels},
			HostConfig: &container.HostConfig{Init: new(true)},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			eng.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true})
		})
		if _, err := eng.ContainerStart(t.Context(), res.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	nw, err := eng.NetworkCreate(t.Context(), "faultline-decoy-"+other, client.NetworkCreateOptions{
		Labels: map[string]string{LabelFaultline: "1", LabelRun: other},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.NetworkRemove(context.Background(), nw.ID, client.NetworkRemoveOptions{}) })
	return append(ids, nw.ID)
}

// checkDecoys fails unless the decoys are still there, containers running.
func checkDecoys(t *testing.T, eng *client.Client, ids []string) {
	t.Helper()
	for _, id := range ids[:len(ids)-1] {
		in, err := eng.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
		if err != nil || in.Container.State == nil || !in.Container.State.Running {
			t.Errorf("the reaper touched container %s of no run of its own: %v", shortID(id), err)
		}
	}
	if _, err := eng.NetworkInspect(t.Context(), ids[len(ids)-1], client.NetworkInspectOptions{}); err != nil {
		t.Errorf("the reaper touched another run's network: %v", err)
	}
}

// waitGone polls until the engine holds nothing of runID and returns how
// long that took; it fails the test after reapDeadline.
func waitGone(t *testing.T, eng Engine, runID string, since time.Time) time.Duration {
	t.Helper()
	var left []string
	if !eventually(reapDeadline, func() bool { left = runObjects(t, eng, runID); return len(left) == 0 }) {
		t.Fatalf("%v after the controller died the engine still holds %v", reapDeadline, left)
	}
	return time.Since(since)
}

func TestReaperRemovesTheRunOfAKilledController(t *testing.T) {
	eng := engine(t)
	spare := decoys(t, eng)
	cc := childConfig{Dir: t.TempDir(), Image: image(t), RunID: testRunID()}
	raw, _ := json.Marshal(cc)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envReaperChild+"="+string(raw))
	child.Stderr = t.Output()
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
		checkNothingLeft(t, eng, cc.RunID)
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("child controller: %q, %v", line, err)
	}

	objs := runObjects(t, eng, cc.RunID)
	want := []string{"-n1 paused", "-n2 running", "-reaper running", "network faultline-" + cc.RunID}
	for _, w := range want {
		if !strings.Contains(strings.Join(objs, "\n"), w) {
			t.Fatalf("before the kill the run holds %v, want %q among them", objs, w)
		}
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	child.Wait()
	took := waitGone(t, eng, cc.RunID, killed)
	t.Logf("the reaper removed %d objects (a paused node among them) %v after SIGKILL of the controller", len(objs), took.Round(time.Millisecond))
	checkDecoys(t, eng, spare)
}

func TestReaperRemovesTheRunWhenNoControllerConnects(t *testing.T) {
	eng := engine(t)
	spare := decoys(t, eng)
	runID := testRunID()
	c := &Cluster{
		cfg: Config{RunID: runID, ReaperImage: image(t)},
		eng: eng,
		log: slog.New(slog.DiscardHandler),
	}
	// A node of the run, as if its controller died right after creating it.
	res, err := eng.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name:       "faultline-" + runID + "-n1",
		Config:     &container.Config{Image: image(t), Cmd: []string{"sleep", "600"}, Labels: c.labels()},
		HostConfig: &container.HostConfig{Init: new(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkNothingLeft(t, eng, runID) })
	if _, err := eng.ContainerStart(t.Context(), res.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	r := &Reaper{eng: eng, runID: runID, image: image(t), log: c.log}
	if err := r.launch(t.Context(), "tok", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	took := waitGone(t, eng, runID, begin)
	if took < 2*time.Second {
		t.Fatalf("the reaper reaped after %v, before its wait of 2s", took)
	}
	t.Logf("with no controller the run was gone %v after the reaper started (wait 2s)", took.Round(time.Millisecond))
	checkDecoys(t, eng, spare)
}

func TestCloseLeavesNoReaper(t *testing.T) {
	eng := engine(t)
	cfg := testConfig(t, eng, 1, "")
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	objs := runObjects(t, eng, cfg.RunID)
	if !strings.Contains(strings.Join(objs, "\n"), "-reaper running") {
		c.Close(context.Background())
		t.Fatalf("no reaper among the run's objects %v", objs)
	}
	l, err := ReadLayout(cfg.Dir)
	if err != nil || l.Reaper.ContainerID == "" || l.Reaper.Addr == "" {
		t.Errorf("layout reaper %+v, %v", l.Reaper, err)
	}
	begin := time.Now()
	if err := c.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("closed in %v", time.Since(begin).Round(time.Millisecond))
	checkNothingLeft(t, eng, cfg.RunID)
}

func TestStartFailsWhenTheReaperCannotRun(t *testing.T) {
	eng := engine(t)
	cfg := testConfig(t, eng, 1, "")
	// The base image has no faultline binary.
	base, err := images.EnsureBase(t.Context(), eng, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReaperImage = base
	c, err := Start(t.Context(), cfg)
	if err == nil {
		c.Close(context.Background())
		t.Fatal("Start succeeded without a reaper")
	}
	if !strings.Contains(err.Error(), "reaper") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Start: %q, want one line about the reaper", err)
	}
	t.Logf("Start: %v", err)
	checkNothingLeft(t, eng, cfg.RunID)
}
