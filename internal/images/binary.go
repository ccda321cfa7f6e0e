package images

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: the go command is not on PATH, so faultline cannot be built for the node image", ErrMissingTool)
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
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		return "", fmt.Errorf("go build ./cmd/faultline in %s: %w: %s", dir, err, msg)
	}
	dst := filepath.Join(binDir, "faultline-linux-"+runtime.GOARCH)
	if err := os.Rename(built, dst); err != nil {
		return "", fmt.Errorf("build faultline: %w", err)
	}
	return dst, nil
}

// NodeBinary returns a static faultline binary for the node image: the
// running executable when it is a static Linux binary, else a BuildBinary of
// the faultline module that holds the working folder. It fails with a clear
// error when neither is possible.
func NodeBinary(ctx context.Context) (string, error) {
	exe, err := os.Executable()
	if err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil && CheckStatic(exe) == nil {
			return exe, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working folder: %w", err)
	}
	root, err := ModuleRoot(wd)
	if err != nil {
		return "", fmt.Errorf("the running faultline is not a static binary and %w; "+
			"build one with CGO_ENABLED=0 go build ./cmd/faultline", err)
	}
	return BuildBinary(ctx, root)
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
