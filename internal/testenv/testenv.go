// Package testenv decides what the project's tests may take for granted.
// Outside CI a test that lacks what it needs (a Docker engine, Chromium, a
// Debian package's binary) skips, saying what is missing and how to get
// it; under CI (see CI) the same test fails, so that a broken install step
// never hides behind a skip. It also holds the one polling helper the
// tests share.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// EnvCI is the environment variable that says the tests run under CI.
const EnvCI = "CI"

// CI reports whether the tests run under continuous integration: the CI
// environment variable is true, 1 or yes, in any case. Anything else,
// unset and empty included, is not CI.
func CI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvCI))) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// Need ends t when err is not nil: outside CI it skips t with a message
// naming what the test needs (need), why it is missing (err) and how to
// get it (hint); under CI it fails t with the same message. A nil err
// does nothing.
func Need(t testing.TB, need string, err error, hint string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("needs %s: %v", need, err)
	if hint != "" {
		msg += " (" + hint + ")"
	}
	if CI() {
		t.Fatalf("%s; under CI this is a failure, not a skip", msg)
		return
	}
	t.Skipf("skipped: %s; CI=true makes this a failure", msg)
}

// dockerPing bounds the probe of NeedDocker.
const dockerPing = 15 * time.Second

// NeedDocker makes sure a Docker engine answers (DOCKER_HOST or the
// default socket), with Need's rules: outside CI t skips when none does,
// under CI it fails.
func NeedDocker(t testing.TB) {
	t.Helper()
	Need(t, "a Docker engine", pingDocker(), "install Docker Engine (Debian package docker.io) and start it")
}

func pingDocker() error {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), dockerPing)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("no engine answers at %s: %w", cli.DaemonHost(), err)
	}
	return nil
}

// NeedBinary returns the path of the executable name found in PATH. When
// there is none it applies Need's rules, naming debianPkg, the Debian
// package that provides it (scripts/prepare-tests installs it).
func NeedBinary(t testing.TB, name, debianPkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		err = fmt.Errorf("%s is not in PATH", name)
	}
	Need(t, name, err, "Debian package "+debianPkg+"; make test installs it")
	return path
}

// NeedChromium returns the path of Debian's headless Chromium, with
// NeedBinary's rules.
func NeedChromium(t testing.TB) string {
	t.Helper()
	return NeedBinary(t, "chromium", "chromium")
}

// Interval is the pause between two calls of a polled condition.
const Interval = 20 * time.Millisecond

// ErrNotYet is what a condition may return while it does not hold and has
// nothing better to say.
var ErrNotYet = errors.New("not yet")

// Poll calls cond until it returns nil, and returns nil then. It gives up
// once within has passed, and after at most within/Interval+2 calls
// whatever the clock says, returning cond's last error. cond bounds its
// own calls.
func Poll(within time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	rounds := int(within/Interval) + 2
	var err error
	for i := 0; i < rounds; i++ {
		if err = cond(); err == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			break
		}
		time.Sleep(Interval) // the poll interval; the deadline bounds the wait
	}
	return err
}

// Eventually polls cond as Poll does and fails t, naming what and cond's
// last error, when cond does not hold within the time given.
func Eventually(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Poll(within, cond); err != nil {
		t.Fatalf("%s: not within %v: %v", what, within, err)
	}
}
