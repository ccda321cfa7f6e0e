package images

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

// ModulePath is the module whose ./cmd/faultline BuildBinary builds.
const ModulePath = "github.com/faultline/faultline"

// BuildBinary builds ./cmd/faultline of the faultline module rooted at dir
// as a static Linux binary (CGO_ENABLED=0, GOOS=linux, the machine's
// GOARCH; -trimpath, no VCS stamp and no symbol tables, so the same source
// gives the same bytes wherever it is checked out) and returns its path. The
// binary lands in the user's cache folder under faultline/bin, replaced
// atomically by each build; the caller does not remove it. Needs the go
// command on PATH (else an error wrapping ErrMissingTool).
func BuildBinary(ctx context.Context, dir string) (string, error) {
	return buildBinary(ctx, dir)
}

// buildBinary is BuildBinary with env added to the go command's
// environment.
func buildBinary(ctx context.Context, dir string, env ...string) (string, error) {
	gocmd, err := goCommand()
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	binDir := filepath.Join(cache, "faultline", "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("build faultline: %w", err)
	}
	tmp, err := os.MkdirTemp(binDir, ".build-")
	if err != nil {
		return "", fmt.Errorf("build faultline: %w", err)
	}
	defer os.RemoveAll(tmp)
	built := filepath.Join(tmp, "faultline")
	cmd := exec.CommandContext(ctx, gocmd, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
		"-o", built, "./cmd/faultline")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/faultline in %s: %w: %s", dir, err, quoteOutput(stderr.Bytes()))
	}
	dst := filepath.Join(binDir, "faultline-linux-"+runtime.GOARCH)
	if err := os.Rename(built, dst); err != nil {
		return "", fmt.Errorf("build faultline: %w", err)
	}
	return dst, nil
}

// goCommand returns the path of the go command.
func goCommand() (string, error) {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: the go command is not on PATH, so faultline cannot be built for the node image", ErrMissingTool)
	}
	return gocmd, nil
}

// quoteOutput returns a command's output on one line, cut to 500 bytes.
func quoteOutput(b []byte) string {
	msg := strings.Join(strings.Fields(string(b)), " ")
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return msg
}

// moduleCacheEnv is the go command's environment for a build inside the
// module cache: its files are read-only and no go.work above it applies.
var moduleCacheEnv = []string{"GOFLAGS=-mod=readonly", "GOWORK=off"}

// NodeBinary returns a static faultline binary for the node image, the
// first of:
//
//  1. the running executable, when it is a static Linux binary;
//  2. a BuildBinary of the source the running binary was compiled from, as
//     its own file paths record it (every build without -trimpath: a
//     checkout for `go build` or `go run`, the module cache for
//     `go install …@version`), when that folder still holds the module;
//  3. for a binary of a published version (`go install …@v1.2.3`, as the
//     build info records it), a BuildBinary of that version's source, which
//     `go mod download` puts in the module cache (it is there already when
//     the module cache was kept);
//  4. a BuildBinary of the faultline source that holds the working folder.
//
// So a binary that `go install` linked dynamically (cgo on) still runs
// docker targets from any folder on a machine with Go. It fails with a
// clear error when none of these is possible. Progress lines go to out.
func NodeBinary(ctx context.Context, out io.Writer) (string, error) {
	exe, err := os.Executable()
	if err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil && CheckStatic(exe) == nil {
			return exe, nil
		}
	}
	if dir, ok := recordedSource(); ok {
		fmt.Fprintf(out, "images: building a static faultline from %s\n", dir)
		if strings.Contains(filepath.Base(dir), "@") {
			return buildBinary(ctx, dir, moduleCacheEnv...)
		}
		return buildBinary(ctx, dir)
	}
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == ModulePath {
		version = bi.Main.Version
	}
	if published(version) {
		fmt.Fprintf(out, "images: building a static faultline %s from the module cache\n", version)
		dir, err := downloadSource(ctx, version)
		if err != nil {
			return "", err
		}
		return buildBinary(ctx, dir, moduleCacheEnv...)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working folder: %w", err)
	}
	root, err := ModuleRoot(wd)
	if err != nil {
		if version == "" {
			version = "unknown"
		}
		return "", fmt.Errorf("the docker provider needs a static faultline for its node image; this one is "+
			"dynamically linked, its source is not where it was built (version %s) and %w; "+
			"install a static one with CGO_ENABLED=0 go install %s/cmd/faultline@latest, or run it inside the source", version, err, ModulePath)
	}
	fmt.Fprintf(out, "images: building a static faultline from %s\n", root)
	return BuildBinary(ctx, root)
}

// published reports whether version, as the build info records the main
// module's, names a version the module proxy can serve: not "(devel)" (a
// build inside a checkout) and not one stamped "+dirty" from a modified
// checkout.
func published(version string) bool {
	return strings.HasPrefix(version, "v") && !strings.Contains(version, "+")
}

// recordedSource returns the root of the faultline module this binary was
// compiled from, found through the path of this very file as the compiler
// recorded it, when that path is absolute (no -trimpath) and its go.mod
// still declares ModulePath.
func recordedSource() (string, bool) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", false
	}
	// This file is <root>/internal/images/binary.go.
	root := filepath.Dir(filepath.Dir(filepath.Dir(filepath.FromSlash(file))))
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || modulePath(b) != ModulePath {
		return "", false
	}
	return root, true
}

// downloadSource returns the folder of version of the faultline module in
// the module cache, downloading it when the cache lacks it (the go
// command's proxy and checksum settings apply).
func downloadSource(ctx context.Context, version string) (string, error) {
	gocmd, err := goCommand()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, gocmd, "mod", "download", "-json", ModulePath+"@"+version)
	// Outside any module, so that no go.mod or go.work nearby applies.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Error != "" || res.Dir == "" || runErr != nil {
		msg := res.Error
		if msg == "" {
			msg = quoteOutput(stderr.Bytes())
		}
		return "", fmt.Errorf("go mod download %s@%s: %s", ModulePath, version, msg)
	}
	return res.Dir, nil
}

// ModuleRoot returns the folder of the go.mod of module ModulePath that
// holds dir (dir itself or one of its parents).
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && modulePath(b) == ModulePath {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%s is not inside the source of %s", dir, ModulePath)
		}
		d = parent
	}
}

// modulePath returns the module path a go.mod declares.
func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// errNotStatic is returned by CheckStatic for a dynamically linked program.
var errNotStatic = errors.New("dynamically linked (it needs a program interpreter); build it with CGO_ENABLED=0")

// CheckStatic returns nil when path is a statically linked Linux ELF
// executable for the machine's architecture, the kind that runs in any
// container of that architecture.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: not a Linux executable: %w", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("%s: not an executable (%s)", path, f.Type)
	}
	if want, ok := elfMachine[runtime.GOARCH]; ok && f.Machine != want {
		return fmt.Errorf("%s: built for %s, not %s", path, f.Machine, runtime.GOARCH)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s: %w", path, errNotStatic)
		}
	}
	return nil
}

// elfMachine maps GOARCH to the ELF machine of its executables.
var elfMachine = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"386":     elf.EM_386,
	"arm":     elf.EM_ARM,
	"riscv64": elf.EM_RISCV,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
}
