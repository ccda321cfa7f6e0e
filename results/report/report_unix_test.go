//go:build unix

package report

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/runfolder"
)

func TestReportRefusesANamedPipeAsHistory(t *testing.T) {
	r, err := runfolder.New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(r.HistoryPath(), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Write(r.Dir) }()
	select {
	case err := <-done:
		if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), "named pipe") {
			t.Fatalf("report of a run whose history is a named pipe: %v, want bad input", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("report blocked on a named pipe")
	}
	if _, err := os.Stat(r.Path(runfolder.ReportFile)); err == nil {
		t.Error("a report was written")
	}
}
