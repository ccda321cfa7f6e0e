package browsertest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testenv"
)

const importPath = "github.com/faultline/faultline/internal/browsertest"

// TestOnlyTestsImportIt reads every Go file of the module: only _test.go
// files may import this package.
func TestOnlyTestsImportIt(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == importPath {
				t.Errorf("%s imports %s, which is for tests only", path, importPath)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read only %d Go files under %s", files, root)
	}
}

// TestPageCollectsConsoleAndSavesScreenshots opens a page that logs an
// error and a warning: the tab has both, and a screenshot lands in the
// folder FAULTLINE_SCREENSHOTS names.
func TestPageCollectsConsoleAndSavesScreenshots(t *testing.T) {
	p := NewPage(t, 700, 500)
	dir := t.TempDir()
	t.Setenv(EnvScreenshots, dir)
	page := filepath.Join(t.TempDir(), "page.html")
	html := `<!doctype html><title>t</title><p id="p">hello</p>
<script>console.log("fine"); console.error("broken one"); console.warn("careful");</script>`
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Open(FileURL(page), "#p")
	if got := Eval[string](p, `document.getElementById("p").textContent`); got != "hello" {
		t.Errorf("page text %q", got)
	}
	if w := Eval[int](p, `window.innerWidth`); w != 700 {
		t.Errorf("window %d px wide, want 700", w)
	}
	testenv.Eventually(t, 10*time.Second, "console messages", func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.errs) < 2 {
			return testenv.ErrNotYet
		}
		return nil
	})
	p.mu.Lock()
	errs := slices.Clone(p.errs)
	p.mu.Unlock()
	if len(errs) != 2 || !strings.Contains(errs[0], "broken one") || !strings.Contains(errs[1], "careful") {
		t.Errorf("console errors %q, want the error and the warning, not the log", errs)
	}
	p.Screenshot("shot")
	st, err := os.Stat(filepath.Join(dir, "TestPageCollectsConsoleAndSavesScreenshots", "shot.png"))
	if err != nil || st.Size() == 0 {
		t.Errorf("screenshot: %v", err)
	}
}
