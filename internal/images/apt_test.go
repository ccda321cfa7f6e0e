package images

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeApt lays out an etc/apt tree under a temporary root.
func writeApt(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, text := range files {
		p := filepath.Join(root, "etc/apt", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDebianMirror(t *testing.T) {
	const deb822 = `Types: deb
# a comment
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
`
	cases := []struct {
		name  string
		files map[string]string
		want  string // "" means an error
	}{
		{"deb822", map[string]string{"sources.list.d/debian.sources": deb822}, "http://mirror.example/debian"},
		{"one line with options", map[string]string{
			"sources.list": "# deb http://old.example/debian bookworm main\n" +
				"deb-src http://src.example/debian bookworm main\n" +
				"deb [arch=amd64 signed-by=/k.gpg] https://one.example/debian bookworm main contrib\n",
		}, "https://one.example/debian"},
		{"sources.list comes first", map[string]string{
			"sources.list":                  "deb http://first.example/debian bookworm main\n",
			"sources.list.d/debian.sources": deb822,
		}, "http://first.example/debian"},
		{"files in name order, other names ignored", map[string]string{
			"sources.list.d/b.list":     "deb http://b.example/debian bookworm main\n",
			"sources.list.d/a.list":     "deb http://a.example/debian bookworm main\n",
			"sources.list.d/0.disabled": "deb http://disabled.example/debian bookworm main\n",
		}, "http://a.example/debian"},
		{"disabled and third-party entries skipped", map[string]string{
			"sources.list.d/a.sources": "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n",
			"sources.list.d/b.sources": "Types: deb\nURIs: https://node.example/node_20.x\nSuites: nodistro\nComponents: main\n",
			"sources.list.d/c.sources": "Types: deb deb-src\nURIs: http://on.example/debian\nSuites: bookworm\nComponents: main\n",
		}, "http://on.example/debian"},
		{"another Debian release is a fallback", map[string]string{
			"sources.list.d/a.sources": "Types: deb\nURIs: https://node.example/node_20.x\nSuites: nodistro\nComponents: main\n",
			"sources.list.d/d.sources": "Types: deb\nURIs: http://trixie.example/debian\nSuites: trixie trixie-updates\nComponents: main\n",
		}, "http://trixie.example/debian"},
		{"a multi-line key does not confuse the parser", map[string]string{
			"sources.list.d/k.sources": "Types: deb\nURIs: http://k.example/debian\nSuites: bookworm\nComponents: main\n" +
				"Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF\n -----END PGP PUBLIC KEY BLOCK-----\n",
		}, "http://k.example/debian"},
		{"only third-party sources", map[string]string{
			"sources.list.d/a.sources": "Types: deb\nURIs: https://node.example/node_20.x\nSuites: nodistro\nComponents: main\n",
		}, ""},
		{"no sources at all", map[string]string{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := debianMirror(writeApt(t, c.files), "bookworm")
			if c.want == "" {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				if !strings.Contains(err.Error(), "no Debian mirror") {
					t.Fatalf("error %q does not say what is missing", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestBaseTagDependsOnMirrorAndSuite(t *testing.T) {
	a := BaseTag("http://a.example/debian", "bookworm")
	if !strings.HasPrefix(a, "faultline-base:bookworm-") || len(a) != len("faultline-base:bookworm-")+12 {
		t.Fatalf("tag %q", a)
	}
	if a != BaseTag("http://a.example/debian", "bookworm") {
		t.Fatal("same inputs, different tags")
	}
	if a == BaseTag("http://b.example/debian", "bookworm") || a == BaseTag("http://a.example/debian", "trixie") {
		t.Fatal("different inputs, same tag")
	}
}

func TestConnectWithoutEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "none.sock"))
	cli, err := Connect(t.Context())
	if err == nil {
		cli.Close()
		t.Fatal("Connect succeeded without an engine")
	}
	if !errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("error %q: want ErrNoEngine naming the socket", err)
	}
}
