package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/testfile"
)

// parseRun parses args as run's flags (the same ones newRun defines) and
// returns the command, the test the flags filled and --file.
func parseRun(t *testing.T, name string, args ...string) (*cobra.Command, faultline.Test, string) {
	t.Helper()
	cmd := &cobra.Command{Use: name}
	ft := faultline.DefaultTest()
	var nem, file string
	testFlags(cmd, &ft, &nem)
	fileFlag(cmd, &file)
	cmd.Flags().IntVar(&ft.Concurrency, "concurrency", ft.Concurrency, "")
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return cmd, ft, file
}

// TestFileWithFlags: with -f, the file gives the test and each flag given
// on the command line overrides the file's value; the others keep it.
func TestFileWithFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faultline.yaml")
	if err := os.WriteFile(path, []byte(testfile.Example), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := testfile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd, flags, file := parseRun(t, "run", "-f", path, "--time-limit", "7s", "--nemesis", "none", "--concurrency", "3",
		"--check-memory", "1.5GiB", "--seed", "9", "--rate", "0.5", "--results", "elsewhere")
	if file != path {
		t.Fatalf("--file %q", file)
	}
	got, err := fromFile(cmd, file, flags)
	if err != nil {
		t.Fatal(err)
	}
	want.TimeLimit, want.Nemesis, want.Concurrency, want.CheckMemory, want.Seed, want.Rate, want.Results =
		7*time.Second, nil, 3, 3<<29, 9, 0.5, "elsewhere"
	if got.System == nil || got.System.Name() != "my-kv" || got.Compose == nil || got.Compose.Project != "my-kv" {
		t.Fatalf("system %v, compose %+v; want the file's", got.System, got.Compose)
	}
	if g, w := fmtTest(got), fmtTest(want); g != w {
		t.Fatalf("got\n%s\nwant\n%s", g, w)
	}
	// The file's own values where no flag was given: the example's.
	if got.Keys != 4 || got.OpTimeout != time.Second || got.NemesisInterval != 5*time.Second || got.Provider != "compose" || got.Target != "my-kv" {
		t.Fatalf("file values lost: %+v", got)
	}
	// sweep's --concurrency is its levels, not the test's.
	cmd, flags, _ = parseRun(t, "sweep", "-f", path, "--concurrency", "3")
	if got, err := fromFile(cmd, path, flags); err != nil || got.Concurrency != 6 {
		t.Fatalf("sweep: concurrency %d, %v; want the file's 6", got.Concurrency, err)
	}
	// A bad file is the file's error.
	if _, err := fromFile(cmd, filepath.Join(t.TempDir(), "none.yaml"), flags); err == nil || !strings.Contains(err.Error(), "none.yaml: no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

// fmtTest writes t's settings for comparison.
func fmtTest(t faultline.Test) string {
	b, _ := t.MarshalJSON()
	return string(b)
}
