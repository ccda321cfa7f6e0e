package images

import (
	"path/filepath"
	"runtime"
	"testing"
)

func TestPublishedVersions(t *testing.T) {
	for v, want := range map[string]bool{
		"":                                   false,
		"(devel)":                            false,
		"v0.1.0":                             true,
		"v1.2.3-rc.1":                        true,
		"v0.0.0-20261126070012-3fa9c1d2e4b5": true,
		"v0.1.1-0.20261126070012-3fa9c1d2e4b5+dirty": false,
	} {
		if got := published(v); got != want {
			t.Errorf("published(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestRecordedSourceIsThisModule(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	if !filepath.IsAbs(file) {
		if _, ok := recordedSource(); ok {
			t.Fatal("a binary built with -trimpath claims a source folder")
		}
		t.Skip("skipped: the test binary was built with -trimpath, so it records no source folder")
	}
	got, ok := recordedSource()
	want, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if !ok || got != want {
		t.Fatalf("recordedSource() = %q, %v; want %q", got, ok, want)
	}
}
