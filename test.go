package faultline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/targets"
)

// Test is one run's whole configuration: the flags of `faultline run`, or
// what a Go test passes to Run. Start from DefaultTest and change what you
// need; Run validates it and never fills in defaults silently. Its JSON form
// is test.json in the run folder, with durations as Go duration strings.
type Test struct {
	// Target is the system under test, for example "demo-kv".
	Target string
	// Variant is the target's variant, for example "unsafe" or "safe".
	Variant string
	// Workload is the client workload, for example "register".
	Workload string
	// Provider is where nodes run: "local" (OS processes), "docker"
	// (containers made for the run) or "compose" (the containers of the
	// running Compose stack Compose names).
	Provider string
	// Nodes is the number of nodes.
	Nodes int
	// Concurrency is the number of concurrent client processes.
	Concurrency int
	// Rate is the operations per second of all workers together; 0 means
	// unlimited.
	Rate float64
	// TimeLimit is how long operations are generated.
	TimeLimit time.Duration
	// OpLimit ends generation after that many operations; 0 means none.
	OpLimit int
	// OpTimeout bounds each operation; past it the outcome is info.
	OpTimeout time.Duration
	// Keys is the number of keys a keyed workload spreads over.
	Keys int
	// Nemesis lists the fault kinds; empty means none.
	Nemesis []string
	// Loss is the share of packets the loss fault drops (docker provider).
	Loss float64
	// NemesisInterval is the length of each fault window and of the
	// healthy pause between windows.
	NemesisInterval time.Duration
	// Seed seeds the generator and the nemesis schedule; 0 makes Run pick
	// one, which it records in test.json.
	Seed int64
	// Results is the root folder of run folders. The default,
	// faultline-results, is relative to the working folder and is no
	// source folder (the repository's .gitignore ignores it).
	Results string
	// CheckTimeout bounds each checker; past it the verdict is unknown.
	CheckTimeout time.Duration
	// CheckMemory bounds, in bytes, how much the checkers may grow the Go
	// heap; past it the verdict is unknown (see checkers.WithMemoryBudget).
	CheckMemory int64
	// Hold is how long a workload that holds something (the lock
	// workload's critical sections) holds it; 0 means the workload's own
	// default. Workloads that hold nothing refuse a Hold.
	Hold time.Duration
	// Isolation is the isolation level the target's clients run their
	// transactions at (--isolation), one of the target's levels
	// (targets.Isolator); empty means the target's default, which Run
	// records in test.json. Targets without levels refuse one.
	Isolation string
	// Store is where the target's services keep their state (--store),
	// one of the target's stores (targets.Storer); empty means the
	// target's default, which Run records in test.json. Targets without
	// stores refuse one.
	Store string
	// BankRule is the bank workload's rule (--bank-rule): "total" or
	// "joint"; empty means total, which Run records. Other workloads
	// refuse one.
	BankRule string
	// StartTimeout bounds the wait for the cluster's nodes to serve
	// requests when the cluster starts.
	StartTimeout time.Duration
	// RecoveryTimeout bounds the wait for the cluster to recover and the
	// final reads after the faults are healed.
	RecoveryTimeout time.Duration

	// Command is the command line that repeats this run, recorded in
	// test.json; the CLI fills it in.
	Command string
	// Version is faultline's version, recorded in test.json; Run fills it.
	Version string

	// Status receives progress while the run goes on: a live line on a
	// terminal, a plain line every few seconds otherwise. Nil means quiet.
	Status io.Writer `json:"-"`
	// NodeBinary is the executable the local provider starts as each node
	// (empty: the running executable, which must call NodeMain first), or
	// the static binary the docker and compose providers put into the node
	// image (empty: the running executable when static, else a build of
	// the module's source).
	NodeBinary string `json:"-"`
	// Compose names the running Docker Compose stack whose containers are
	// the nodes, for the compose provider (a test file sets it), and only
	// for it; nil otherwise. test.json records it as "compose".
	Compose *ComposeStack
	// System is the target itself, for a target defined outside the CLI's
	// registry (a Go test's own); when set, Target may stay empty or must
	// name it. Programs and test binaries that run a System with Go roles
	// on the local provider pass it to NodeMain.
	System targets.Target `json:"-"`
}

// ComposeStack is a user's running Docker Compose stack as the compose
// provider sees it. faultline never creates or removes its containers: it
// finds them by Compose's labels (com.docker.compose.project and
// com.docker.compose.service, set by Compose v1 and v2 alike), and at the
// end, on error and on signals leaves them running, unpaused and without
// its rules.
type ComposeStack struct {
	// Project is the Compose project name.
	Project string `json:"project"`
	// Services lists the services whose containers are nodes, in cluster
	// order. A node is named after its service, or service-N (Compose's
	// container number) when the service has several containers; its
	// role is the service. Its client address (targets.Endpoint.Addr) is
	// the container's IP address on the project's network, without a
	// port: the clients the test file describes add their own.
	Services []string `json:"services"`
}

// DefaultTest returns the embedded default: demo-kv (unsafe) with the
// register workload on local processes, partitions, for 20 seconds. Every
// default lives here; the checkers' memory budget is a quarter of this
// machine's memory (checkers.DefaultMemoryBudget).
func DefaultTest() Test {
	return Test{
		Target:          "demo-kv",
		Variant:         "unsafe",
		Workload:        "register",
		Provider:        "local",
		Nodes:           3,
		Concurrency:     6,
		Rate:            200,
		TimeLimit:       20 * time.Second,
		OpTimeout:       time.Second,
		Keys:            4,
		Nemesis:         []string{"partition"},
		Loss:            0.2,
		NemesisInterval: 4 * time.Second,
		Results:         "faultline-results",
		CheckTimeout:    60 * time.Second,
		CheckMemory:     checkers.DefaultMemoryBudget(),
		StartTimeout:    60 * time.Second,
		RecoveryTimeout: 30 * time.Second,
	}
}

type testJSON struct {
	Target          string        `json:"target"`
	Variant         string        `json:"variant"`
	Workload        string        `json:"workload"`
	Provider        string        `json:"provider"`
	Nodes           int           `json:"nodes"`
	Concurrency     int           `json:"concurrency"`
	Rate            float64       `json:"rate"`
	TimeLimit       string        `json:"time_limit"`
	OpLimit         int           `json:"op_limit"`
	OpTimeout       string        `json:"op_timeout"`
	Keys            int           `json:"keys"`
	Nemesis         []string      `json:"nemesis"`
	Loss            float64       `json:"loss"`
	NemesisInterval string        `json:"nemesis_interval"`
	Seed            int64         `json:"seed"`
	Results         string        `json:"results"`
	CheckTimeout    string        `json:"check_timeout"`
	CheckMemory     int64         `json:"check_memory"`
	StartTimeout    string        `json:"start_timeout"`
	RecoveryTimeout string        `json:"recovery_timeout"`
	Hold            string        `json:"hold"`
	Isolation       string        `json:"isolation,omitempty"`
	Store           string        `json:"store,omitempty"`
	BankRule        string        `json:"bank_rule,omitempty"`
	Command         string        `json:"command,omitempty"`
	Version         string        `json:"version,omitempty"`
	Compose         *ComposeStack `json:"compose,omitempty"`
}

// MarshalJSON writes the test as test.json does.
func (t Test) MarshalJSON() ([]byte, error) {
	n := t.Nemesis
	if n == nil {
		n = []string{}
	}
	return json.Marshal(testJSON{
		Target: t.Target, Variant: t.Variant, Workload: t.Workload, Provider: t.Provider,
		Nodes: t.Nodes, Concurrency: t.Concurrency, Rate: t.Rate, TimeLimit: t.TimeLimit.String(),
		OpLimit: t.OpLimit, OpTimeout: t.OpTimeout.String(), Keys: t.Keys, Nemesis: n, Loss: t.Loss,
		NemesisInterval: t.NemesisInterval.String(), Seed: t.Seed, Results: t.Results,
		CheckTimeout: t.CheckTimeout.String(), CheckMemory: t.CheckMemory, StartTimeout: t.StartTimeout.String(),
		RecoveryTimeout: t.RecoveryTimeout.String(), Hold: t.Hold.String(), Command: t.Command, Version: t.Version,
		Isolation: t.Isolation, Store: t.Store, BankRule: t.BankRule, Compose: t.Compose.clone(),
	})
}

// clone returns a copy of s that shares nothing with it; nil for nil.
func (s *ComposeStack) clone() *ComposeStack {
	if s == nil {
		return nil
	}
	return &ComposeStack{Project: s.Project, Services: slices.Clone(s.Services)}
}

// UnmarshalJSON reads test.json. Fields it lacks keep their values in t.
func (t *Test) UnmarshalJSON(b []byte) error {
	j := testJSON{
		TimeLimit: t.TimeLimit.String(), OpTimeout: t.OpTimeout.String(),
		NemesisInterval: t.NemesisInterval.String(), CheckTimeout: t.CheckTimeout.String(),
		CheckMemory: t.CheckMemory, StartTimeout: t.StartTimeout.String(), RecoveryTimeout: t.RecoveryTimeout.String(),
		Hold: t.Hold.String(), Isolation: t.Isolation, Store: t.Store, BankRule: t.BankRule,
		Target: t.Target, Variant: t.Variant, Workload: t.Workload, Provider: t.Provider,
		Nodes: t.Nodes, Concurrency: t.Concurrency, Rate: t.Rate, OpLimit: t.OpLimit, Keys: t.Keys,
		Nemesis: t.Nemesis, Loss: t.Loss, Seed: t.Seed, Results: t.Results, Command: t.Command, Version: t.Version,
		Compose: t.Compose.clone(),
	}
	if err := json.Unmarshal(b, &j); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return fmt.Errorf("%s: want %s, got a JSON %s", ute.Field, ute.Type, ute.Value)
		}
		return err
	}
	var err error
	dur := func(name, s string) time.Duration {
		d, e := time.ParseDuration(s)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", name, e)
		}
		return d
	}
	*t = Test{
		Target: j.Target, Variant: j.Variant, Workload: j.Workload, Provider: j.Provider,
		Nodes: j.Nodes, Concurrency: j.Concurrency, Rate: j.Rate, OpLimit: j.OpLimit, Keys: j.Keys,
		Nemesis: j.Nemesis, Loss: j.Loss, Seed: j.Seed, Results: j.Results, Command: j.Command, Version: j.Version,
		TimeLimit: dur("time_limit", j.TimeLimit), OpTimeout: dur("op_timeout", j.OpTimeout),
		NemesisInterval: dur("nemesis_interval", j.NemesisInterval),
		CheckTimeout:    dur("check_timeout", j.CheckTimeout), CheckMemory: j.CheckMemory,
		StartTimeout: dur("start_timeout", j.StartTimeout), RecoveryTimeout: dur("recovery_timeout", j.RecoveryTimeout),
		Hold: dur("hold", j.Hold), Isolation: j.Isolation, Store: j.Store, BankRule: j.BankRule,
		Compose: j.Compose,
		Status:  t.Status, NodeBinary: t.NodeBinary, System: t.System,
	}
	return err
}

// DefaultTestFor returns DefaultTest adjusted to target (a name in the
// registry): its first workload, and the defaults it declares
// (targets.Defaulter). An unknown name gives DefaultTest with that target,
// for Validate to refuse.
func DefaultTestFor(target string) Test {
	t := DefaultTest()
	t.Target = target
	return WithTargetDefaults(t, func(string) bool { return false })
}

// WithTargetDefaults returns t with its target's defaults applied to every
// setting that set does not report as set by the user (set takes a run
// flag's name, such as "nodes"): the target's default variant when t's is
// not among its own, its first workload, and what targets.Defaulter
// declares for t's variant for --nodes, --op-timeout, --nemesis, --hold,
// --concurrency, --rate and --keys. Unknown targets are left alone.
func WithTargetDefaults(t Test, set func(flag string) bool) Test {
	tg, err := t.target()
	if err != nil {
		return t
	}
	if vs := targets.VariantNames(tg); !set("variant") && len(vs) > 0 && !slices.Contains(vs, t.Variant) {
		t.Variant = vs[0]
	}
	if ws := tg.Workloads(); !set("workload") && len(ws) > 0 {
		t.Workload = ws[0]
	}
	d, ok := tg.(targets.Defaulter)
	if !ok {
		return t
	}
	variant, err := targets.ResolveVariant(tg, t.Variant)
	if err != nil {
		variant = t.Variant
	}
	def := d.Defaults(variant)
	if def.Nodes > 0 && !set("nodes") {
		t.Nodes = def.Nodes
	}
	if def.OpTimeout > 0 && !set("op-timeout") {
		t.OpTimeout = def.OpTimeout
	}
	if def.Nemesis != nil && !set("nemesis") {
		t.Nemesis = slices.Clone(def.Nemesis)
	}
	if def.Hold > 0 && !set("hold") {
		t.Hold = def.Hold
	}
	if def.Concurrency > 0 && !set("concurrency") {
		t.Concurrency = def.Concurrency
	}
	if def.Rate != 0 && !set("rate") {
		t.Rate = max(def.Rate, 0)
	}
	if def.Keys > 0 && !set("keys") {
		t.Keys = def.Keys
	}
	return t
}
