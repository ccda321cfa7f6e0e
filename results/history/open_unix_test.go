//go:build unix

package history

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
)

// TestOpenRefusesSpecialFiles shows that a named pipe (with no writer, so
// a plain open would block for ever), a device and a folder are refused at
// once as bad input, each named for what it is.
func TestOpenRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "history.jsonl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{fifo: "a named pipe", "/dev/null": "a device", dir: "a folder"}
	for path, what := range cases {
		done := make(chan error, 1)
		go func() {
			_, err := ReadFile(path, nil)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), what) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: %v, want bad input naming the path and %q", path, err, what)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: reading blocked", path)
		}
	}
}
