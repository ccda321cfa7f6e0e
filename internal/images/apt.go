package images

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// aptSource is one enabled binary-package source of the machine's apt.
type aptSource struct {
	uri        string
	suites     []string
	components []string
	signedBy   string
	file       string
}

// debianReleases are the Debian suite names that mark a source as Debian's
// own archive when none names the wanted suite.
var debianReleases = []string{
	"buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
	"oldstable", "stable", "testing", "unstable",
}

// DebianMirror returns the address of the Debian mirror that the machine's
// apt uses for suite, read from /etc/apt/sources.list and the .list and
// .sources files of /etc/apt/sources.list.d. It prefers a source that names
// suite itself; failing that, one that names another Debian release (a
// Debian mirror carries every release). The address has no trailing slash.
func DebianMirror(suite string) (string, error) {
	return debianMirror("/", suite)
}

// debianMirror is DebianMirror with the file system rooted at root.
func debianMirror(root, suite string) (string, error) {
	srcs, err := readAptSources(root)
	if err != nil {
		return "", err
	}
	var fallback string
	for _, s := range srcs {
		if !slices.Contains(s.components, "main") {
			continue
		}
		if slices.Contains(s.suites, suite) {
			return s.uri, nil
		}
		if fallback == "" && (strings.Contains(s.signedBy, "debian-archive-keyring") ||
			slices.ContainsFunc(s.suites, func(x string) bool { return slices.Contains(debianReleases, x) })) {
			fallback = s.uri
		}
	}
	if fallback != "" {
		return fallback, nil
	}
	return "", fmt.Errorf("no Debian mirror with component main in the apt sources (%s)",
		filepath.Join(root, "etc/apt/sources.list{,.d/}"))
}

// readAptSources reads the enabled "deb" sources in apt's order: the
// sources.list file, then the files of sources.list.d by name.
func readAptSources(root string) ([]aptSource, error) {
	dir := filepath.Join(root, "etc/apt")
	var out []aptSource
	main := filepath.Join(dir, "sources.list")
	b, err := os.ReadFile(main)
	switch {
	case err == nil:
		out = append(out, parseOneLine(b, main)...)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read apt sources: %w", err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "sources.list.d"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read apt sources: %w", err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, "sources.list.d", n)
		var parse func([]byte, string) []aptSource
		switch filepath.Ext(n) {
		case ".list":
			parse = parseOneLine
		case ".sources":
			parse = parseDeb822
		default:
			continue // apt ignores other names too
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read apt sources: %w", err)
		}
		out = append(out, parse(b, p)...)
	}
	return out, nil
}

// parseOneLine parses the one-line format:
// "deb [opt=value ...] uri suite [component ...]".
func parseOneLine(b []byte, file string) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		var signedBy string
		if strings.HasPrefix(f[0], "[") {
			// Options run up to the first field that ends with "]".
			i := slices.IndexFunc(f, func(s string) bool { return strings.HasSuffix(s, "]") })
			if i < 0 {
				continue
			}
			for _, o := range f[:i+1] {
				o = strings.Trim(o, "[]")
				if k, v, ok := strings.Cut(o, "="); ok && strings.EqualFold(k, "signed-by") {
					signedBy = v
				}
			}
			f = f[i+1:]
		}
		if len(f) < 2 || !usableURI(f[0]) {
			continue
		}
		out = append(out, aptSource{
			uri: strings.TrimRight(f[0], "/"), suites: f[1:2], components: f[2:],
			signedBy: signedBy, file: file,
		})
	}
	return out
}

// parseDeb822 parses the deb822 format of .sources files: paragraphs of
// "Field: value" lines separated by blank lines.
func parseDeb822(b []byte, file string) []aptSource {
	var out []aptSource
	fields := map[string]string{}
	var last string
	flush := func() {
		defer func() { fields = map[string]string{}; last = "" }()
		if strings.EqualFold(fields["enabled"], "no") ||
			!slices.Contains(strings.Fields(fields["types"]), "deb") {
			return
		}
		suites := strings.Fields(fields["suites"])
		comps := strings.Fields(fields["components"])
		for _, u := range strings.Fields(fields["uris"]) {
			if usableURI(u) && len(suites) > 0 {
				out = append(out, aptSource{
					uri: strings.TrimRight(u, "/"), suites: suites, components: comps,
					signedBy: fields["signed-by"], file: file,
				})
			}
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				fields[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// usableURI reports whether debootstrap can fetch from u.
func usableURI(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch p.Scheme {
	case "http", "https", "ftp":
		return p.Host != ""
	case "file":
		return p.Path != ""
	}
	return false
}
