package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteTarKeepsLinksAndSkipsVirtualFileSystems(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "dev/pts"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "proc"), 0o555))
	must(os.WriteFile(filepath.Join(root, "dev/null-ish"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(root, "usr/bin/tool"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool2")))
	must(os.Symlink("usr/bin", filepath.Join(root, "bin")))

	var buf bytes.Buffer
	must(writeTar(&buf, root))
	got := map[string]*tar.Header{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		got[h.Name] = h
	}
	for _, name := range []string{"bin", "dev/", "proc/", "usr/", "usr/bin/", "usr/bin/tool", "usr/bin/tool2"} {
		if got[name] == nil {
			t.Errorf("%s missing from %v", name, keys(got))
		}
	}
	for _, name := range []string{"dev/pts/", "dev/null-ish"} {
		if got[name] != nil {
			t.Errorf("%s should be left out", name)
		}
	}
	if h := got["bin"]; h != nil && (h.Typeflag != tar.TypeSymlink || h.Linkname != "usr/bin") {
		t.Errorf("bin: %+v", h)
	}
	tool, tool2 := got["usr/bin/tool"], got["usr/bin/tool2"]
	if tool != nil && tool2 != nil {
		// WalkDir visits tool before tool2: the second is the hard link.
		if tool.Typeflag != tar.TypeReg || tool.Mode&0o777 != 0o755 || tool.Size == 0 {
			t.Errorf("tool: %+v", tool)
		}
		if tool2.Typeflag != tar.TypeLink || tool2.Linkname != "usr/bin/tool" {
			t.Errorf("tool2: %+v", tool2)
		}
	}
}

func keys(m map[string]*tar.Header) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestContextTarAndInputs(t *testing.T) {
	b, err := contextTar(map[string]tarFile{
		"faultline":  {mode: 0o755, data: []byte("ELF")},
		"Dockerfile": {mode: 0o644, data: []byte("FROM x\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "faultline" && h.Mode != 0o755 {
			t.Errorf("faultline mode %o", h.Mode)
		}
	}
	if len(names) != 2 || names[0] != "Dockerfile" || names[1] != "faultline" {
		t.Fatalf("names %v", names)
	}

	h := InputsHash("FROM x", "sha256:1", []byte("bin"))
	if len(h) != 64 || NodeTag(h) != "faultline-node:"+h[:12] {
		t.Fatalf("hash %q tag %q", h, NodeTag(h))
	}
	for _, other := range []string{
		InputsHash("FROM y", "sha256:1", []byte("bin")),
		InputsHash("FROM x", "sha256:2", []byte("bin")),
		InputsHash("FROM x", "sha256:1", []byte("bin2")),
		InputsHash("FROM xsha256:1", "", []byte("bin")), // parts are length-prefixed
	} {
		if other == h {
			t.Fatal("different inputs, same hash")
		}
	}
}

func TestCheckStaticRejectsNonExecutables(t *testing.T) {
	p := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckStatic(p); err == nil {
		t.Fatal("a shell script passed as a static executable")
	}
	// /bin/sh is a dynamically linked program on Debian.
	if err := CheckStatic("/bin/sh"); !errors.Is(err, errNotStatic) || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("/bin/sh: %v; want a dynamically linked error that says how to fix it", err)
	}
}

func TestDockerfileCarriesTheLabels(t *testing.T) {
	for _, want := range []string{"ARG BASE=" + BaseImage + "\n", Label + "=1", LabelRole + "=node", LabelInputs + "=${INPUTS}"} {
		if !strings.Contains(Dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The binary is the last file layer, so that a new binary reuses the package layer.
	if i, j := strings.Index(Dockerfile, "RUN "), strings.Index(Dockerfile, "COPY faultline "); i < 0 || j < i || strings.Contains(Dockerfile[j:], "RUN ") {
		t.Error("the binary must be copied after the one RUN step")
	}
}
