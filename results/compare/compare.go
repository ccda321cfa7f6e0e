// Package compare shows two or more stored runs side by side: what each
// ran, its verdict and anomalies, its throughput, latency, availability
// under each fault and the staleness of its reads. It holds the
// comparison's data (Comparison, written as compare.json) and its two
// renderings, a table for the terminal (WriteTable) and a self-contained
// HTML page (RenderHTML); faultline.Compare builds a Comparison from run
// folders.
package compare

import (
	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/runfolder"
)

// Names of the files Write puts into a comparison's folder, and of the
// folder under the results root that holds every comparison.
const (
	// Folder, under the results root, holds one folder per comparison,
	// named after its UTC time as run folders are.
	Folder = "compare"
	// PageFile is the HTML page.
	PageFile = "compare.html"
	// JSONFile is the Comparison as JSON.
	JSONFile = "compare.json"
)

// Figures sources of Run.FiguresFrom.
const (
	// FromResults: the figures are results.json's "figures".
	FromResults = "results.json"
	// FromHistory: results.json has no figures (a run written before
	// they were measured); they were computed from history.jsonl.
	FromHistory = "history.jsonl"
)

// Comparison is two or more runs side by side, in the order they were
// given: what `faultline compare` shows and compare.json holds.
type Comparison struct {
	Runs []Run `json:"runs"`
}

// Run is one run of a Comparison.
type Run struct {
	// Label names the run in column headers: target, variant and its
	// position in the comparison ("demo-kv safe #1").
	Label string `json:"label"`
	// Dir is the run folder, as found from the argument (a results
	// root's latest link or a <target>-<workload> folder resolved to
	// the run folder it means); Name is its last element, the run's UTC
	// start time.
	Dir  string `json:"dir"`
	Name string `json:"name"`
	// Report is the run's report.html when the folder has one.
	Report string `json:"report,omitempty"`

	// What ran, from test.json (empty when the folder has none).
	Target      string   `json:"target"`
	Variant     string   `json:"variant"`
	Workload    string   `json:"workload"`
	Provider    string   `json:"provider"`
	Seed        int64    `json:"seed"`
	Nemesis     []string `json:"nemesis"`
	Concurrency int      `json:"concurrency"`
	// TimeLimit is test.json's time_limit, a Go duration ("20s").
	TimeLimit string `json:"time_limit"`

	// Verdict is results.json's verdict; Checkers what each checker
	// said, in results.json's order.
	Verdict  core.Verdict `json:"verdict"`
	Checkers []Checker    `json:"checkers"`
	// Counts are results.json's client operation counts, over the whole
	// history (final reads included).
	Counts runfolder.OpCounts `json:"counts"`

	// All is the figures' row of the whole load phase (period "all"):
	// ok operations, ok/s and latency percentiles; nil when there are no
	// figures or they lack the row.
	All *figures.Period `json:"all,omitempty"`
	// Figures are the run's figures (Staleness without its samples);
	// nil when neither results.json nor the history gave any.
	Figures *figures.Figures `json:"figures"`
	// FiguresFrom says where Figures came from: FromResults, FromHistory,
	// or empty when there are none.
	FiguresFrom string `json:"figures_from,omitempty"`
	// Notes are what could not be read, one line each (a missing
	// test.json, a history the figures could not be computed from).
	Notes []string `json:"notes,omitempty"`
}

// Checker is what one checker said about a run.
type Checker struct {
	Checker string       `json:"checker"`
	Verdict core.Verdict `json:"verdict"`
	// Anomalies counts its anomalies; FirstAnomaly is the first one's
	// description.
	Anomalies    int    `json:"anomalies"`
	FirstAnomaly string `json:"first_anomaly,omitempty"`
}
