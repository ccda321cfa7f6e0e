// Package report renders report.html, the self-contained HTML report of a
// run, from the files of its run folder alone, so that any stored run can
// be rendered again offline.
package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/runfolder"
	"github.com/faultline/faultline/workloads/transfer"
)

//go:embed report.html.tmpl
var reportTemplateText string

//go:embed report.js
var reportScript string

var reportTemplate = template.Must(template.New("report").Parse(reportTemplateText))

// Limits that keep a report readable for huge histories.
const (
	maxAnomaliesShown = 100
	maxEventsShown    = 50
	maxNemesisShown   = 1000
	maxValueShown     = 300
	// maxLogLines and maxLogTail bound the end of each node log shown
	// inline.
	maxLogLines = 20
	maxLogTail  = 16 << 10
)

// Write renders report.html into the run folder dir from the
// folder's files alone (test.json, results.json, history.jsonl, nodes/,
// checker files), so that any stored run can be rendered again offline.
// It refuses, with an error wrapping core.ErrBadInput, a folder without a
// history file (it is not a run folder) or whose history is not a regular
// file. Other missing or broken files do not stop it: the page says what
// is wrong. The page is written atomically.
func Write(dir string) error {
	var buf bytes.Buffer
	if err := Render(&buf, dir); err != nil {
		return err
	}
	// The error names the file: "write report.html: ...".
	return (&runfolder.Run{Dir: dir}).WriteFile(runfolder.ReportFile, buf.Bytes())
}

// Render writes the HTML report of the run folder dir to w. It fails
// when dir is not a run folder with a history file, as Write says, or when
// w fails; problems with the folder's other files are shown in the page. The page is self-contained: its
// style, script and data are inline, and it loads nothing.
func Render(w io.Writer, dir string) error {
	if err := hasHistory(dir); err != nil {
		return err
	}
	data, err := buildReport(dir)
	if err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if err := reportTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// reportData is everything the template shows. It is built from the run
// folder first and rendered second, so that richer views can be added to
// the model without touching how files are read.
type reportData struct {
	Title        string
	Run          string
	Verdict      string
	VerdictClass string
	VerdictNote  string
	VerdictText  string // the verdict in a sentence
	Duration     string
	Events       int
	Problems     []string // problems reading the run folder
	RunErrors    []string // results.json "errors"
	Checkers     []checkerView
	Counts       *countsView
	Nemesis      []nemesisView
	NemesisMore  int
	Command      string
	Config       []configField
	TestJSON     string
	Files        []fileLink
	CheckerFiles []fileLink
	NodeFiles    []fileLink
	NodeLogs     []nodeLog
	OtherFiles   []fileLink

	// HasTimeline is true when the history gave operations or fault
	// windows to draw.
	HasTimeline   bool
	TimelineNote  string
	LatencySVG    template.HTML
	ThroughputSVG template.HTML
	ChartCaption  string
	FaultWindows  []faultView
	HasLocks      bool   // the history holds lock cycles: the page draws each lock's critical sections
	LocksNote     string // what the lock lanes show, in a sentence
	// Figures are the run's figures: availability and latency by fault
	// window, staleness of reads; nil when there are none to show.
	Figures        *figuresView
	Data           template.JS // JSON for the page's script, HTML-safe
	Script         template.JS
	AnomaliesShown int
}

type checkerView struct {
	Name         string
	Verdict      string
	VerdictClass string
	Summary      string
	Files        []fileLink
	Anomalies    []anomalyView
	AnomalyMore  int
	Details      string
	// Table draws the checker's figures, for checkers that have a table
	// (blocking).
	Table *tableView
}

type anomalyView struct {
	ID          int // position in the timeline data's anomalies
	Kind        string
	Key         string
	Description string
	Ops         []opView
	OpsMore     int
	// Linked is true when the timeline can show the anomaly's operations.
	Linked bool
	// LockLinked is true when the lock lanes can show the anomaly's
	// critical sections (a lock-overlap).
	LockLinked bool
}

// opView is one operation an anomaly involves: its invocation and its
// completion as the history has them, with the events the anomaly names
// marked.
type opView struct {
	Lines []opLine
}

type opLine struct {
	Text  string
	Named bool // the anomaly names this event
}

type countsView struct {
	Rows  []countRow
	Total countRow
}

type countRow struct {
	F string
	runfolder.OpCounts
}

type nemesisView struct {
	Time  string
	F     string
	Type  string
	Value string
	Node  string
	Error string
}

// faultView is one fault window, listed under the timeline.
type faultView struct {
	F     string
	Start string
	End   string
	Open  bool
	Color template.CSS
	Value string
	Error string
}

type configField struct {
	Name  string
	Value string
}

// nodeLog is the end of one node log, shown inline.
type nodeLog struct {
	Link      fileLink
	Tail      string
	Lines     int  // lines in Tail
	Truncated bool // the log has more before Tail
}

type fileLink struct {
	Name string
	Href string
	Size string
	Note string
}

func verdictClass(v core.Verdict) string {
	switch v {
	case core.Valid, core.Invalid:
		return string(v)
	}
	return "unknown"
}

func verdictText(v core.Verdict) string {
	switch v {
	case core.Valid:
		return "No anomaly found: the history could have happened on a correct system."
	case core.Invalid:
		return "The history could not have happened on a correct system: the checkers below say why."
	}
	return "A checker could not decide (its time or memory budget ran out, or the run did not finish); this is not a pass."
}

// pageData is the JSON the page's script reads.
type pageData struct {
	Timeline *timelineJSON `json:"timeline"`
	// Locks is set when the history holds lock cycles.
	Locks *locksJSON `json:"locks,omitempty"`
}

func buildReport(dir string) (*reportData, error) {
	named := dir // the real folder, when dir is a link such as latest
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		named = real
	}
	d := &reportData{
		Run:          filepath.Base(named),
		Title:        filepath.Base(filepath.Dir(named)),
		Verdict:      "not checked",
		VerdictClass: "unknown",
		Script:       template.JS(reportScript),
	}
	problem := func(format string, args ...any) {
		d.Problems = append(d.Problems, fmt.Sprintf(format, args...))
	}

	// results.json
	res, err := runfolder.ReadResults(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.VerdictNote = "results.json is missing: the run was not checked"
	case err != nil:
		problem("%v", err)
		d.VerdictNote = "results.json could not be read"
	default:
		d.Verdict = string(res.Verdict)
		d.VerdictClass = verdictClass(res.Verdict)
		d.VerdictText = verdictText(res.Verdict)
		d.RunErrors = res.Errors
		switch {
		case res.DurationNS > 0:
			d.Duration = time.Duration(res.DurationNS).Round(time.Millisecond).String()
		case !res.Start.IsZero() && res.End.After(res.Start):
			d.Duration = res.End.Sub(res.Start).Round(time.Millisecond).String()
		}
	}

	// test.json
	workload := ""
	if raw, err := runfolder.ReadFile(filepath.Join(dir, runfolder.TestFile)); err == nil {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, raw, "", "  "); err != nil {
			problem("%s: invalid JSON: %v", runfolder.TestFile, err)
			d.TestJSON = string(raw)
		} else {
			d.TestJSON = pretty.String()
			d.Config = topLevelFields(raw)
			var fields map[string]any
			if json.Unmarshal(raw, &fields) == nil {
				if s, ok := fields["command"].(string); ok {
					d.Command = s
				}
				t, _ := fields["target"].(string)
				w, _ := fields["workload"].(string)
				workload = w
				if t != "" && w != "" {
					d.Title = t + " / " + w
				}
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		problem("%s: %v", runfolder.TestFile, err)
	}

	// history.jsonl, read whole: the timeline and charts need every
	// operation.
	hs := readForReport(filepath.Join(dir, runfolder.HistoryFile))
	switch {
	case errors.Is(hs.err, fs.ErrNotExist):
		problem("%s is missing", runfolder.HistoryFile)
	case hs.err != nil:
		problem("%v (the report shows the events before it)", hs.err)
	}
	if hs.info.Torn {
		problem("%s: the last line (line %d, %d bytes) is torn: the run was stopped while writing it; it was ignored",
			runfolder.HistoryFile, hs.info.TornLine, hs.info.TornBytes)
	}
	var counts *runfolder.Counts
	if hs.err == nil {
		c := hs.counter.Result()
		counts = &c
	} else if res != nil {
		counts = &res.Counts
	}
	if counts != nil {
		d.Events = counts.Events
		d.Counts = viewCounts(*counts)
	}
	for _, e := range hs.h {
		if e.Process != core.NemesisProcess {
			continue
		}
		if len(d.Nemesis) == maxNemesisShown {
			d.NemesisMore++
			continue
		}
		d.Nemesis = append(d.Nemesis, nemesisView{
			Time:  formatTime(e.Time),
			F:     e.F,
			Type:  string(e.Type),
			Value: valueText(e.Value),
			Node:  e.Node,
			Error: e.Error,
		})
	}
	if d.Duration == "" && hs.lastTime > 0 {
		d.Duration = time.Duration(hs.lastTime).Round(time.Millisecond).String() + " (from the history)"
	}

	// Operations: the history's invocations paired with their completions.
	ops, err := checkers.Pair(hs.h)
	if err != nil {
		problem("the timeline and charts are left out: %v", err)
		ops = nil
	}
	opOf := make([]int, len(hs.h))
	for i := range opOf {
		opOf[i] = -1
	}
	for i, op := range ops {
		opOf[op.Invoke] = i
		if op.Completed() {
			opOf[op.Complete] = i
		}
	}

	// Checkers.
	checkerFiles := map[string]bool{}
	var anomalyEvents [][]int
	var anomalyKinds []string
	if res != nil {
		for _, c := range res.Checkers {
			cv := checkerView{
				Name:         c.Checker,
				Verdict:      string(c.Verdict),
				VerdictClass: verdictClass(c.Verdict),
				Summary:      c.Summary,
			}
			for _, f := range c.Files {
				checkerFiles[filepath.ToSlash(filepath.Clean(f))] = true
				cv.Files = append(cv.Files, linkTo(dir, f))
			}
			for ai, a := range c.Anomalies {
				if ai >= maxAnomaliesShown {
					cv.AnomalyMore = len(c.Anomalies) - ai
					break
				}
				av := anomalyOps(a, hs.h, ops, opOf)
				av.ID = len(anomalyEvents)
				anomalyEvents = append(anomalyEvents, a.Events)
				anomalyKinds = append(anomalyKinds, a.Kind)
				for _, i := range a.Events {
					if i >= 0 && i < len(opOf) && opOf[i] >= 0 {
						av.Linked = true
					}
				}
				cv.Anomalies = append(cv.Anomalies, av)
			}
			if c.Checker == transfer.BlockingChecker && c.Details != nil {
				cv.Table = blockingTable(c.Details)
			}
			if c.Details != nil {
				var b bytes.Buffer
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false) // html/template escapes the page
				enc.SetIndent("", "  ")
				if err := enc.Encode(c.Details); err == nil {
					cv.Details = strings.TrimSuffix(b.String(), "\n")
				}
			}
			d.Checkers = append(d.Checkers, cv)
		}
	}
	d.AnomaliesShown = len(anomalyEvents)

	// Timeline and charts.
	end := hs.lastTime
	windows, marks := faultWindows(hs.h, end)
	for _, w := range windows {
		d.FaultWindows = append(d.FaultWindows, faultView{F: w.F, Start: formatTime(w.Start), End: formatTime(w.End),
			Open: w.Open, Color: template.CSS(w.Color), Value: w.Value, Error: w.Error})
	}
	if len(ops) > 0 || len(windows) > 0 || len(marks) > 0 {
		d.HasTimeline = true
		tl := buildTimeline(ops, end, windows, marks, opOf, anomalyEvents)
		if tl.ValuesDropped {
			d.TimelineNote = "Values are left out of the timeline to keep this page small; history.jsonl has them."
		}
		pd := pageData{Timeline: tl}
		secs, locks, err := lockSections(ops)
		if err != nil {
			problem("the lock lanes are left out: %v", err)
		}
		if len(locks) > 0 {
			pd.Locks = buildLocks(secs, locks, anomalyEvents, anomalyKinds)
			d.HasLocks = true
			d.LocksNote = locksNote(pd.Locks)
			for ci := range d.Checkers {
				for ai := range d.Checkers[ci].Anomalies {
					av := &d.Checkers[ci].Anomalies[ai]
					av.LockLinked = len(pd.Locks.Anomalies[av.ID]) > 0
				}
			}
		}
		raw, err := json.Marshal(pd) // escapes <, > and & for the script element
		if err != nil {
			return nil, fmt.Errorf("encode timeline: %w", err)
		}
		d.Data = template.JS(raw)
		d.LatencySVG = latencyChart(ops, end, windows)
		d.ThroughputSVG = throughputChart(ops, end, windows)
		d.ChartCaption = chartCaption(ops, end)
	} else {
		d.Data = template.JS(`{"timeline":null}`)
	}
	d.Figures = buildFigures(res, hs.h, isRegister(workload, hs.h), windows, end)

	// Files.
	for _, name := range []string{runfolder.HistoryFile, runfolder.ResultsFile, runfolder.TestFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			d.Files = append(d.Files, linkTo(dir, name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(checkerFiles)) {
		d.CheckerFiles = append(d.CheckerFiles, linkTo(dir, name))
	}
	known := map[string]bool{runfolder.HistoryFile: true, runfolder.ResultsFile: true, runfolder.TestFile: true, runfolder.ReportFile: true, runfolder.NodesDir: true}
	entries, err := os.ReadDir(dir)
	if err != nil {
		problem("list files: %v", err)
	}
	for _, de := range entries {
		name := de.Name()
		if strings.HasPrefix(name, ".") || known[name] || checkerFiles[name] {
			continue
		}
		if de.IsDir() && hasPrefixIn(checkerFiles, name+"/") {
			continue
		}
		d.OtherFiles = append(d.OtherFiles, linkTo(dir, name))
	}
	// Node logs: the files directly in nodes/<node>/; subfolders (data
	// directories) are linked as folders, not listed file by file. The
	// end of each .log file is shown inline.
	nodes, err := os.ReadDir(filepath.Join(dir, runfolder.NodesDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		problem("list node files: %v", err)
	}
	for _, n := range nodes {
		if strings.HasPrefix(n.Name(), ".") {
			continue
		}
		rel := runfolder.NodesDir + "/" + n.Name()
		if !n.IsDir() {
			d.NodeFiles = append(d.NodeFiles, linkTo(dir, rel))
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, runfolder.NodesDir, n.Name()))
		if err != nil {
			problem("list node files: %v", err)
			continue
		}
		for _, f := range files {
			if strings.HasPrefix(f.Name(), ".") {
				continue
			}
			link := linkTo(dir, rel+"/"+f.Name())
			d.NodeFiles = append(d.NodeFiles, link)
			if f.Type().IsRegular() && strings.HasSuffix(f.Name(), ".log") {
				nl, err := tailLog(filepath.Join(dir, runfolder.NodesDir, n.Name(), f.Name()))
				if err != nil {
					problem("read %s: %v", rel+"/"+f.Name(), err)
					continue
				}
				nl.Link = link
				d.NodeLogs = append(d.NodeLogs, nl)
			}
		}
	}
	return d, nil
}

// historyRead is what the report takes from the history.
type historyRead struct {
	h        core.History
	info     history.Info
	err      error
	counter  runfolder.Counter
	lastTime int64
}

// readForReport reads the history at path. On a bad line it keeps the
// events before it and the error.
func readForReport(path string) *historyRead {
	hs := &historyRead{}
	f, err := history.Open(path)
	if err != nil {
		hs.err = err
		return hs
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		hs.h = make(core.History, 0, min(st.Size()/96, 1<<26)+16)
	}
	hs.info, hs.err = history.Scan(f, runfolder.HistoryFile, nil, func(e core.Event) error {
		hs.counter.Add(e)
		hs.lastTime = max(hs.lastTime, e.Time)
		hs.h = append(hs.h, e)
		return nil
	})
	return hs
}

// anomalyOps shows the operations an anomaly names: each event with its
// partner (invocation or completion), the named ones marked.
func anomalyOps(a core.Anomaly, h core.History, ops []checkers.Operation, opOf []int) anomalyView {
	av := anomalyView{Kind: a.Kind, Key: a.Key, Description: a.Description}
	events := a.Events
	if len(events) > maxEventsShown {
		av.OpsMore = len(events) - maxEventsShown
		events = events[:maxEventsShown]
	}
	named := make(map[int]bool, len(events))
	for _, i := range events {
		named[i] = true
	}
	shown := make(map[int]bool, len(events))
	for _, i := range events {
		if shown[i] {
			continue
		}
		shown[i] = true
		if i < 0 || i >= len(h) {
			av.Ops = append(av.Ops, opView{Lines: []opLine{{Text: fmt.Sprintf("#%d (not in the history)", i), Named: true}}})
			continue
		}
		e := h[i]
		line := opLine{Text: formatEvent(e), Named: true}
		p, paired := -1, false
		if opOf[i] >= 0 {
			op := ops[opOf[i]]
			if op.Completed() {
				p, paired = op.Invoke, true
				if i == op.Invoke {
					p = op.Complete
				}
			}
		}
		var partner opLine
		if paired {
			shown[p] = true
			partner = opLine{Text: formatEvent(h[p]), Named: named[p]}
		}
		var op opView
		switch {
		case e.Type != core.Invoke && paired:
			op.Lines = []opLine{partner, line}
		case e.Type == core.Invoke && paired:
			op.Lines = []opLine{line, partner}
		case e.Type == core.Invoke && e.Process != core.NemesisProcess:
			op.Lines = []opLine{line, {Text: "        never completed (counts as info)"}}
		default:
			op.Lines = []opLine{line}
		}
		av.Ops = append(av.Ops, op)
	}
	return av
}

// topLevelFields lists the fields of a JSON object in file order, each
// value as compact JSON (strings unquoted).
func topLevelFields(raw []byte) []configField {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []configField
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return out
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			out = append(out, configField{Name: name, Value: s})
			continue
		}
		var compact bytes.Buffer
		if json.Compact(&compact, v) == nil {
			v = compact.Bytes()
		}
		out = append(out, configField{Name: name, Value: cutText(string(v), maxValueShown)})
	}
	return out
}

// tailLog reads the last lines of a log file.
func tailLog(path string) (nodeLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nodeLog{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nodeLog{}, err
	}
	off := max(st.Size()-maxLogTail, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nodeLog{}, err
	}
	var nl nodeLog
	if off > 0 {
		// Drop the partial first line.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
		nl.Truncated = true
	}
	text := strings.TrimRight(strings.ToValidUTF8(string(buf), "\uFFFD"), "\n")
	lines := strings.Split(text, "\n")
	if len(lines) > maxLogLines {
		lines = lines[len(lines)-maxLogLines:]
		nl.Truncated = true
	}
	if text == "" {
		lines = nil
	}
	nl.Tail = strings.Join(lines, "\n")
	nl.Lines = len(lines)
	return nl, nil
}

func hasPrefixIn(m map[string]bool, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// linkTo links name, a path relative to the run folder, with its size.
func linkTo(dir, name string) fileLink {
	name = filepath.ToSlash(name)
	l := fileLink{Name: name, Href: (&url.URL{Path: path.Clean(name)}).String()}
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		l.Href = ""
		l.Note = "not inside the run folder"
		return l
	}
	st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
	switch {
	case err != nil:
		l.Note = "missing"
	case st.IsDir():
		l.Note = "folder"
	default:
		l.Size = formatSize(st.Size())
	}
	return l
}

func formatSize(n int64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	case n < 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
}

func viewCounts(c runfolder.Counts) *countsView {
	v := &countsView{Total: countRow{F: "total", OpCounts: c.OpCounts}}
	for _, f := range slices.Sorted(maps.Keys(c.ByF)) {
		v.Rows = append(v.Rows, countRow{F: f, OpCounts: c.ByF[f]})
	}
	return v
}

// formatTime shows nanoseconds since the run started as seconds.
func formatTime(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) + "s"
}

func processName(p int) string {
	if p == core.NemesisProcess {
		return "nemesis"
	}
	return "p" + strconv.Itoa(p)
}

// formatEvent shows one event as a readable line:
// "#17  1.234s  p3  ok      cas k2 [1,4]  node=n2  error=...".
func formatEvent(e core.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-6d %9s  %-7s %-6s %s", e.Index, formatTime(e.Time), processName(e.Process), e.Type, e.F)
	if e.Key != "" {
		b.WriteString(" " + e.Key)
	}
	b.WriteString(" " + valueText(e.Value))
	if e.Node != "" {
		b.WriteString("  node=" + e.Node)
	}
	if e.Error != "" {
		b.WriteString("  error=" + strconv.Quote(e.Error))
	}
	return b.String()
}

// valueText shows a value as compact JSON, cut to maxValueShown bytes.
func valueText(v any) string {
	var s string
	if v == nil {
		return "null"
	}
	if raw, ok := v.(json.RawMessage); ok {
		s = string(raw)
	} else {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // html/template escapes the page
		if err := enc.Encode(v); err != nil {
			s = fmt.Sprintf("%v", v)
		} else {
			s = strings.TrimSuffix(b.String(), "\n")
		}
	}
	if len(s) > maxValueShown {
		cut := maxValueShown
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8RuneStart(c byte) bool { return c&0xc0 != 0x80 }

// hasHistory refuses a run folder dir without a history that is a regular
// file: that is not a run folder, and writing report.html into it would
// leave a stray page.
func hasHistory(dir string) error {
	if _, err := runfolder.Open(dir); err != nil {
		return err
	}
	f, err := history.Open(filepath.Join(dir, runfolder.HistoryFile))
	if errors.Is(err, fs.ErrNotExist) {
		return core.BadInput("%s has no %s: not a run folder", dir, runfolder.HistoryFile)
	}
	if err != nil {
		return err
	}
	return f.Close()
}
