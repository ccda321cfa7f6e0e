package demokv

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

func newTestClient(t *testing.T, addrs ...string) *Client {
	t.Helper()
	names := []string{"n1", "n2", "n3"}[:len(addrs)]
	cl, err := Target{}.NewClient(clientConfig(VariantSafe, names, addrs, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl.(*Client)
}

// serveTCP accepts connections on 127.0.0.1 and hands each to handle.
func serveTCP(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(conn)
		}
	}()
	return ln.Addr().String()
}

func TestClientClosedPortFails(t *testing.T) {
	cl := newTestClient(t, freeAddr(t))
	for _, f := range []string{"read", "write", "cas"} {
		v := map[string]any{"read": nil, "write": int64(1), "cas": [2]int64{1, 2}}[f]
		op := invoke(cl, f, "k", v)
		if op.Type != core.Fail || op.Node != "n1" || !strings.HasPrefix(op.Error, "dial:") {
			t.Errorf("%s to a closed port: %+v, want fail from n1 with a dial error", f, op)
		}
	}
}

func TestClientNoAnswerIsInfo(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := serveTCP(t, func(c net.Conn) {
		defer c.Close()
		<-release
	})
	cl := newTestClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	op := cl.Invoke(ctx, core.Op{Type: core.Invoke, F: "write", Key: "k", Value: int64(1)})
	if op.Type != core.Info || op.Error != "timeout" || op.Node != "n1" {
		t.Fatalf("write to a silent server: %+v, want info timeout from n1", op)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Invoke took %v past a 200ms deadline", d)
	}
}

func TestClientConnectionClosedAfterSendIsInfo(t *testing.T) {
	addr := serveTCP(t, func(c net.Conn) {
		defer c.Close()
		bufio.NewReader(c).ReadString('\n') // the request line, then hang up
	})
	cl := newTestClient(t, addr)
	op := invoke(cl, "write", "k", int64(1))
	if op.Type != core.Info || op.Node != "n1" {
		t.Fatalf("write to a server that hangs up: %+v, want info from n1", op)
	}
}

func TestClientStatusMapping(t *testing.T) {
	cases := []struct {
		name    string
		f       string
		status  int
		body    string
		want    core.Type
		value   any
		errText string
		node    string // the answering node named in the reply, else the one asked
	}{
		{"read value", "read", 200, `{"node":"n2","value":7}`, core.OK, int64(7), "", "n2"},
		{"read unset", "read", 200, `{"node":"n2"}`, core.OK, nil, "", "n2"},
		{"write ok", "write", 200, `{"node":"n2"}`, core.OK, int64(5), "", "n2"},
		{"ok but garbage", "read", 200, `{"node":`, core.Info, nil, "bad reply", "n1"},
		{"cas mismatch", "cas", 409, `{"node":"n2","error":"cas mismatch"}`, core.Fail, [2]int64{1, 2}, "cas mismatch", "n2"},
		{"refused before apply", "write", 503, `{"node":"n2","error":"timed out enqueuing operation"}`, core.Fail, int64(5), "timed out enqueuing operation", "n2"},
		{"leadership lost", "write", 500, `{"node":"n2","error":"leadership lost while committing log"}`, core.Info, int64(5), "leadership lost while committing log", "n2"},
		{"bad request", "write", 400, `{"node":"n2","error":"bad request body"}`, core.Info, int64(5), "bad request body", "n2"},
		{"unexpected status", "cas", 502, ``, core.Info, [2]int64{1, 2}, "http status 502", "n1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			cl := newTestClient(t, strings.TrimPrefix(srv.URL, "http://"))
			in := map[string]any{"read": nil, "write": int64(5), "cas": [2]int64{1, 2}}[tc.f]
			op := invoke(cl, tc.f, "k", in)
			if op.Type != tc.want || op.Value != tc.value || op.Error != tc.errText {
				t.Fatalf("got %s value %v (%T) error %q, want %s value %v error %q",
					op.Type, op.Value, op.Value, op.Error, tc.want, tc.value, tc.errText)
			}
			if op.Node != tc.node {
				t.Fatalf("node %q, want %q", op.Node, tc.node)
			}
		})
	}
}

func TestClientFollowsLeaderHint(t *testing.T) {
	var hits [3]atomic.Int64
	handler := func(i int, status int, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			w.WriteHeader(status)
			w.Write([]byte(body))
		})
	}
	s1 := httptest.NewServer(handler(0, 421, `{"node":"n1","error":"not leader","leader":"n3"}`))
	defer s1.Close()
	s2 := httptest.NewServer(handler(1, 421, `{"node":"n2","error":"not leader"}`))
	defer s2.Close()
	s3 := httptest.NewServer(handler(2, 200, `{"node":"n3","value":4}`))
	defer s3.Close()
	addr := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	cl := newTestClient(t, addr(s1), addr(s2), addr(s3))

	op := invoke(cl, "write", "k", int64(4))
	if op.Type != core.Fail || op.Node != "n1" || op.Error != "not leader; leader is n3" {
		t.Fatalf("first write: %+v", op)
	}
	op = invoke(cl, "read", "k", nil)
	if op.Type != core.OK || op.Node != "n3" || op.Value != int64(4) {
		t.Fatalf("read after the hint: %+v", op)
	}
	if hits[0].Load() != 1 || hits[1].Load() != 0 || hits[2].Load() != 1 {
		t.Fatalf("requests per server %d %d %d, want 1 0 1", hits[0].Load(), hits[1].Load(), hits[2].Load())
	}

	// Without a hint the client tries the next node.
	cl2 := newTestClient(t, addr(s2), addr(s3))
	if op := invoke(cl2, "read", "k", nil); op.Type != core.Fail || op.Error != "not leader" {
		t.Fatalf("read from a node without a hint: %+v", op)
	}
	if op := invoke(cl2, "read", "k", nil); op.Type != core.OK || op.Node != "n3" {
		t.Fatalf("read after a hintless refusal: %+v", op)
	}
}

func TestClientRejectsBadOpsWithoutSending(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer srv.Close()
	cl := newTestClient(t, strings.TrimPrefix(srv.URL, "http://"))
	for _, op := range []core.Op{
		{F: "write", Key: "k", Value: "1"},
		{F: "cas", Key: "k", Value: []int64{1, 2}},
		{F: "append", Key: "k", Value: int64(1)},
	} {
		if got := invoke(cl, op.F, op.Key, op.Value); got.Type != core.Fail || got.Error == "" {
			t.Errorf("%+v: got %+v, want fail", op, got)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests sent for invalid operations", hits.Load())
	}
}

func TestNewClientValidates(t *testing.T) {
	tg := Target{}
	bank := clientConfig(VariantSafe, []string{"n1"}, []string{"a"}, 0)
	bank.Workload = "bank"
	if _, err := tg.NewClient(bank); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("unknown workload: %v", err)
	}
	if _, err := tg.NewClient(clientConfig("fast", []string{"n1"}, []string{"a"}, 0)); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("unknown variant: %v", err)
	}
	if _, err := tg.NewClient(clientConfig(VariantSafe, nil, nil, 0)); err == nil {
		t.Error("no nodes accepted")
	}
	// Processes spread over the nodes.
	for p, want := range []int{0, 1, 2, 0} {
		cl, err := tg.NewClient(clientConfig(VariantSafe, []string{"n1", "n2", "n3"}, []string{"a", "b", "c"}, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.(*Client).cur; got != want {
			t.Errorf("process %d starts at node %d, want %d", p, got, want)
		}
		cl.Close()
	}
}

// clientConfig is the ClientConfig of a register client of variant over
// nodes at addrs, for process p.
func clientConfig(variant string, nodes, addrs []string, p int) targets.ClientConfig {
	cfg := targets.ClientConfig{Workload: WorkloadRegister, Variant: variant, Process: p}
	for i, n := range nodes {
		cfg.Nodes = append(cfg.Nodes, targets.Endpoint{Name: n, Role: RoleKV, Addr: addrs[i]})
	}
	return cfg
}

func TestTargetDescribesItself(t *testing.T) {
	tg := New()
	if tg.Name() != "demo-kv" || tg.Description() == "" {
		t.Errorf("name %q description %q", tg.Name(), tg.Description())
	}
	if v := tg.Variants(); len(v) != 2 || v[0].Name != VariantUnsafe || v[1].Name != VariantSafe {
		t.Errorf("variants %v, want unsafe (default) then safe", v)
	}
	if w := tg.Workloads(); len(w) != 1 || w[0] != "register" {
		t.Errorf("workloads %v", w)
	}
	if err := Ready(context.Background(), freeAddr(t)); err == nil {
		t.Error("Ready of a closed port returned nil")
	}
}
