package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/targets"
)

// ErrUser is wrapped by errors about the account a server runs as.
var ErrUser = errors.New("server account")

// lookupUser returns the credential of the account name.
func lookupUser(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: no user %q on this machine (the server's Debian package creates it): %w", ErrUser, name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: user %q has ids %s:%s", ErrUser, name, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// program names what n runs, for cluster.json: "go" or the server binary.
func (n *nodeProc) program() string {
	if n.binary != "" {
		return n.binary
	}
	return "go"
}

// user names the account n runs as, or "" for faultline's own.
func (n *nodeProc) user() string {
	if s, ok := n.role.Program.(targets.Server); ok && n.cred != nil {
		return s.User
	}
	return ""
}

// prepare resolves a Server node's binary and account and, when it runs as
// another user, hands its folder to that user after checking the user can
// reach it.
func (n *nodeProc) prepare() error {
	s, ok := n.role.Program.(targets.Server)
	if !ok {
		return nil
	}
	bin, err := s.Find()
	if err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	n.binary = bin
	if s.User == "" || os.Geteuid() != 0 {
		return nil
	}
	cred, err := lookupUser(s.User)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	n.cred = cred
	if err := reachable(n.dir, cred); err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	err = filepath.WalkDir(n.dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		return fmt.Errorf("node %s: give the data folder to %s: %w", n.name, s.User, err)
	}
	return nil
}

// reachable checks that every folder above dir lets the account cred
// pass, so a server running as that account can reach its data folder.
func reachable(dir string, cred *syscall.Credential) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		pass := mode&0o001 != 0 ||
			ok && st.Uid == cred.Uid && mode&0o100 != 0 ||
			ok && st.Gid == cred.Gid && mode&0o010 != 0
		if !pass {
			return fmt.Errorf("%w: the server's account (uid %d) cannot enter %s (mode %v); choose a results folder others may enter", ErrUser, cred.Uid, d, mode)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// initNode runs a Server node's init commands before its first start,
// while its data folder is empty (or holds only targets.ResetMarker, after
// Reset), and then removes the marker; their output goes to the node log.
// The caller holds mu.
func (c *Cluster) initNode(ctx context.Context, n *nodeProc) error {
	s, ok := n.role.Program.(targets.Server)
	if !ok || s.Init == nil {
		return nil
	}
	entries, err := os.ReadDir(n.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	if !lifecycle.InitDue(names) {
		return nil
	}
	for _, argv := range s.Init(n.cfg) {
		if len(argv) == 0 {
			continue
		}
		path, err := s.FindInit(argv[0])
		if err != nil {
			return fmt.Errorf("node %s: init: %w", n.name, err)
		}
		logf, err := os.OpenFile(n.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("node %s: init: %w", n.name, err)
		}
		cmd := exec.CommandContext(ctx, path, argv[1:]...)
		cmd.Dir = n.dir
		cmd.Env = environWithout("FAULTLINE_NODE_CONFIG")
		if s.Env != nil {
			cmd.Env = append(cmd.Env, s.Env(n.cfg)...)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: n.cred}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		start := time.Now()
		fmt.Fprintf(logf, "=== faultline: init %s: %s\n", n.name, argv)
		err = cmd.Run()
		logf.Close()
		if err != nil {
			return fmt.Errorf("node %s: init %s: %v%s", n.name, argv[0], err, logQuote(n.logPath))
		}
		n.log.Info("node init", "cmd", argv[0], "took", time.Since(start).Round(time.Millisecond))
	}
	if err := os.Remove(filepath.Join(n.cfg.DataDir, targets.ResetMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("node %s: init: %w", n.name, err)
	}
	return nil
}
