package faultline_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

// myRegister is a target as a user defines one in their own package,
// outside faultline's registry: a tiny register server of our own Go code
// (role "register", one node) and its client for the register workload.
// Its variant "buffered" acknowledges a write before it applies it, a bug
// the linearizability checker must catch.
type myRegister struct{}

func (myRegister) Name() string        { return "my-register" }
func (myRegister) Description() string { return "a register server defined in a test" }
func (myRegister) Workloads() []string { return []string{"register"} }
func (myRegister) Variants() []targets.Choice {
	return []targets.Choice{
		{Name: "correct", Description: "applies each write before it answers"},
		{Name: "buffered", Description: "answers a write first and applies it a little later"},
	}
}

func (myRegister) Layout(targets.Spec) (targets.Layout, error) {
	return targets.Layout{Roles: []targets.Role{{
		Name:    "register",
		Count:   1,
		Program: targets.GoProgram{Run: runRegister},
		// Ready: nil means ready once the port accepts connections.
	}}}, nil
}

func (myRegister) NewClient(cfg targets.ClientConfig) (core.Client, error) {
	eps := cfg.ByRole("register")
	if len(eps) == 0 {
		return nil, fmt.Errorf("no register node")
	}
	return &registerClient{addr: eps[0].Addr}, nil
}

// runRegister serves "r KEY", "w KEY VALUE" and "c KEY OLD NEW", one per
// line, on cfg.APIAddr until ctx ends.
func runRegister(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	var mu sync.Mutex
	regs := map[string]int64{}
	apply := func(k string, v int64) { mu.Lock(); regs[k] = v; mu.Unlock() }
	handle := func(f []string) string {
		switch {
		case len(f) == 2 && f[0] == "r":
			mu.Lock()
			defer mu.Unlock()
			if v, ok := regs[f[1]]; ok {
				return "ok " + strconv.FormatInt(v, 10)
			}
			return "ok nil"
		case len(f) == 3 && f[0] == "w":
			v, _ := strconv.ParseInt(f[2], 10, 64)
			if cfg.Variant == "buffered" {
				time.AfterFunc(30*time.Millisecond, func() { apply(f[1], v) })
			} else {
				apply(f[1], v)
			}
			return "ok"
		case len(f) == 4 && f[0] == "c":
			old, _ := strconv.ParseInt(f[2], 10, 64)
			nv, _ := strconv.ParseInt(f[3], 10, 64)
			mu.Lock()
			defer mu.Unlock()
			if v, ok := regs[f[1]]; ok && v == old {
				regs[f[1]] = nv
				return "ok"
			}
			return "fail"
		}
		return "error bad request"
	}
	log.Info("register serving", "addr", cfg.APIAddr)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer conn.Close()
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				if _, err := fmt.Fprintln(conn, handle(strings.Fields(sc.Text()))); err != nil {
					return
				}
			}
		}()
	}
}

// registerClient holds one connection to the register server.
type registerClient struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
}

func (c *registerClient) Invoke(ctx context.Context, op core.Op) core.Op {
	var req string
	switch op.F {
	case "read":
		req = "r " + op.Key
	case "write":
		req = fmt.Sprintf("w %s %d", op.Key, op.Value.(int64))
	case "cas":
		v := op.Value.([2]int64)
		req = fmt.Sprintf("c %s %d %d", op.Key, v[0], v[1])
	}
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			// Nothing was sent: the operation certainly did not happen.
			op.Type, op.Error = core.Fail, err.Error()
			return op
		}
		c.conn, c.r = conn, bufio.NewReader(conn)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	}
	resp, err := func() (string, error) {
		if _, err := fmt.Fprintln(c.conn, req); err != nil {
			return "", err
		}
		return c.r.ReadString('\n')
	}()
	if err != nil {
		// Sent, but no answer: it may or may not have taken effect.
		c.Close()
		op.Type, op.Error = core.Info, err.Error()
		return op
	}
	resp = strings.TrimSpace(resp)
	switch {
	case resp == "fail":
		op.Type = core.Fail
	case op.F == "read" && resp == "ok nil":
		op.Type, op.Value = core.OK, nil
	case op.F == "read" && strings.HasPrefix(resp, "ok "):
		v, _ := strconv.ParseInt(strings.TrimPrefix(resp, "ok "), 10, 64)
		op.Type, op.Value = core.OK, v
	case resp == "ok":
		op.Type = core.OK
	default:
		op.Type, op.Error = core.Fail, resp
	}
	return op
}

func (c *registerClient) Close() error {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	return nil
}

// TestUsersOwnTarget runs a target defined in this file, outside the
// registry, through faultline.Run: the correct variant is valid with
// operations that succeeded under a pause of its role and a cut between
// the clients and it; the buffered variant is caught.
func TestUsersOwnTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end runs are skipped with -short")
	}
	for _, tc := range []struct {
		variant string
		want    faultline.Verdict
	}{{"correct", faultline.Valid}, {"buffered", faultline.Invalid}} {
		t.Run(tc.variant, func(t *testing.T) {
			test := faultline.DefaultTest()
			test.Target = ""
			test.System = myRegister{}
			test.Variant = tc.variant
			test.Nodes = 1
			test.Nemesis = []string{"pause=role:register", "partition=clients/role:register"}
			test.NemesisInterval = time.Second
			test.TimeLimit = 5 * time.Second
			test.OpTimeout = 300 * time.Millisecond
			test.Results = t.TempDir()
			res, err := faultline.Run(t.Context(), test)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s (%+v)", res.Verdict, tc.want, res.Checkers)
			}
			if res.Counts.OK == 0 || res.Counts.Nemesis == 0 {
				t.Fatalf("counts %+v: want operations that succeeded and nemesis events", res.Counts)
			}
			if !strings.HasPrefix(res.Dir, test.Results+"/my-register-register/") {
				t.Fatalf("run folder %s", res.Dir)
			}
		})
	}
}

// missingServer is a user target whose one role runs a server binary that
// is not installed.
type missingServer struct{ myRegister }

func (missingServer) Name() string { return "missing-server" }
func (missingServer) Layout(targets.Spec) (targets.Layout, error) {
	return targets.Layout{Roles: []targets.Role{{Name: "db", Count: 1, Program: targets.Server{
		Binary: "faultline-no-such-server", Package: "faultline-no-such-package",
		Args: func(targets.NodeConfig) []string { return nil },
	}}}}, nil
}

// TestUsersOwnTargetRefusedBeforeItStarts: a user's target is checked like
// ours before anything is made: a Target name that contradicts System, a
// server binary that is not installed (the error names the Debian package),
// a fault on a role it does not have.
func TestUsersOwnTargetRefusedBeforeItStarts(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*faultline.Test)
		want string
	}{
		{"name", func(tt *faultline.Test) { tt.Target = "demo-kv" }, "names another target"},
		{"binary", func(tt *faultline.Test) { tt.System = missingServer{} }, "apt-get install faultline-no-such-package"},
		{"role", func(tt *faultline.Test) { tt.Nemesis = []string{"kill=role:nobody"} }, `no role "nobody" (its roles: register)`},
	} {
		tt := faultline.DefaultTest()
		tt.Target, tt.System, tt.Variant, tt.Nodes = "", myRegister{}, "correct", 1
		tt.Nemesis = nil
		tt.Results = filepath.Join(t.TempDir(), "results")
		tc.mut(&tt)
		res, err := faultline.Run(t.Context(), tt)
		if err == nil || !strings.Contains(err.Error(), tc.want) || res != nil {
			t.Errorf("%s: Run = %v, %v; want an error saying %q and no result", tc.name, res, err, tc.want)
		}
		if _, serr := os.Stat(tt.Results); !os.IsNotExist(serr) {
			t.Errorf("%s: the results root was made: %v", tc.name, serr)
		}
	}
}

// withDefaults is myRegister with defaults of its own.
type withDefaults struct{ myRegister }

func (withDefaults) Defaults(string) targets.Defaults {
	return targets.Defaults{Nodes: 5, OpTimeout: 3 * time.Second, Nemesis: []string{"pause"}}
}

// TestTargetDefaultsApplyToWhatTheUserDidNotSet: a target's defaults
// replace the embedded default's, except for what the user set; a
// workload the target lacks becomes its first.
func TestTargetDefaultsApplyToWhatTheUserDidNotSet(t *testing.T) {
	tt := faultline.DefaultTest()
	tt.Target, tt.System, tt.Workload = "", withDefaults{}, "bank"
	got := faultline.WithTargetDefaults(tt, func(flag string) bool { return flag == "nodes" })
	if got.Workload != "register" || got.Nodes != tt.Nodes || got.OpTimeout != 3*time.Second || strings.Join(got.Nemesis, ",") != "pause" {
		t.Fatalf("workload %q nodes %d op timeout %s nemesis %v; want register, the user's %d nodes, 3s, pause",
			got.Workload, got.Nodes, got.OpTimeout, got.Nemesis, tt.Nodes)
	}
	same := faultline.WithTargetDefaults(tt, func(string) bool { return true })
	if same.Workload != "bank" || same.OpTimeout != tt.OpTimeout || same.Nodes != tt.Nodes {
		t.Fatalf("settings the user made were replaced: %+v", same)
	}
	if d := faultline.DefaultTestFor("demo-kv"); d.Workload != "register" || d.Nodes != 3 {
		t.Fatalf("DefaultTestFor(demo-kv) = %+v", d)
	}
}

// TestTargetDefaultsFollowTheVariant: redis-lock's failover variant takes
// the failover fault and a longer hold; its other variants client-pause
// and the workload's hold; what the user set stays.
func TestTargetDefaultsFollowTheVariant(t *testing.T) {
	tt := faultline.DefaultTestFor("redis-lock")
	if strings.Join(tt.Nemesis, ",") != "client-pause" || tt.Hold != 0 || tt.Variant != "naive" {
		t.Fatalf("redis-lock's defaults: variant %q nemesis %v hold %v", tt.Variant, tt.Nemesis, tt.Hold)
	}
	tt.Variant = "failover"
	onlyVariant := func(flag string) bool { return flag == "variant" }
	got := faultline.WithTargetDefaults(tt, onlyVariant)
	if strings.Join(got.Nemesis, ",") != "failover" || got.Hold != 100*time.Millisecond {
		t.Fatalf("failover's defaults: nemesis %v hold %v", got.Nemesis, got.Hold)
	}
	tt.Hold = 3 * time.Millisecond
	got = faultline.WithTargetDefaults(tt, func(flag string) bool { return flag == "variant" || flag == "hold" })
	if got.Hold != 3*time.Millisecond {
		t.Fatalf("the user's --hold was replaced: %v", got.Hold)
	}
}
