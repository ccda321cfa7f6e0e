package targets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoBinary is wrapped by the error Find returns when a server's binary
// is not installed.
var ErrNoBinary = errors.New("server binary not installed")

// Find returns the path of s.Binary: on PATH, else in s.Dirs in order (the
// newest match of a glob first). When it is nowhere, the error wraps
// ErrNoBinary and says which Debian package to install.
func (s Server) Find() (string, error) {
	return findProgram(s.Binary, s.Dirs, s.Package)
}

func findProgram(name string, dirs []string, pkg string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		matches, _ := filepath.Glob(d)
		slices.Sort(matches)
		slices.Reverse(matches) // /usr/lib/postgresql/16 before 15
		for _, m := range matches {
			p := filepath.Join(m, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	where := "PATH"
	if len(dirs) > 0 {
		where += " or " + strings.Join(dirs, ", ")
	}
	if pkg == "" {
		return "", fmt.Errorf("%s is not on %s: %w", name, where, ErrNoBinary)
	}
	return "", fmt.Errorf("%s is not on %s: install Debian's package %s (apt-get install %s): %w", name, where, pkg, pkg, ErrNoBinary)
}

// ResetMarker is the file a node's data folder holds, alone, after
// Admin.Reset emptied it: a Server's Init runs while the data folder is
// empty or holds only this file, and can tell by it a rebuild from the
// cluster's first start. The provider removes it once Init succeeded.
const ResetMarker = ".faultline-reset"

// FindInit returns the path of an Init command's program, looked up like
// the server's binary.
func (s Server) FindInit(program string) (string, error) {
	return findProgram(program, s.Dirs, s.Package)
}

// TCPReady returns nil when addr accepts a TCP connection: the readiness
// probe of a role whose Ready is nil.
func TCPReady(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// ReadyFunc returns r's readiness probe: r.Ready, or TCPReady when nil.
func (r Role) ReadyFunc() func(ctx context.Context, addr string) error {
	if r.Ready != nil {
		return r.Ready
	}
	return TCPReady
}
