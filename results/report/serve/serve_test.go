package serve_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/report/serve"
	"github.com/faultline/faultline/results/runfolder"
)

var base = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// threeRuns writes a results root with a valid, an invalid and an
// unchecked run, the latest link and some folders that are not runs.
func threeRuns(t *testing.T) (root string, dirs []string) {
	t.Helper()
	root = t.TempDir()
	valid := []core.CheckResult{{Checker: "linearizability", Verdict: core.Valid, Summary: "linearizable"}}
	invalid := []core.CheckResult{{Checker: "linearizability", Verdict: core.Invalid, Summary: "not linearizable",
		Anomalies: []core.Anomaly{{Kind: "stale-read", Key: "k0", Description: "read 0 after write 1", Events: []int{2, 4}}}}}
	dirs = append(dirs,
		writeRun(t, runSpec{root: root, target: "demo-kv", workload: "register", when: base, history: smallHistory(), checks: valid,
			test: map[string]any{"variant": "safe"}}),
		writeRun(t, runSpec{root: root, target: "demo-kv", workload: "register", when: base, history: smallHistory(), checks: invalid,
			test: map[string]any{"variant": "unsafe"}}), // same millisecond: folder name gets -2
		writeRun(t, runSpec{root: root, target: "other", workload: "bank", when: base.Add(time.Hour), history: smallHistory(), noReport: true}),
	)
	if err := (&runfolder.Run{Dir: dirs[1], Root: root}).UpdateLatest(); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "demo-kv-register", "not-a-run"), 0o755)
	os.MkdirAll(filepath.Join(root, ".hidden", "x"), 0o755)
	os.WriteFile(filepath.Join(root, "stray.txt"), []byte("x"), 0o644)
	return root, dirs
}

func TestListRunsNewestFirst(t *testing.T) {
	root, dirs := threeRuns(t)
	runs, err := serve.ListRuns(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("listed %d runs: %+v", len(runs), runs)
	}
	rel := func(dir string) string {
		r, _ := filepath.Rel(root, dir)
		return filepath.ToSlash(r)
	}
	other, invalid, valid := runs[0], runs[1], runs[2]
	if other.Path != rel(dirs[2]) || other.Verdict != serve.NotChecked || other.Operations != -1 || other.HasReport ||
		other.Title != "other / bank" || !other.Time.Equal(base.Add(time.Hour)) {
		t.Errorf("unchecked run: %+v", other)
	}
	if invalid.Path != rel(dirs[1]) || !strings.HasSuffix(invalid.Path, "-2") || invalid.Verdict != "invalid" ||
		!invalid.Time.Equal(base) || invalid.Title != "demo-kv (unsafe) / register" || !invalid.HasReport {
		t.Errorf("invalid run: %+v", invalid)
	}
	if valid.Path != rel(dirs[0]) || valid.Verdict != "valid" || valid.Operations != 3 || valid.Duration != 12*time.Millisecond ||
		valid.Test != "demo-kv-register" {
		t.Errorf("valid run: %+v", valid)
	}
	if _, err := serve.ListRuns(filepath.Join(root, "missing")); err == nil {
		t.Error("listing a missing folder succeeded")
	}
}

func get(t *testing.T, h http.Handler, path, host string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", "http://localhost/", nil)
	req.URL.Path = path // as sent, not cleaned
	if host != "" {
		req.Host = host
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIndexListsAndFilters(t *testing.T) {
	root, _ := threeRuns(t)
	s, err := serve.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := get(t, s, "/", "")
	page := body(t, r)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || r.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("index: %d %v", r.StatusCode, r.Header)
	}
	if n := strings.Count(page, `<tr class="run"`); n != 3 {
		t.Errorf("index lists %d runs, want 3", n)
	}
	if !strings.Contains(page, `href="/runs/demo-kv-register/20260501T120000.000Z-2/report.html"`) ||
		!strings.Contains(page, `href="/runs/other-bank/20260501T130000.000Z/">other / bank</a>`) {
		t.Error("index does not link the reports, or the folder of a run without one")
	}
	for q, want := range map[string]int{"?verdict=invalid": 1, "?verdict=not+checked": 1, "?test=demo-kv-register": 2,
		"?verdict=valid&test=other-bank": 0} {
		req := httptest.NewRequest("GET", "/"+q, nil)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if n := strings.Count(rec.Body.String(), `<tr class="run"`); n != want {
			t.Errorf("%s lists %d runs, want %d", q, n, want)
		}
	}
	if r := get(t, s, "/nothing", ""); r.StatusCode != 404 {
		t.Errorf("/nothing: %d", r.StatusCode)
	}
}

func TestFilesStayInsideRoot(t *testing.T) {
	root, dirs := threeRuns(t)
	outside := filepath.Join(t.TempDir(), "secret.txt")
	const secret = "the secret outside the results folder"
	if err := os.WriteFile(outside, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	nodes := filepath.Join(dirs[0], runfolder.NodesDir)
	relOut, err := filepath.Rel(nodes, outside)
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink(outside, filepath.Join(nodes, "abs.log"))
	os.Symlink(relOut, filepath.Join(nodes, "rel.log"))
	os.WriteFile(filepath.Join(nodes, "html.log"), []byte("<html><script>alert(1)</script>"), 0o644)

	s, err := serve.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := "/runs/" + filepath.ToSlash(must(filepath.Rel(root, dirs[0])))
	for _, p := range []string{run + "/report.html", "/runs/latest/report.html", run + "/history.jsonl", run + "/"} {
		if r := get(t, s, p, ""); r.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, r.StatusCode)
		}
	}
	for _, p := range []string{
		run + "/nodes/abs.log", run + "/nodes/rel.log",
		"/runs/../" + filepath.Base(filepath.Dir(outside)) + "/secret.txt",
		"/runs/%2e%2e/secret.txt", "/runs/..%2fsecret.txt",
	} {
		r := get(t, s, p, "")
		if b := body(t, r); r.StatusCode == 200 || strings.Contains(b, secret) {
			t.Errorf("GET %s: %d %q: a path outside the results folder was served", p, r.StatusCode, b)
		}
	}
	// Links that leave the root, names too long for the file system and
	// NUL bytes are not found, never a server error.
	for _, p := range []string{
		run + "/nodes/abs.log", run + "/nodes/rel.log",
		run + "/" + strings.Repeat("x", 300), "/runs/" + strings.Repeat("a/", 3000) + "x",
		run + "/history.jsonl\x00.txt", "/runs/\x00",
	} {
		if r := get(t, s, p, ""); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %.80q: %d, want 404", p, r.StatusCode)
		}
	}
	r := get(t, s, run+"/nodes/html.log", "")
	if ct := r.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("a log is served as %q (nosniff %q)", ct, r.Header.Get("X-Content-Type-Options"))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLoopbackOnly(t *testing.T) {
	h := serve.LoopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for host, want := range map[string]int{
		"localhost:8080": 200, "LOCALHOST": 200, "127.0.0.1:8080": 200, "127.3.4.5": 200, "[::1]:8080": 200,
		"evil.example:8080": 421, "10.0.0.1:8080": 421, "localhost.evil.example": 421,
	} {
		if r := get(t, h, "/", host); r.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, r.StatusCode, want)
		}
	}
}

func TestListenAndServeStopsWithContext(t *testing.T) {
	root, _ := threeRuns(t)
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve.ListenAndServe(ctx, "127.0.0.1:0", root, func(u string) { urls <- u }) }()
	var u string
	select {
	case u = <-urls:
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(page, `<tr class="run"`) != 3 {
		t.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return 10s after cancel")
	}
	if err := serve.ListenAndServe(context.Background(), "127.0.0.1:0", filepath.Join(root, "missing"), nil); err == nil {
		t.Error("serving a missing folder succeeded")
	}
}

// TestServeStopsPromptlyWithIdleConnections opens a keep-alive connection
// that has served a request and one that never sends a request (as a
// browser's speculative connection), then cancels the context: Serve must
// return at once, not wait for the idle connections.
func TestServeStopsPromptlyWithIdleConnections(t *testing.T) {
	root, _ := threeRuns(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve.ListenAndServe(ctx, "127.0.0.1:0", root, func(u string) { urls <- u }) }()
	var u string
	select {
	case u = <-urls:
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	// A keep-alive connection, idle after one request.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// A connection that never sends a request.
	silent, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		took := time.Since(start)
		t.Logf("stopped %v after cancel with two idle connections open", took.Round(time.Millisecond))
		if err != nil {
			t.Errorf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return within 5s of cancel")
	}
	// The silent connection was closed by the server.
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the silent connection is still open: %v", err)
	}
}
