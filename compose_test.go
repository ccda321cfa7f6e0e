package faultline_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testtargets/composestack"
)

// These tests need no engine: what the compose provider takes and
// refuses is known before anything starts.

func composeTest() faultline.Test {
	tt := faultline.DefaultTest()
	tt.Target, tt.System, tt.Variant = "", composestack.NewRegister(), "ok"
	tt.Provider = "compose"
	tt.Compose = &faultline.ComposeStack{Project: "shop", Services: []string{"db", "web", "cache"}}
	return tt
}

func TestComposeValidation(t *testing.T) {
	for _, nemesis := range []string{"partition", "partition=clients", "partition=role:db", "kill=role:web,one", "pause=minority", "loss"} {
		tt := composeTest()
		tt.Nemesis = []string{nemesis}
		// --nodes does not apply: the stack's containers are the nodes.
		tt.Nodes = 0
		if err := tt.Validate(); err != nil {
			t.Errorf("--nemesis %s on a compose stack: %v", nemesis, err)
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*faultline.Test)
		want   string
	}{
		{"no stack", func(t *faultline.Test) { t.Compose = nil }, "--provider compose needs a Compose stack to run on"},
		{"a stack on another provider", func(t *faultline.Test) { t.Provider = "docker" },
			"--provider docker: Test.Compose names a running Compose stack, which only the compose provider runs on"},
		{"no services", func(t *faultline.Test) { t.Compose.Services = nil }, "compose project shop: no services named"},
		{"a bad project name", func(t *faultline.Test) { t.Compose.Project = "Shop" }, `compose project "Shop": Compose names projects`},
		{"a service named twice", func(t *faultline.Test) { t.Compose.Services = []string{"db", "db"} }, "service db named twice"},
		{"latency", func(t *faultline.Test) { t.Nemesis = []string{"latency"} },
			"--nemesis latency: the compose provider cannot inject it; providers that can: local, docker"},
		{"a role the stack has not", func(t *faultline.Test) { t.Nemesis = []string{"kill=role:queue"} }, `no role "queue" (its roles: cache, db, web)`},
	} {
		tt := composeTest()
		tc.change(&tt)
		err := tt.Validate()
		if !errors.Is(err, faultline.ErrBadInput) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one bad-input line with %q", tc.name, err, tc.want)
		}
	}
}

func TestTestJSONRecordsTheComposeStack(t *testing.T) {
	b, err := json.Marshal(composeTest())
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Provider string `json:"provider"`
		Compose  *struct {
			Project  string   `json:"project"`
			Services []string `json:"services"`
		} `json:"compose"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	if j.Provider != "compose" || j.Compose == nil || j.Compose.Project != "shop" || strings.Join(j.Compose.Services, ",") != "db,web,cache" {
		t.Errorf("test.json %s", b)
	}
	b, err = json.Marshal(faultline.DefaultTest())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"compose"`) {
		t.Errorf("a test without a stack records one: %s", b)
	}
}
