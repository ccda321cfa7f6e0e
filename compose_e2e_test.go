package faultline_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/provider/compose"
	"github.com/faultline/faultline/internal/provider/docker"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/internal/testtargets/composestack"
)

// TestComposeLeavesTheStackAsFound runs tests of a target defined here
// (composestack.Register) on a Compose stack of a server in an image FROM
// scratch, and after each way a run can end checks that the user's
// containers run, unpaused (service a healthy), without faultline's
// chains, that no container or network of the run is left, and that
// every node reaches every other: after a normal end, a run that fails,
// SIGINT and SIGTERM of the controller (a program calling faultline.Run,
// testdata/runner), SIGKILL of the controller (the run's reaper restores
// the stack), and SIGKILL of the controller whose reaper is gone too,
// followed by `faultline cleanup`. The cases share one stack: each starts
// from the stack the one before left.
func TestComposeLeavesTheStackAsFound(t *testing.T) {
	testenv.NeedDocker(t)
	s := composestack.Up(t, "matrix")
	bin := composestack.NodeBinary(t)
	base := func(t *testing.T) faultline.Test {
		tt := faultline.DefaultTest()
		tt.Target, tt.System, tt.Variant = "", composestack.NewRegister(), "ok"
		tt.Provider = "compose"
		tt.Compose = &faultline.ComposeStack{Project: s.Project, Services: composestack.Services}
		tt.Results, tt.NodeBinary = t.TempDir(), bin
		tt.TimeLimit, tt.NemesisInterval, tt.Seed = 8*time.Second, 500*time.Millisecond, 7
		tt.Nemesis = []string{"partition", "pause=role:b", "kill=role:c", "loss"}
		tt.Rate, tt.Concurrency = 50, 2
		tt.RecoveryTimeout = 20 * time.Second
		return tt
	}

	t.Run("normal end", func(t *testing.T) {
		tt := base(t)
		res, err := faultline.Run(t.Context(), tt)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		runID := layout(t, res.Dir).RunID
		// One server's registers are linearizable whatever happens between
		// the nodes; every fault was injected and healed without error.
		if res.Verdict != faultline.Valid || len(res.Errors) > 0 {
			t.Errorf("verdict %s, errors %v; want valid without errors (%s)", res.Verdict, res.Errors, res.Dir)
		}
		for _, f := range []string{"start-partition", "stop-partition", "start-pause", "stop-pause", "start-kill", "stop-kill", "start-loss", "stop-loss"} {
			if events(t, res.Dir)[f] == 0 {
				t.Errorf("no %s in the history", f)
			}
		}
		b, err := os.ReadFile(filepath.Join(res.Dir, "test.json"))
		if err != nil || !strings.Contains(string(b), `"compose": {`) && !strings.Contains(string(b), `"compose":{`) {
			t.Errorf("test.json records no compose stack: %v %s", err, b)
		}
		s.CheckAsFound(t, runID)
	})

	t.Run("run error", func(t *testing.T) {
		tt := base(t)
		r := composestack.NewRegister()
		r.FailAfter = 1500 * time.Millisecond
		tt.System, tt.Variant = r, "fail"
		res, err := faultline.Run(t.Context(), tt)
		if err == nil || !strings.Contains(err.Error(), "client for process") {
			t.Fatalf("Run of the failing variant: %v, want the clients' error", err)
		}
		t.Logf("the run failed: %v", err)
		s.CheckAsFound(t, layout(t, res.Dir).RunID)
	})

	runner := composestack.Runner(t)
	for _, c := range []struct {
		sig   syscall.Signal
		fault string
	}{{syscall.SIGINT, "partition"}, {syscall.SIGTERM, "kill"}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			r := startRunner(t, runner, s, bin, c.fault+"=role:b")
			r.cmd.Process.Signal(c.sig)
			if code := r.wait(t); code != 3 {
				t.Errorf("%s during a %s window: exit %d, want 3\n%s", c.sig, c.fault, code, r.out.String())
			}
			s.CheckAsFound(t, r.runID)
		})
	}

	t.Run("SIGKILL, the reaper", func(t *testing.T) {
		r := startRunner(t, runner, s, bin, "kill=role:b")
		killed := time.Now()
		r.cmd.Process.Kill()
		r.wait(t)
		// The reaper saw its controller die with b killed: it starts b,
		// removes the chains and the helpers, and itself.
		s.CheckAsFound(t, r.runID)
		t.Logf("the stack was restored and checked %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	})

	t.Run("SIGKILL, then cleanup", func(t *testing.T) {
		r := startRunner(t, runner, s, bin, "pause=role:b")
		// Without its reaper, a killed controller leaves b paused and its
		// helpers behind, until `faultline cleanup`.
		if _, err := s.Engine.ContainerRemove(t.Context(), r.layout.Reaper.ContainerID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Fatalf("remove the reaper: %v", err)
		}
		r.cmd.Process.Kill()
		r.wait(t)
		if b, err := s.Node(t.Context(), "b"); err != nil || !b.Paused {
			t.Fatalf("b after SIGKILL: %+v, %v; want paused (else the test proves nothing)", b, err)
		}
		if left, _ := s.Labelled(t.Context(), r.runID); len(left) != 3 {
			t.Fatalf("after SIGKILL the run left %v, want its 3 helpers", left)
		}
		var out strings.Builder
		// What `faultline cleanup` runs, shown only this run's objects:
		// others' may be on the engine too.
		removed, err := docker.Cleanup(t.Context(), runScope{Engine: s.Engine, runID: r.runID}, &out)
		if err != nil {
			t.Fatalf("cleanup: %v\n%s", err, out.String())
		}
		t.Logf("cleanup:\n%s", out.String())
		if len(removed) != 3 || !strings.Contains(out.String(), "_b_1 (unpaused, chains removed)") {
			t.Errorf("cleanup removed %v; want the 3 helpers, b unpaused", removed)
		}
		s.CheckAsFound(t, r.runID)
	})
}

// layout reads a compose run's cluster.json.
func layout(t *testing.T, dir string) compose.Layout {
	t.Helper()
	l, err := compose.ReadLayout(dir)
	if err != nil || l.RunID == "" || l.Provider != "compose" {
		t.Fatalf("cluster.json of %s: %+v, %v", dir, l, err)
	}
	return l
}

// events counts the nemesis events of a run's history by f, those with
// an error under f+" error".
func events(t *testing.T, dir string) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			Process int    `json:"process"`
			F       string `json:"f"`
			Error   string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Process != faultline.NemesisProcess {
			continue
		}
		if e.Error != "" {
			out[e.F+" error"]++
		} else {
			out[e.F]++
		}
	}
	return out
}

// runnerRun is a run of the test program, started.
type runnerRun struct {
	cmd    *exec.Cmd
	out    *bytes.Buffer
	done   chan int
	dir    string
	layout compose.Layout
	runID  string
}

// startRunner starts the test program on the stack with the fault kind
// fault, and returns once that fault is in place: its window started
// without error and has not stopped.
func startRunner(t *testing.T, runner string, s *composestack.Stack, bin, fault string) *runnerRun {
	t.Helper()
	results := t.TempDir()
	r := &runnerRun{out: &bytes.Buffer{}, done: make(chan int, 1)}
	r.cmd = exec.Command(runner, "-project", s.Project, "-results", results, "-node-binary", bin,
		"-time-limit", "60s", "-nemesis", fault, "-nemesis-interval", "1500ms")
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := r.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			r.done <- 0
		case errors.As(err, &ee):
			r.done <- ee.ExitCode()
		default:
			r.done <- -1
		}
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		r.wait(t)
	})
	kind := strings.SplitN(fault, "=", 2)[0]
	// Poll for the window, bounded; a runner that exits or a fault that
	// fails ends the wait at once.
	var last error
	for deadline := time.Now().Add(90 * time.Second); ; {
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("the runner exited %d before a %s window opened:\n%s", code, kind, r.out.String())
		default:
		}
		if r.dir == "" {
			if dirs, _ := filepath.Glob(filepath.Join(results, "scratch-register-register", "*")); len(dirs) == 1 {
				r.dir = dirs[0]
			}
		}
		last = errors.New("no run folder yet")
		if r.dir != "" {
			ev := events(t, r.dir)
			if ev["start-"+kind+" error"] > 0 {
				t.Fatalf("the %s fault failed:\n%s", kind, r.out.String())
			}
			if ev["start-"+kind] > 0 && ev["start-"+kind] == ev["stop-"+kind]+1 {
				break
			}
			last = fmt.Errorf("no %s window open (nemesis events %v)", kind, ev)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after 90s:\n%s", last, r.out.String())
		}
		time.Sleep(testenv.Interval) // the poll interval; the deadline bounds the wait
	}
	r.layout = layout(t, r.dir)
	r.runID = r.layout.RunID
	return r
}

// wait waits for the test program to exit, at most a minute, and returns
// its exit code.
func (r *runnerRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(time.Minute):
		r.cmd.Process.Kill()
		t.Fatalf("the runner did not exit within a minute:\n%s", r.out.String())
		return -1
	}
}

// runScope shows docker.Cleanup only the labelled objects of one run
// (and unlabelled ones, which its filters hide anyway): the engine may
// hold other runs' objects, labelled faultline=1 too, which this test's
// cleanup must not pull from under them.
type runScope struct {
	docker.Engine
	runID string
}

func (s runScope) visible(labels map[string]string) bool {
	return labels[docker.LabelFaultline] != "1" || labels[docker.LabelRun] == s.runID
}

func (s runScope) ContainerList(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	res, err := s.Engine.ContainerList(ctx, o)
	res.Items = slices.DeleteFunc(res.Items, func(c container.Summary) bool { return !s.visible(c.Labels) })
	return res, err
}

func (s runScope) NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	res, err := s.Engine.NetworkList(ctx, o)
	res.Items = slices.DeleteFunc(res.Items, func(n network.Summary) bool { return !s.visible(n.Labels) })
	return res, err
}
