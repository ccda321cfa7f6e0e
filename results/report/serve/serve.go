// Package serve is faultline's results browser: one page listing every run
// under a results root, newest first and filterable by verdict and test,
// and the run folders served as static files, so that each run's
// self-contained report opens in the browser. Every file it reads or
// serves is opened through an os.Root, so no path, ".." or symbolic link
// leads outside the results root.
package serve

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/runfolder"
)

// DefaultAddr is the address `faultline serve` listens on by default: the
// loopback interface only.
const DefaultAddr = "127.0.0.1:8080"

// NotChecked is the verdict shown for a run without a readable
// results.json (a run that was interrupted, or is still going).
const NotChecked = "not checked"

// RunInfo describes one run folder in the listing.
type RunInfo struct {
	// Path is the run folder relative to the results root, with slashes:
	// "<target>-<workload>/<UTC timestamp>".
	Path string
	// Test is the folder of the run's test, "<target>-<workload>".
	Test string
	// Title names the test from test.json: target, variant, workload and
	// nemeses; it is Test when test.json is missing.
	Title string
	// Time is when the run started: from the folder's name, else from
	// results.json, else the folder's modification time.
	Time time.Time
	// Verdict is "valid", "invalid", "unknown" or NotChecked.
	Verdict string
	// Duration is the run's length; zero when unknown.
	Duration time.Duration
	// Operations is the number of client operations invoked; -1 when
	// unknown.
	Operations int
	// HasReport is true when the folder holds report.html.
	HasReport bool
}

// Server is the results browser of one results root; it is an
// http.Handler. It reads the root afresh on every request, so runs that
// finish while it serves appear on the next load. Close releases the root.
type Server struct {
	root *os.Root
	dir  string
	mux  *http.ServeMux
}

var _ http.Handler = (*Server)(nil)

// New returns the results browser of the results root dir, which must be
// an existing directory.
func New(dir string) (*Server, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("results folder: %w", err)
	}
	s := &Server{root: root, dir: dir, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.Handle("GET /runs/", http.StripPrefix("/runs", http.HandlerFunc(s.files)))
	return s, nil
}

// Close releases the results root. Requests after Close fail.
func (s *Server) Close() error { return s.root.Close() }

// ServeHTTP serves the listing at / and the run folders under /runs/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// plainText are the extensions served as text whatever their content, so
// that a log holding markup is shown, not rendered.
var plainText = map[string]string{
	".log":   "text/plain; charset=utf-8",
	".jsonl": "text/plain; charset=utf-8",
	".txt":   "text/plain; charset=utf-8",
	".json":  "application/json",
}

func (s *Server) files(w http.ResponseWriter, r *http.Request) {
	if ct, ok := plainText[strings.ToLower(path.Ext(r.URL.Path))]; ok {
		w.Header().Set("Content-Type", ct)
	}
	http.FileServerFS(rootFS{s.root}).ServeHTTP(w, r)
}

// rootFS serves the results root. It answers "does not exist" for every
// path it cannot open but a forbidden one, so the file server says 404, as
// for any path outside the root, instead of 500: a symbolic link that
// leaves the root, a name too long for the file system, a NUL byte. A
// named pipe, a device or a socket is not found either: opening a pipe
// would wait for a writer for ever.
type rootFS struct{ root *os.Root }

func (r rootFS) Open(name string) (fs.File, error) {
	notFound := &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	if !fs.ValidPath(name) {
		return nil, notFound
	}
	f, err := r.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, err
		}
		return nil, notFound
	}
	if st, err := f.Stat(); err != nil || !(st.Mode().IsRegular() || st.IsDir()) {
		f.Close()
		return nil, notFound
	}
	return f, nil
}

// readFile reads name under the root when it is a regular file.
func (s *Server) readFile(name string) ([]byte, error) {
	f, err := rootFS{s.root}.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return io.ReadAll(f)
}

// Runs lists the run folders under the results root, newest first.
func (s *Server) Runs() ([]RunInfo, error) {
	tests, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var runs []RunInfo
	for _, t := range tests {
		// Only real folders: the latest link would list a run twice.
		if !t.IsDir() || strings.HasPrefix(t.Name(), ".") {
			continue
		}
		entries, err := fs.ReadDir(s.root.FS(), t.Name())
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if ri, ok := s.runInfo(t.Name(), e.Name()); ok {
				runs = append(runs, ri)
			}
		}
	}
	slices.SortStableFunc(runs, func(a, b RunInfo) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.Path, a.Path)
	})
	return runs, nil
}

// ListRuns lists the run folders under the results root dir, newest
// first.
func ListRuns(dir string) ([]RunInfo, error) {
	s, err := New(dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Runs()
}

// runInfo reads what the listing shows of test/name; ok is false when the
// folder is not a run folder.
func (s *Server) runInfo(test, name string) (RunInfo, bool) {
	p := test + "/" + name
	ri := RunInfo{Path: p, Test: test, Title: test, Verdict: NotChecked, Operations: -1}
	found := false
	for _, f := range []string{runfolder.TestFile, runfolder.HistoryFile, runfolder.ResultsFile} {
		if _, err := s.root.Stat(p + "/" + f); err == nil {
			found = true
		}
	}
	if !found {
		return ri, false
	}
	if st, err := s.root.Stat(p + "/" + runfolder.ReportFile); err == nil && st.Mode().IsRegular() {
		ri.HasReport = true
	}
	if b, err := s.readFile(p + "/" + runfolder.TestFile); err == nil {
		var t struct {
			Target, Variant, Workload string
			Nemesis                   []string
		}
		if json.Unmarshal(b, &t) == nil && t.Target != "" {
			ri.Title = t.Target
			if t.Variant != "" {
				ri.Title += " (" + t.Variant + ")"
			}
			if t.Workload != "" {
				ri.Title += " / " + t.Workload
			}
			if len(t.Nemesis) > 0 {
				ri.Title += " · " + strings.Join(t.Nemesis, ",")
			}
		}
	}
	var res runfolder.Results
	if b, err := s.readFile(p + "/" + runfolder.ResultsFile); err == nil && json.Unmarshal(b, &res) == nil {
		switch res.Verdict {
		case core.Valid, core.Invalid, core.Unknown:
			ri.Verdict = string(res.Verdict)
			ri.Operations = res.Counts.Invoke
			switch {
			case res.DurationNS > 0:
				ri.Duration = time.Duration(res.DurationNS)
			case !res.Start.IsZero() && res.End.After(res.Start):
				ri.Duration = res.End.Sub(res.Start)
			}
		}
	}
	stamp := name
	if i := strings.LastIndexByte(stamp, '-'); i > 0 {
		if _, err := strconv.Atoi(stamp[i+1:]); err == nil {
			stamp = stamp[:i] // a second run in the same millisecond
		}
	}
	if t, err := time.Parse(runfolder.TimestampFormat, stamp); err == nil {
		ri.Time = t
	} else if !res.Start.IsZero() {
		ri.Time = res.Start.UTC()
	} else if st, err := s.root.Stat(p); err == nil {
		ri.Time = st.ModTime().UTC()
	}
	return ri, true
}

//go:embed index.html.tmpl
var indexText string

var indexTemplate = template.Must(template.New("index").Parse(indexText))

type indexRow struct {
	RunInfo
	When       string
	Dur        string
	Ops        string
	Href       string // the report, or the folder when there is none
	FolderHref string
}

type indexData struct {
	Root     string
	Rows     []indexRow
	Total    int
	Verdict  string
	Test     string
	Verdicts []string
	Tests    []string
	Error    string
}

// runHref links the run folder p (relative to the root), or a file in it.
func runHref(p, file string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	h := "/runs/" + strings.Join(segs, "/") + "/"
	if file != "" {
		h += url.PathEscape(file)
	}
	return h
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := indexData{Root: s.dir, Verdict: q.Get("verdict"), Test: q.Get("test"),
		Verdicts: []string{string(core.Invalid), string(core.Unknown), string(core.Valid), NotChecked}}
	runs, err := s.Runs()
	if err != nil {
		d.Error = err.Error()
	}
	tests := map[string]bool{}
	for _, ri := range runs {
		tests[ri.Test] = true
		if (d.Verdict != "" && ri.Verdict != d.Verdict) || (d.Test != "" && ri.Test != d.Test) {
			continue
		}
		row := indexRow{RunInfo: ri, Ops: "–", Dur: "–", FolderHref: runHref(ri.Path, "")}
		if !ri.Time.IsZero() {
			row.When = ri.Time.UTC().Format("2006-01-02 15:04:05Z")
		}
		if ri.Duration > 0 {
			round := 100 * time.Millisecond
			if ri.Duration < 10*time.Second {
				round = time.Millisecond
			}
			row.Dur = ri.Duration.Round(round).String()
		}
		if ri.Operations >= 0 {
			row.Ops = strconv.Itoa(ri.Operations)
		}
		row.Href = row.FolderHref
		if ri.HasReport {
			row.Href = runHref(ri.Path, runfolder.ReportFile)
		}
		d.Rows = append(d.Rows, row)
	}
	d.Total = len(runs)
	d.Tests = slices.Sorted(func(yield func(string) bool) {
		for t := range tests {
			if !yield(t) {
				return
			}
		}
	})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'")
	h.Set("Cache-Control", "no-store")
	if err := indexTemplate.Execute(w, d); err != nil {
		// Headers are out; the client sees a cut page.
		return
	}
}

// ShutdownGrace is how long Serve lets requests in flight finish once its
// context is done; then it closes every connection.
const ShutdownGrace = 500 * time.Millisecond

// Serve serves h on ln until ctx is done, then shuts the server down:
// idle keep-alive connections and connections that never sent a request
// (a browser's speculative ones) are closed at once, requests in flight
// get ShutdownGrace, and then every connection left is closed. So it
// returns within ShutdownGrace of ctx being done, at once when no request
// is in flight: nil after a shutdown caused by ctx, or the error that
// stopped serving.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	// Connections that have not sent a request yet, which Shutdown
	// would otherwise wait five seconds for.
	var mu sync.Mutex
	fresh := map[net.Conn]bool{}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			if st == http.StateNew {
				fresh[c] = true
			} else {
				delete(fresh, c)
			}
		}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		mu.Lock()
		for c := range fresh {
			c.Close()
		}
		mu.Unlock()
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		var err error
		if serr := srv.Shutdown(sctx); errors.Is(serr, context.DeadlineExceeded) {
			err = srv.Close()
		} else {
			err = serr
		}
		if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		return err
	}
}

// ListenAndServe serves the results browser of the results root dir on
// addr until ctx is done. Once it listens it calls ready, if not nil,
// with the page's URL. On a loopback address it answers only requests
// addressed to a loopback host name, so that a web page elsewhere cannot
// reach it through DNS rebinding.
func ListenAndServe(ctx context.Context, addr, dir string, ready func(url string)) error {
	s, err := New(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	var h http.Handler = s
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		h = LoopbackOnly(s)
	}
	if ready != nil {
		ready("http://" + ln.Addr().String() + "/")
	}
	return Serve(ctx, ln, h)
}

// LoopbackOnly wraps h so that it answers only requests whose Host is
// localhost or a loopback address, with or without a port; others get
// 421 Misdirected Request.
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		ip := net.ParseIP(host)
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "this server answers only to localhost", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}
