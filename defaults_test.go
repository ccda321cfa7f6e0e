package faultline_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline"
)

// TestDefaultResultsRootIsNoSourceFolder: `faultline run` with no flags,
// the README's first command, writes its run folders under the default
// results root, relative to the working folder: in a fresh clone, the
// repository root. No Go source of the module may live there or above it
// (a run folder inside a package folder is a stray file in the source),
// and git ignores it, so that `git status` stays clean after a run.
func TestDefaultResultsRootIsNoSourceFolder(t *testing.T) {
	root := faultline.DefaultTest().Results
	if !filepath.IsLocal(root) {
		t.Fatalf("default results root %q is not a relative folder below the working folder", root)
	}
	root = filepath.Clean(root)
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatalf("the test runs in the module root: %v", err)
	}
	// The folders that the root is, is below, or holds.
	covered := func(dir string) bool {
		return dir == root || strings.HasPrefix(dir, root+string(filepath.Separator)) ||
			strings.HasPrefix(root, dir+string(filepath.Separator))
	}
	sources := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(path) != ".go" {
			return nil
		}
		sources++
		if dir := filepath.Dir(path); dir != "." && covered(dir) {
			t.Errorf("default results root %q and Go source %s share a folder", root, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sources == 0 {
		t.Fatal("found no Go source in the module: the walk is broken")
	}

	git, err := exec.LookPath("git")
	if err != nil || exec.Command(git, "rev-parse", "--is-inside-work-tree").Run() != nil {
		t.Log("not a git work tree: whether git ignores the results root is not checked")
		return
	}
	for _, path := range []string{
		filepath.Join(root, "demo-kv-register", "20260101T000000.000Z", "history.jsonl"),
		filepath.Join(root, "latest"),
	} {
		if err := exec.Command(git, "check-ignore", "-q", path).Run(); err != nil {
			t.Errorf("git does not ignore %s (git check-ignore: %v): a run leaves untracked files", path, err)
		}
	}
}
