package faultline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// staleEDN is a Jepsen cas-register history with a stale read: 1 is read
// after 2 was written and acknowledged. A nemesis partitions the cluster
// meanwhile (each of its operations recorded twice, begun and done).
const staleEDN = `; history.edn
{:process 0, :type :invoke, :f :write, :value 1, :time 1000}
{:process 0, :type :ok, :f :write, :value 1, :time 2000}
{:process :nemesis, :type :info, :f :start-partition, :value nil, :time 2100}
{:process :nemesis, :type :info, :f :start-partition, :value [:isolated {"n1" #{"n2" "n3"}}], :time 2200}
{:process 1, :type :invoke, :f :write, :value 2, :time 3000}
{:process 1, :type :ok, :f :write, :value 2, :time 4000}
{:process 2, :type :invoke, :f :read, :value nil, :time 5000}
{:process 2, :type :ok, :f :read, :value 1, :time 6000}
{:process 3, :type :invoke, :f :cas, :value [2 1], :time 6500}
{:process 3, :type :info, :f :cas, :value [2 1], :time 7500, :error :timed-out}
{:process :nemesis, :type :info, :f :stop-partition, :value nil, :time 8000}
{:process :nemesis, :type :info, :f :stop-partition, :value :network-healed, :time 8100}
`

// okLog is the same without the stale read, as Jepsen's textual log: the
// read returns 2, or the 1 the indeterminate cas may have set.
const okLog = `INFO  jepsen.util - 0	:invoke	:write	1
INFO  jepsen.util - 0	:ok	:write	1
INFO  jepsen.util - 1	:invoke	:write	2
INFO  jepsen.util - 1	:ok	:write	2
INFO  jepsen.util - 3	:invoke	:cas	[2 1]
INFO  jepsen.util - 3	:info	:cas	:timed-out
INFO  jepsen.util - 2	:invoke	:read	nil
INFO  jepsen.util - 2	:ok	:read	1
`

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkWith(path string, cfg CheckConfig) (*Result, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	return Check(context.Background(), path, cfg)
}

// TestCheckJepsenHistories: `check --format jepsen` judges Jepsen's
// histories with the register workload, like any history.
func TestCheckJepsenHistories(t *testing.T) {
	dir := t.TempDir()
	edn := writeFile(t, filepath.Join(dir, "history.edn"), staleEDN)
	log := writeFile(t, filepath.Join(dir, "etcd.log"), okLog)
	for _, format := range []string{"", FormatJepsen} {
		res, err := checkWith(edn, CheckConfig{Format: format})
		if err != nil {
			t.Fatalf("format %q: %v", format, err)
		}
		if res.Verdict != Invalid || res.Dir != "" {
			t.Fatalf("format %q: %s in %q; want invalid, no run folder", format, res.Verdict, res.Dir)
		}
		lin := res.Checkers[0]
		if lin.Checker != "linearizability" || len(lin.Anomalies) != 1 || lin.Anomalies[0].Key != "k0" {
			t.Fatalf("format %q: %+v; want one linearizability anomaly on k0", format, lin)
		}
		if a := lin.Anomalies[0]; !slices.Contains(a.Events, 6) || !slices.Contains(a.Events, 7) || !strings.Contains(a.Description, "read returned 1") {
			t.Errorf("format %q: the anomaly %+v does not name the stale read (events 6 and 7)", format, a)
		}
		c := res.Counts
		if c.OK != 3 || c.Fail != 0 || c.Info != 1 || c.Nemesis != 4 {
			t.Errorf("format %q: counts %+v; want 3 ok, 1 info, 4 nemesis events", format, c)
		}
		if len(res.Errors) != 0 {
			t.Errorf("format %q: notes %q; want none", format, res.Errors)
		}
		if res.Figures == nil {
			t.Errorf("format %q: no figures", format)
		}
	}
	// A .log is read as Jepsen's only when told.
	if _, err := checkWith(log, CheckConfig{}); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "etcd.log line 1: not a JSON object") {
		t.Errorf("a .log as faultline's format: %v; want bad input at line 1", err)
	}
	res, err := checkWith(log, CheckConfig{Format: FormatJepsen, Workload: "register"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Valid || res.Counts.OK != 3 || res.Counts.Info != 1 {
		t.Errorf("etcd.log: %s, %+v; want valid, 3 ok, 1 info", res.Verdict, res.Counts)
	}
	if want := []string{log + " has no :time: its events are placed 1ms apart in history order, so its durations and rates are not real"}; !slices.Equal(res.Errors, want) {
		t.Errorf("etcd.log: notes %q, want %q", res.Errors, want)
	}
}

// TestCheckFormatResolution: a folder holding a Jepsen history and no
// history.jsonl is read as Jepsen's; a run folder stays faultline's; an
// unknown format, another workload than register for a Jepsen history and
// a Jepsen history read as faultline's are bad input.
func TestCheckFormatResolution(t *testing.T) {
	jepsenDir := filepath.Join(t.TempDir(), "store", "cas", "20240101T000000")
	writeFile(t, filepath.Join(jepsenDir, "history.txt"), okLog)
	writeFile(t, filepath.Join(jepsenDir, "jepsen.log"), "INFO jepsen.core - Run complete\n")
	res, err := checkWith(jepsenDir, CheckConfig{})
	if err != nil || res.Verdict != Valid {
		t.Fatalf("Jepsen folder: %v, %v; want valid", res, err)
	}
	writeFile(t, filepath.Join(jepsenDir, "history.edn"), staleEDN)
	if res, err = checkWith(jepsenDir, CheckConfig{}); err != nil || res.Verdict != Invalid {
		t.Fatalf("Jepsen folder with history.edn: %v, %v; want invalid (history.edn is preferred)", res, err)
	}

	runDir := t.TempDir()
	writeFile(t, filepath.Join(runDir, "history.edn"), staleEDN)
	writeFile(t, filepath.Join(runDir, "history.jsonl"), lines(invokeW, okW))
	if res, err = checkWith(runDir, CheckConfig{}); err != nil || res.Verdict != Valid || res.Dir != runDir {
		t.Fatalf("run folder: %v, %v; want valid, read as faultline's", res, err)
	}

	edn := filepath.Join(jepsenDir, "history.edn")
	cases := map[string]struct {
		path string
		cfg  CheckConfig
		say  string
	}{
		"unknown format":        {edn, CheckConfig{Format: "knossos"}, `unknown --format "knossos"; valid formats: faultline, jepsen`},
		"another workload":      {edn, CheckConfig{Workload: "bank"}, `--format jepsen reads cas-register histories, which the register workload judges; --workload "bank" cannot`},
		"jepsen as faultline's": {edn, CheckConfig{Format: FormatFaultline}, edn + " line 1: not a JSON object"},
		"empty folder":          {t.TempDir(), CheckConfig{Format: FormatJepsen}, "has neither history.edn nor history.txt: not a Jepsen run folder"},
		"bad operation":         {writeFile(t, filepath.Join(t.TempDir(), "h.edn"), "[{:process 0, :type :invoke, :f :write, :value 1}\n {:process 0, :type :done, :f :write, :value 1}]"), CheckConfig{}, "h.edn line 2: unknown :type `:done` (want :invoke, :ok, :fail or :info)"},
	}
	for name, c := range cases {
		res, err := checkWith(c.path, c.cfg)
		if !errors.Is(err, ErrBadInput) || res != nil || !strings.Contains(err.Error(), c.say) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, %v; want one line of bad input saying %q", name, res, err, c.say)
		}
	}
}
