package faultline_test

import (
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// urlHosts are the hosts a comment or document may name: XML namespaces,
// loopback, and the reserved .example domain of tests. A library's
// homepage may be added here when a document needs it.
var urlHosts = map[string]bool{"www.w3.org": true, "localhost": true, "127.0.0.1": true}

var (
	urlPattern  = regexp.MustCompile(`https?://[^\s"'<>()\x60\\]+`)
	linkPattern = regexp.MustCompile(`\]\(([^)\s#]+)(#[^)]*)?\)`)
)

// TestDocumentsStayInsideTheRepository: no source file, script or
// document points at a file outside the repository or at a web address
// other than those of urlHosts, and every relative link of a Markdown
// file names a file of the repository. The repository documents itself
// (README.md, docs/).
func TestDocumentsStayInsideTheRepository(t *testing.T) {
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") && d.Name() != ".ci" || d.Name() == "faultline-results") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".sh", ".html", ".js", ".css", ".xsd", "":
		default:
			if d.Name() != "Makefile" && d.Name() != "Dockerfile" {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.ContainsRune(string(b[:min(len(b), 512)]), 0) {
			return nil // binary
		}
		files++
		text := string(b)
		for _, bad := range []string{"DESIGN.md", "../shared", "/work/"} {
			if path != "docs_test.go" && strings.Contains(text, bad) {
				t.Errorf("%s mentions %q, which is outside the repository; point at docs/ instead", path, bad)
			}
		}
		for _, u := range urlPattern.FindAllString(text, -1) {
			if _, rest, _ := strings.Cut(u, "://"); strings.HasPrefix(rest, "{") {
				continue // a test file's URL template: its host is a node's, filled in by the run
			}
			p, err := url.Parse(strings.TrimRight(u, ".,;:"))
			if err != nil {
				t.Errorf("%s: unreadable address %q", path, u)
				continue
			}
			host := p.Hostname()
			if !urlHosts[host] && !strings.HasSuffix(host, ".example") && host != "example" {
				t.Errorf("%s points at %s, outside the repository (allowed: %v and .example)", path, u, urlHosts)
			}
		}
		if filepath.Ext(path) == ".md" {
			for _, m := range linkPattern.FindAllStringSubmatch(text, -1) {
				target := m[1]
				if strings.Contains(target, "://") {
					continue // checked above
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), target)); err != nil {
					t.Errorf("%s links to %s, which is not in the repository", path, target)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("read only %d files: the walk is broken", files)
	}
}
