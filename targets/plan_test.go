package targets_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

// layoutTarget is a target whose layout is whatever the test sets.
type layoutTarget struct {
	roles []targets.Role
}

func (layoutTarget) Name() string               { return "layout" }
func (layoutTarget) Description() string        { return "test" }
func (layoutTarget) Variants() []targets.Choice { return []targets.Choice{{Name: "v"}} }
func (layoutTarget) Workloads() []string        { return nil }
func (l layoutTarget) Layout(targets.Spec) (targets.Layout, error) {
	return targets.Layout{Roles: l.roles}, nil
}
func (layoutTarget) NewClient(targets.ClientConfig) (core.Client, error) { return nil, nil }

var goProg = targets.GoProgram{Run: func(context.Context, targets.NodeConfig, *slog.Logger) error { return nil }}

func TestPlanNamesNodes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		roles []targets.Role
		want  string
	}{
		{"one role", []targets.Role{{Name: "kv", Count: 3, Program: goProg}}, "n1:kv n2:kv n3:kv"},
		{"one role of one node", []targets.Role{{Name: "kv", Count: 1, Program: goProg}}, "n1:kv"},
		{"roles", []targets.Role{{Name: "coordinator", Count: 1, Program: goProg}, {Name: "participant", Count: 3, Program: goProg}},
			"coordinator:coordinator participant1:participant participant2:participant participant3:participant"},
		{"servers and a resource", []targets.Role{
			{Name: "redis", Count: 2, Program: targets.Server{Binary: "redis-server", Args: func(targets.NodeConfig) []string { return nil }}},
			{Name: "resource", Count: 1, Program: goProg}},
			"redis1:redis redis2:redis resource:resource"},
	} {
		nodes, err := targets.Plan(layoutTarget{tc.roles}, targets.Spec{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, n := range nodes {
			got = append(got, n.Name+":"+n.Role.Name)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: nodes %q, want %q", tc.name, strings.Join(got, " "), tc.want)
		}
		roles := targets.RoleMap(nodes)
		if total := len(slices.Concat(slices.Collect(mapValues(roles))...)); total != len(nodes) {
			t.Errorf("%s: role map %v does not cover the %d nodes", tc.name, roles, len(nodes))
		}
	}
}

func mapValues(m map[string][]string) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func TestPlanRefusesBadLayouts(t *testing.T) {
	server := targets.Server{Binary: "x", Args: func(targets.NodeConfig) []string { return nil }}
	for name, roles := range map[string][]targets.Role{
		"no roles":         nil,
		"bad name":         {{Name: "Redis", Count: 1, Program: goProg}},
		"reserved name":    {{Name: "clients", Count: 1, Program: goProg}},
		"empty name":       {{Name: "", Count: 1, Program: goProg}},
		"twice":            {{Name: "a", Count: 1, Program: goProg}, {Name: "a", Count: 1, Program: goProg}},
		"zero nodes":       {{Name: "a", Count: 0, Program: goProg}},
		"no program":       {{Name: "a", Count: 1}},
		"server no binary": {{Name: "a", Count: 1, Program: targets.Server{Args: server.Args}}},
		"server no args":   {{Name: "a", Count: 1, Program: targets.Server{Binary: "x"}}},
		"go without run":   {{Name: "a", Count: 1, Program: targets.GoProgram{}}},
		"clashing names":   {{Name: "a", Count: 1, Program: goProg}, {Name: "a1", Count: 1, Program: goProg}, {Name: "b", Count: 1, Program: server}, {Name: "a1x", Count: 1, Program: goProg}, {Name: "c", Count: 2, Program: goProg}, {Name: "c1", Count: 1, Program: goProg}},
	} {
		_, err := targets.Plan(layoutTarget{roles}, targets.Spec{})
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%s: Plan = %v, want bad input", name, err)
		}
	}
}

func TestFindSaysWhichPackage(t *testing.T) {
	s := targets.Server{Binary: "faultline-no-such-server", Package: "no-such-package", Dirs: []string{t.TempDir() + "/*"}}
	_, err := s.Find()
	if !errors.Is(err, targets.ErrNoBinary) || !strings.Contains(err.Error(), "apt-get install no-such-package") {
		t.Fatalf("Find of a missing binary: %v; want ErrNoBinary naming the package", err)
	}
	if p, err := (targets.Server{Binary: "sh"}).Find(); err != nil || p == "" {
		t.Fatalf("Find(sh) = %q, %v", p, err)
	}
	// The distribution's usual places: the newest version folder first.
	root := t.TempDir()
	for _, v := range []string{"15", "16"} {
		dir := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "faultline-test-server"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s = targets.Server{Binary: "faultline-test-server", Dirs: []string{filepath.Join(root, "*", "bin")}}
	if p, err := s.Find(); err != nil || p != filepath.Join(root, "16", "bin", "faultline-test-server") {
		t.Fatalf("Find in Dirs = %q, %v; want the one under 16", p, err)
	}
}

func TestTCPReady(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := targets.TCPReady(t.Context(), addr); err != nil {
		t.Fatalf("listening port not ready: %v", err)
	}
	ln.Close()
	if err := (targets.Role{}).ReadyFunc()(t.Context(), addr); err == nil {
		t.Fatal("closed port ready")
	}
}
