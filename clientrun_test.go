package faultline_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

// runNoting is myRegister noting the Run of every client it makes.
type runNoting struct {
	myRegister
	mu   *sync.Mutex
	runs map[string]int
}

func (r runNoting) NewClient(cfg targets.ClientConfig) (core.Client, error) {
	r.mu.Lock()
	r.runs[cfg.Run]++
	r.mu.Unlock()
	return r.myRegister.NewClient(cfg)
}

// TestClientsKnowTheirRun: every client of a run, final reads included,
// is told the run's name, the run folder's, so that a system outliving
// runs can keep their data apart.
func TestClientsKnowTheirRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end runs are skipped with -short")
	}
	tg := runNoting{mu: &sync.Mutex{}, runs: map[string]int{}}
	test := faultline.DefaultTest()
	test.Target, test.System, test.Variant, test.Nodes, test.Nemesis = "", tg, "correct", 1, nil
	test.TimeLimit, test.Results = 300*time.Millisecond, t.TempDir()
	res, err := faultline.Run(t.Context(), test)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Base(res.Dir)
	if len(tg.runs) != 1 || tg.runs[want] < test.Concurrency+test.Keys {
		t.Fatalf("clients were told %v; want every one (at least %d) told %q", tg.runs, test.Concurrency+test.Keys, want)
	}
}
