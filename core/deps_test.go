package core_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestVocabularyPullsInNoEngine checks the package graph: a program that
// imports the vocabulary, or defines its own target, workload or fault,
// pulls in no Docker client, no proxy and no raft.
func TestVocabularyPullsInNoEngine(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	pkgs := []string{
		"github.com/faultline/faultline/core",
		"github.com/faultline/faultline/targets",
		"github.com/faultline/faultline/workloads",
		"github.com/faultline/faultline/nemesis",
	}
	out, err := exec.Command(goTool, append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < len(pkgs) {
		t.Fatalf("go list listed %d packages", len(deps))
	}
	for _, d := range deps {
		for _, engine := range []string{"github.com/moby/", "github.com/docker/", "toxiproxy", "hashicorp/raft", "faultline/faultline/internal/"} {
			if strings.Contains(d, engine) {
				t.Errorf("the vocabulary pulls in %s", d)
			}
		}
	}
	core := exec.Command(goTool, "list", "-deps", pkgs[0])
	out, err = core.CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range strings.Fields(string(out)) {
		if strings.Contains(d, ".") && d != pkgs[0] {
			t.Errorf("core imports %s, more than the standard library", d)
		}
	}
}
