package twopc

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/ports"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/bank"
	"github.com/faultline/faultline/workloads/transfer"
)

// cluster is a coordinator and two participants run in this process, each
// node on its own port and data folder, each stoppable and startable.
type cluster struct {
	t       *testing.T
	variant string
	cfgs    map[string]targets.NodeConfig
	mu      sync.Mutex
	stops   map[string]func()
}

func newCluster(t *testing.T, variant string) *cluster {
	t.Helper()
	ps, err := ports.Reserve(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ports.Release(ps) })
	names := []string{"coordinator", "participant1", "participant2"}
	addr := map[string]string{}
	for i, n := range names {
		addr[n] = "127.0.0.1:" + strconv.Itoa(ps[i])
	}
	roles := map[string][]string{RoleCoordinator: names[:1], RoleParticipant: names[1:]}
	c := &cluster{t: t, variant: variant, cfgs: map[string]targets.NodeConfig{}, stops: map[string]func(){}}
	for _, n := range names {
		peers := map[string]string{}
		for _, o := range names {
			if o != n {
				peers[o] = addr[o]
			}
		}
		role := RoleParticipant
		if n == "coordinator" {
			role = RoleCoordinator
		}
		c.cfgs[n] = targets.NodeConfig{Target: Name, Variant: variant, SpecNodes: 2, Name: n, Role: role, Nodes: names, Roles: roles,
			APIAddr: addr[n], Peers: peers, DataDir: t.TempDir()}
	}
	t.Cleanup(func() {
		for _, n := range names {
			c.stop(n)
		}
	})
	return c
}

// start runs node n until stop, and waits until it serves.
func (c *cluster) start(n string) {
	c.t.Helper()
	cfg := c.cfgs[n]
	run := runParticipant
	if cfg.Role == RoleCoordinator {
		run = runCoordinator
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := run(ctx, cfg, nil); err != nil {
			c.t.Errorf("node %s: %v", n, err)
		}
	}()
	c.mu.Lock()
	c.stops[n] = func() { cancel(); <-done }
	c.mu.Unlock()
	testenv.Eventually(c.t, 10*time.Second, n+" serves", func() error { return Ready(context.Background(), cfg.APIAddr) })
}

// stop stops node n (its log stays); a node not running is left alone.
func (c *cluster) stop(n string) {
	c.mu.Lock()
	stop := c.stops[n]
	delete(c.stops, n)
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (c *cluster) client() *Client {
	c.t.Helper()
	var eps []targets.Endpoint
	for _, n := range c.cfgs["coordinator"].Nodes {
		eps = append(eps, targets.Endpoint{Name: n, Role: c.cfgs[n].Role, Addr: c.cfgs[n].APIAddr})
	}
	cl, err := Target{}.NewClient(targets.ClientConfig{Workload: transfer.Name, Variant: c.variant, Nodes: eps})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl.(*Client)
}

// prepare asks participant n to prepare tx as a coordinator would.
func (c *cluster) prepare(n, tx string, deltas map[string]int64) {
	c.t.Helper()
	var r Reply
	status, err := newPeers(nil).call(context.Background(), c.cfgs[n].APIAddr, http.MethodPost, RoutePrepare, PrepareBody{Tx: tx, Deltas: deltas}, &r)
	if err != nil || status != http.StatusOK || r.Vote != "yes" {
		c.t.Fatalf("prepare %s on %s: %d %+v %v", tx, n, status, r, err)
	}
}

// states reads every participant's records and returns tx → participant
// → state.
func (c *cluster) states(cl *Client) map[string]map[string]string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	op := cl.Invoke(ctx, core.Op{Type: core.Invoke, F: transfer.OutcomesF, Value: transfer.OutcomesRead{From: 0, Count: 100}})
	if op.Type != core.OK {
		c.t.Fatalf("outcomes: %s %s", op.Type, op.Error)
	}
	out := map[string]map[string]string{}
	for p, rs := range op.Value.(transfer.Outcomes) {
		for _, r := range rs {
			if out[r.Tx] == nil {
				out[r.Tx] = map[string]string{}
			}
			out[r.Tx][p] = r.State
		}
	}
	return out
}

func invoke(t *testing.T, cl *Client, f string, v any) core.Op {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.Invoke(ctx, core.Op{Type: core.Invoke, F: f, Value: v})
}

// TestCorrectCoordinatorRecovers: in the correct variant, transfers
// commit on both participants; a transaction prepared on both whose
// coordinator logged commit and died before telling anyone is committed
// on both once it restarts, and one it never decided is aborted on both
// when they ask; while it is down, accounts held in doubt refuse others.
func TestCorrectCoordinatorRecovers(t *testing.T) {
	c := newCluster(t, VariantCorrect)
	for _, n := range []string{"participant1", "participant2", "coordinator"} {
		c.start(n)
	}
	cl := c.client()
	if op := invoke(t, cl, transfer.ReadF, bank.ReadRequest{Accounts: 4, Balance: 10}); op.Type != core.OK || op.Value.(bank.Balances).Total() != 40 {
		t.Fatalf("first read: %+v", op)
	}
	if op := invoke(t, cl, transfer.TransferF, bank.Transfer{ID: "t1", From: "a0", To: "a1", Amount: 3}); op.Type != core.OK {
		t.Fatalf("t1: %s %s", op.Type, op.Error)
	}
	if op := invoke(t, cl, transfer.TransferF, bank.Transfer{ID: "t2", From: "a2", To: "a3", Amount: 11}); op.Type != core.Fail {
		t.Fatalf("t2 (more than a2 holds): %s %s; want fail", op.Type, op.Error)
	}

	// The coordinator "crashed" after logging commit of t3 and before
	// telling anyone; t4 it never decided.
	c.stop("coordinator")
	w, _, err := openWAL(c.cfgs["coordinator"].DataDir)
	if err != nil {
		t.Fatal(err)
	}
	w.append(entry{Kind: "decide", Tx: "t3", Decision: decCommit, Parts: []string{"participant1", "participant2"}}, true)
	w.close()
	c.prepare("participant1", "t3", map[string]int64{"a2": -2})
	c.prepare("participant2", "t3", map[string]int64{"a3": 2})
	c.prepare("participant1", "t4", map[string]int64{"a0": -1})
	c.prepare("participant2", "t4", map[string]int64{"a1": 1})
	var r Reply
	status, err := newPeers(nil).call(context.Background(), c.cfgs["participant1"].APIAddr, http.MethodPost, RoutePrepare, PrepareBody{Tx: "t5", Deltas: map[string]int64{"a0": -1}}, &r)
	if err != nil || status != http.StatusOK || r.Vote != "no" || !strings.Contains(r.Error, transfer.RefusedInDoubt) {
		t.Fatalf("t5 on a0, held by t4 in doubt: %q %q %v; want no, held in doubt", r.Vote, r.Error, err)
	}
	for _, p := range []string{"participant1", "participant2"} {
		rs, err := records(c, p)
		if err != nil || len(rs) != 3 || rs[1].Tx != "t3" || rs[1].State != transfer.InDoubt || rs[2].State != transfer.InDoubt {
			t.Fatalf("%s before the restart: %+v %v; want t1 committed, t3 and t4 in doubt", p, rs, err)
		}
	}
	c.start("coordinator")
	testenv.Eventually(t, 10*time.Second, "t3 committed and t4 aborted on both", func() error {
		s := c.states(cl)
		for _, p := range []string{"participant1", "participant2"} {
			if s["t3"][p] != transfer.Committed || s["t4"][p] != transfer.Aborted || s["t1"][p] != transfer.Committed {
				return fmt.Errorf("%v", s)
			}
		}
		return nil
	})
	op := invoke(t, cl, transfer.ReadF, bank.ReadRequest{Accounts: 4, Balance: 10})
	if b, _ := op.Value.(bank.Balances); op.Type != core.OK || b["a0"] != 7 || b["a1"] != 13 || b["a2"] != 8 || b["a3"] != 12 {
		t.Fatalf("balances after t1 and t3: %+v %s", op.Value, op.Error)
	}
}

// TestNaiveParticipantAbortsAlone: in the naive variant a participant in
// doubt while the coordinator is down aborts on its own after AloneAfter;
// its record says so.
func TestNaiveParticipantAbortsAlone(t *testing.T) {
	c := newCluster(t, VariantNaive)
	for _, n := range []string{"participant1", "participant2", "coordinator"} {
		c.start(n)
	}
	cl := c.client()
	if op := invoke(t, cl, transfer.ReadF, bank.ReadRequest{Accounts: 4, Balance: 10}); op.Type != core.OK {
		t.Fatalf("first read: %+v", op)
	}
	c.stop("coordinator")
	c.prepare("participant1", "t9", map[string]int64{"a0": -1})
	testenv.Eventually(t, 5*AloneAfter, "t9 aborted alone", func() error {
		rs, _ := records(c, "participant1")
		if len(rs) != 1 || rs[0].State != transfer.Aborted || !rs[0].Alone {
			return fmt.Errorf("%+v", rs)
		}
		return nil
	})
}

// records reads participant n's records directly.
func records(c *cluster, n string) ([]transfer.Record, error) {
	var r Reply
	_, err := newPeers(nil).call(context.Background(), c.cfgs[n].APIAddr, http.MethodGet, RouteRecords+"?from=0&count=10&settle=0s", nil, &r)
	return r.Records, err
}
