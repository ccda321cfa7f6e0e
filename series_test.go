package faultline_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// readSeriesFile decodes the JSON account name (sweep.json, repeat.json)
// of the series folder dir into a T, failing the test when it cannot.
func readSeriesFile[T any](t *testing.T, dir, name string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkEnded fails the test unless the steps of a series ended, as its
// hook saw them, are want, in order; what names them ("levels", "runs").
func checkEnded[S comparable](t *testing.T, what string, ended, want []S) {
	t.Helper()
	if !slices.Equal(ended, want) {
		t.Fatalf("%s ended: %v", what, ended)
	}
}
