package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testenv"
)

// These tests drive the docker provider through the CLI. They need a
// Docker engine: under CI they run, never skip; elsewhere they skip when
// no engine answers (testenv.NeedDocker). `faultline cleanup` removes
// every labelled object, so make test runs packages one at a time (go
// test -p 1).

var (
	staticOnce sync.Once
	staticDir  string
	staticPath string
	staticErr  error
)

// staticBinary builds, once, a static faultline binary for the docker
// provider to put into the node image (the test binary on PATH is not
// static); TestMain removes it at the end.
func staticBinary(t *testing.T) string {
	t.Helper()
	staticOnce.Do(func() {
		if staticDir, staticErr = os.MkdirTemp("", "faultline-cli-test"); staticErr != nil {
			return
		}
		staticPath = filepath.Join(staticDir, "faultline")
		build := exec.Command("go", "build", "-o", staticPath, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			staticErr = fmt.Errorf("build a static faultline: %v: %s", err, out)
		}
	})
	if staticErr != nil {
		t.Fatal(staticErr)
	}
	return staticPath
}

// removeStaticBinary removes what staticBinary built, if anything.
func removeStaticBinary() {
	if staticDir != "" {
		os.RemoveAll(staticDir)
	}
}

// dockerCLI runs the docker command line and returns its trimmed output.
func dockerCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// layout reads the run id and image from a docker run's cluster.json.
func layout(t *testing.T, runDir string) (runID, image string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, "nodes", "cluster.json"))
	if err != nil {
		t.Fatalf("read cluster.json: %v", err)
	}
	var l struct {
		RunID string `json:"run_id"`
		Image string `json:"image"`
	}
	if err := json.Unmarshal(b, &l); err != nil || l.RunID == "" {
		t.Fatalf("cluster.json has no run id: %v", err)
	}
	return l.RunID, l.Image
}

// labelled lists the containers and networks of a run, by its label.
func labelled(t *testing.T, runID string) []string {
	t.Helper()
	f := "label=faultline.run=" + runID
	var out []string
	for _, l := range []string{dockerCLI(t, "ps", "-a", "-q", "--filter", f), dockerCLI(t, "network", "ls", "-q", "--filter", f)} {
		out = append(out, strings.Fields(l)...)
	}
	return out
}

func dockerRunDir(t *testing.T, results string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(results, "demo-kv-register", "*"))
	if len(dirs) != 1 {
		t.Fatalf("want one run folder, got %v", dirs)
	}
	return dirs[0]
}

func TestDockerSIGINTRemovesEverything(t *testing.T) {
	testenv.NeedDocker(t)
	results := t.TempDir()
	cmd, dir := startRunWith(t, staticBinary(t), results, 200, "--provider", "docker", "--time-limit", "60s", "--nemesis", "partition,pause", "--nemesis-interval", "1s")
	runID, _ := layout(t, dir)
	if n := len(labelled(t, runID)); n != 5 {
		t.Fatalf("mid-run the engine holds %d objects of the run, want 3 nodes, the reaper and 1 network", n)
	}
	if reaper(t, runID) == "" {
		t.Fatal("mid-run the run has no reaper")
	}
	cmd.Process.Signal(syscall.SIGINT)
	if code := waitExit(t, cmd, 90*time.Second); code != 3 {
		t.Errorf("interrupted run exit %d, want 3", code)
	}
	if left := labelled(t, runID); len(left) != 0 {
		t.Fatalf("after SIGINT the engine still holds %v", left)
	}
}

func TestDockerSetupErrorRemovesEverything(t *testing.T) {
	testenv.NeedDocker(t)
	results := t.TempDir()
	before := labelledAny(t)
	code, _, stderr := cliWith(t, staticBinary(t), "run", "--provider", "docker", "--results", results, "--start-timeout", "1us", "--time-limit", "5s")
	if code != 3 || !strings.Contains(stderr, "start cluster") || !strings.Contains(stderr, "--start-timeout") {
		t.Fatalf("exit %d, stderr %q; want 3 and a start cluster error naming --start-timeout", code, stderr)
	}
	// The start may end before it writes cluster.json: compare everything
	// labelled with a run before and after instead.
	for _, id := range labelledAny(t) {
		if !slices.Contains(before, id) {
			t.Errorf("after a failed setup the engine still holds %s", id)
		}
	}
}

// labelledAny lists the containers and networks that carry a run label.
func labelledAny(t *testing.T) []string {
	t.Helper()
	f := "label=faultline.run"
	var out []string
	for _, l := range []string{dockerCLI(t, "ps", "-a", "-q", "--no-trunc", "--filter", f), dockerCLI(t, "network", "ls", "-q", "--no-trunc", "--filter", f)} {
		out = append(out, strings.Fields(l)...)
	}
	return out
}

// reaper returns the id of the run's reaper container, or "".
func reaper(t *testing.T, runID string) string {
	t.Helper()
	return dockerCLI(t, "ps", "-q", "--filter", "label=faultline.run="+runID, "--filter", "label=faultline.reaper=1")
}

// waitNoneLeft polls (bounded by within) until the engine holds nothing
// of the run, and returns how long that took.
func waitNoneLeft(t *testing.T, runID string, within time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	for {
		left := labelled(t, runID)
		if len(left) == 0 {
			return time.Since(begin)
		}
		if time.Since(begin) > within {
			t.Fatalf("%v after the controller died the engine still holds %v", within, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDockerReaperAfterSIGKILL: a controller killed mid-run, with a node
// paused, leaves nothing behind: the run's reaper removes its containers
// and network within seconds.
func TestDockerReaperAfterSIGKILL(t *testing.T) {
	testenv.NeedDocker(t)
	results := t.TempDir()
	cmd, dir := startRun(t, results, 100, "--provider", "docker", "--time-limit", "60s", "--nemesis", "pause=minority", "--nemesis-interval", "1s")
	runID, _ := layout(t, dir)
	// Kill while a node is paused, so that the reaper has a paused one to
	// remove.
	deadline := time.Now().Add(30 * time.Second)
	for dockerCLI(t, "ps", "-q", "--filter", "label=faultline.run="+runID, "--filter", "status=paused") == "" {
		if time.Now().After(deadline) {
			t.Fatal("no node of the run was paused within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := labelled(t, runID)
	cmd.Process.Kill()
	waitExit(t, cmd, 30*time.Second)
	took := waitNoneLeft(t, runID, 20*time.Second)
	t.Logf("the reaper removed the run's %d containers and network %v after SIGKILL of the controller", len(before)-1, took.Round(time.Millisecond))
	// The partial history of the killed run is still checkable.
	if code, out, stderr := cli(t, "check", dir); code > 2 || !strings.Contains(out, "linearizability") {
		t.Fatalf("check of the killed docker run: exit %d: %s %s", code, out, stderr)
	}
}

// TestDockerCleanupAfterSIGKILL: when the reaper is gone too, `faultline
// cleanup` removes what the killed controller left, and only that.
func TestDockerCleanupAfterSIGKILL(t *testing.T) {
	testenv.NeedDocker(t)
	results := t.TempDir()
	cmd, dir := startRunWith(t, staticBinary(t), results, 300, "--provider", "docker", "--time-limit", "60s")
	runID, image := layout(t, dir)
	id := reaper(t, runID)
	if id == "" {
		t.Fatal("the run has no reaper")
	}
	dockerCLI(t, "rm", "-f", id)
	cmd.Process.Kill()
	waitExit(t, cmd, 30*time.Second)
	if len(labelled(t, runID)) == 0 {
		t.Fatal("a killed controller without its reaper left nothing: the test proves nothing")
	}
	// A container faultline did not create must survive the cleanup.
	other := dockerCLI(t, "run", "-d", "--entrypoint", "sleep", image, "300")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", other).Run() })

	code, out, stderr := cliWith(t, staticBinary(t), "cleanup")
	if code != 0 || !strings.HasPrefix(out, "removed ") {
		t.Fatalf("cleanup: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if left := labelled(t, runID); len(left) != 0 {
		t.Fatalf("after cleanup the engine still holds %v", left)
	}
	if state := dockerCLI(t, "inspect", "-f", "{{.State.Running}}", other); state != "true" {
		t.Fatalf("cleanup touched an unlabelled container (running=%s)", state)
	}
	// The partial history of the killed run is still checkable.
	if code, out, stderr := cliWith(t, staticBinary(t), "check", dir); code > 2 || !bytes.Contains([]byte(out), []byte("linearizability")) {
		t.Fatalf("check of the killed docker run: exit %d: %s %s", code, out, stderr)
	}
}
