package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/images"
	"github.com/faultline/faultline/internal/testenv"
)

// These tests run faultline as `go install` makes it for most users: with
// cgo on, linked dynamically, run from a folder outside the source. Such a
// binary cannot go into the node image; it builds a static one from its
// own source. They need Docker (see docker_test.go) and a C compiler.

// requireCgo skips outside CI when cgo cannot build (no C compiler).
func requireCgo(t *testing.T) {
	t.Helper()
	out, err := exec.Command("go", "env", "CC").Output()
	cc := strings.TrimSpace(string(out))
	if err == nil && cc != "" {
		if _, err = exec.LookPath(cc); err == nil {
			return
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI needs a C compiler for the cgo build: %v", err)
	}
	t.Skipf("skipped: no C compiler (%v); this test links faultline dynamically with cgo", err)
}

// goCmd runs the go command with env added, in dir, and fails the test
// when it fails.
func goCmd(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v: %s", args, err, out)
	}
}

// assertDynamic fails the test unless bin is dynamically linked: else it
// would prove nothing.
func assertDynamic(t *testing.T, bin string) {
	t.Helper()
	if err := images.CheckStatic(bin); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Fatalf("%s is not a dynamic binary (%v): the test proves nothing", bin, err)
	}
}

// runOutside runs bin with args in a fresh folder outside the source, env
// added, and returns its exit code, stderr and the folder.
func runOutside(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	work := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String(), work
}

// dockerRunSucceeds runs a short docker run of bin outside the source and
// checks that it passes and leaves nothing of the run; it returns stderr.
// The variant is the safe one: the unsafe one may be caught even without
// faults, and exit 1 would hide a failure to run.
func dockerRunSucceeds(t *testing.T, bin string, env []string) string {
	t.Helper()
	code, stderr, work := runOutside(t, bin, env, "run", "--provider", "docker", "--variant", "safe", "--nemesis", "none", "--time-limit", "3s", "--results", "results")
	if code != 0 {
		t.Fatalf("docker run of a dynamic faultline outside the source: exit %d: %s", code, stderr)
	}
	runID, _ := layout(t, dockerRunDir(t, filepath.Join(work, "results")))
	if left := labelled(t, runID); len(left) != 0 {
		t.Fatalf("after the run the engine still holds %v", left)
	}
	return stderr
}

// TestDockerDynamicBinaryOutsideSource: `go build` with cgo (version
// "(devel)"), run elsewhere: the binary builds its node binary from the
// source folder its own file paths record.
func TestDockerDynamicBinaryOutsideSource(t *testing.T) {
	testenv.NeedDocker(t)
	requireCgo(t)
	bin := filepath.Join(t.TempDir(), "faultline")
	goCmd(t, ".", []string{"CGO_ENABLED=1"}, "build", "-o", bin, ".")
	assertDynamic(t, bin)
	root, err := images.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	stderr := dockerRunSucceeds(t, bin, nil)
	if !strings.Contains(stderr, "building a static faultline from "+root) {
		t.Errorf("stderr does not say it built from %s:\n%s", root, stderr)
	}
}

// TestDockerDynamicBinaryWithoutSourceSaysWhy: built with -trimpath and
// version "(devel)", the binary knows no source; outside the source it
// refuses docker targets with one line that says what to do.
func TestDockerDynamicBinaryWithoutSourceSaysWhy(t *testing.T) {
	testenv.NeedDocker(t)
	requireCgo(t)
	bin := filepath.Join(t.TempDir(), "faultline")
	goCmd(t, ".", []string{"CGO_ENABLED=1"}, "build", "-trimpath", "-o", bin, ".")
	assertDynamic(t, bin)
	code, stderr, _ := runOutside(t, bin, nil, "run", "--provider", "docker", "--nemesis", "none", "--time-limit", "3s", "--results", "results")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if code != 3 || !strings.Contains(last, "dynamically linked") || !strings.Contains(last, "CGO_ENABLED=0 go install") {
		t.Fatalf("exit %d, last line %q; want 3 and what to do", code, last)
	}
}

// TestDockerInstalledVersionOutsideSource: `go install …/cmd/faultline@v0.1.0`
// with cgo, as from a module proxy (a file proxy made of this source, the
// dependencies from the machine's module cache, and a module cache of the
// test's own so that the real one is untouched), with -trimpath so that
// the binary records no source folder: it builds its node binary from that
// version's source in the module cache.
func TestDockerInstalledVersionOutsideSource(t *testing.T) {
	testenv.NeedDocker(t)
	requireCgo(t)
	const version = "v0.1.0"
	root, err := images.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	proxy := filepath.Join(tmp, "proxy")
	writeModuleVersion(t, root, proxy, version)
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
	env := []string{
		"GOPROXY=file://" + filepath.ToSlash(proxy) + ",file://" + filepath.ToSlash(deps),
		"GOMODCACHE=" + filepath.Join(tmp, "modcache"),
		"GOFLAGS=-modcacherw -trimpath",
		"GOSUMDB=off",
		"GOTOOLCHAIN=local",
		"GOBIN=" + filepath.Join(tmp, "bin"),
		"CGO_ENABLED=1",
	}
	goCmd(t, tmp, env, "install", images.ModulePath+"/cmd/faultline@"+version)
	bin := filepath.Join(tmp, "bin", "faultline")
	assertDynamic(t, bin)
	stderr := dockerRunSucceeds(t, bin, env)
	if !strings.Contains(stderr, "building a static faultline "+version+" from the module cache") {
		t.Errorf("stderr does not say it built %s from the module cache:\n%s", version, stderr)
	}
}

// writeModuleVersion writes version of the module at root (its files that
// git tracks or does not ignore) into a file module proxy at dir.
func writeModuleVersion(t *testing.T, root, dir, version string) {
	t.Helper()
	ls := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	ls.Dir = root
	out, err := ls.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	at := filepath.Join(dir, filepath.FromSlash(images.ModulePath), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(images.ModulePath + "@" + version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(map[string]string{"Version": version, "Time": "2026-01-01T00:00:00Z"})
	for name, data := range map[string][]byte{
		version + ".zip": buf.Bytes(), version + ".mod": gomod, version + ".info": info, "list": []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
