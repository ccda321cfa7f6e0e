//go:build unix

package faultline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCheckRefusesSpecialFilesAndFoldersWithoutHistory(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	runWithFIFO := filepath.Join(dir, "run")
	os.Mkdir(runWithFIFO, 0o755)
	if err := syscall.Mkfifo(filepath.Join(runWithFIFO, "history.jsonl"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifoTest := filepath.Join(dir, "fifo-test")
	os.Mkdir(fifoTest, 0o755)
	os.WriteFile(filepath.Join(fifoTest, "history.jsonl"), []byte(lines(invokeW, okW)), 0o644)
	if err := syscall.Mkfifo(filepath.Join(fifoTest, "test.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	for path, say := range map[string]string{fifo: "is a named pipe", runWithFIFO: "is a named pipe", "/dev/zero": "is a device",
		empty: "has no history.jsonl: not a run folder", fifoTest: "test.json is not a regular file", filepath.Join(dir, "none"): "no such run folder or history file"} {
		done := make(chan error, 1)
		go func() {
			_, err := Check(context.Background(), path, CheckConfig{Timeout: time.Minute})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), say) {
				t.Errorf("%s: %v, want bad input saying %q", path, err, say)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: check blocked", path)
		}
	}
}
