//go:build unix

package serve_test

import (
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/results/report/serve"
	"github.com/faultline/faultline/results/runfolder"
)

// TestNamedPipesAreNotFound: a named pipe in a run folder (as test.json,
// or any file) never blocks a request: the listing skips it and a request
// for it is 404.
func TestNamedPipesAreNotFound(t *testing.T) {
	root, dirs := threeRuns(t)
	for _, name := range []string{"pipe.log", runfolder.TestFile} {
		p := filepath.Join(dirs[2], name)
		syscall.Unlink(p)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := serve.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := "/runs/" + filepath.ToSlash(must(filepath.Rel(root, dirs[2])))
	for path, want := range map[string]int{run + "/pipe.log": http.StatusNotFound, run + "/test.json": http.StatusNotFound, "/": http.StatusOK} {
		done := make(chan int, 1)
		go func() { done <- get(t, s, path, "").StatusCode }()
		select {
		case code := <-done:
			if code != want {
				t.Errorf("GET %s: %d, want %d", path, code, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("GET %s blocked", path)
		}
	}
}
