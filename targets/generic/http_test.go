package generic_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/generic"
	"github.com/faultline/faultline/workloads/idempotency"
	"github.com/faultline/faultline/workloads/register"
)

// kvServer is an HTTP register and ledger service with two nodes, told
// apart by the first segment of the path: primary and replica. Writes and
// cas go to the primary. With stale set the replica is one write behind
// the primary on every key (it answers reads with the value before the
// last write); otherwise both answer from the same state. With naive set
// a charge is applied every time it arrives, whatever its request id.
type kvServer struct {
	stale, naive bool

	mu      sync.Mutex
	primary map[string]int64
	replica map[string]int64
	ledgers map[string][]idempotency.Row
	charged map[string]bool
	keys    map[string]bool // every key and account named
	reqs    []string        // "METHOD path body Content-Type X-Node" of each request
}

// start serves s and returns the port it listens on.
func (s *kvServer) start(t *testing.T) string {
	s.primary, s.replica = map[string]int64{}, map[string]int64{}
	s.ledgers, s.charged, s.keys = map[string][]idempotency.Row{}, map[string]bool{}, map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{node}/kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.note(r, "")
		state := s.primary
		if s.stale && r.PathValue("node") == "replica" {
			state = s.replica
		}
		v, ok := state[r.PathValue("key")]
		if !ok {
			http.Error(w, "no such key", http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"value": %d}`, v)
	})
	mux.HandleFunc("PUT /{node}/kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Value *int64 }
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.decode(w, r, &body) || body.Value == nil || r.PathValue("node") != "primary" {
			http.Error(w, "bad write", http.StatusBadRequest)
			return
		}
		s.set(r.PathValue("key"), *body.Value)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /{node}/kv/{key}/cas", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Old, New *int64 }
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.decode(w, r, &body) || body.Old == nil || body.New == nil || r.PathValue("node") != "primary" {
			http.Error(w, "bad cas", http.StatusBadRequest)
			return
		}
		if v, ok := s.primary[r.PathValue("key")]; !ok || v != *body.Old {
			http.Error(w, "mismatch", http.StatusConflict)
			return
		}
		s.set(r.PathValue("key"), *body.New)
		fmt.Fprint(w, `{"ok": true}`)
	})
	mux.HandleFunc("POST /{node}/accounts/{acct}/charges", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			RequestID string `json:"request_id"`
			Amount    int64
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.decode(w, r, &body) || body.RequestID == "" {
			http.Error(w, "bad charge", http.StatusBadRequest)
			return
		}
		if s.charged[body.RequestID] && !s.naive {
			w.WriteHeader(http.StatusOK)
			return
		}
		s.charged[body.RequestID] = true
		acct := r.PathValue("acct")
		s.ledgers[acct] = append(s.ledgers[acct], idempotency.Row{RequestID: body.RequestID, Amount: body.Amount})
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /{node}/accounts/{acct}/ledger", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.note(r, "")
		rows := s.ledgers[r.PathValue("acct")]
		if rows == nil {
			rows = []idempotency.Row{}
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"rows": rows}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Port()
}

// note records r (its body already read into body) and the key it names.
func (s *kvServer) note(r *http.Request, body string) {
	s.reqs = append(s.reqs, strings.Join([]string{r.Method, r.URL.Path, body, r.Header.Get("Content-Type"), r.Header.Get("X-Node")}, " "))
	for _, k := range []string{r.PathValue("key"), r.PathValue("acct")} {
		if k != "" {
			s.keys[k] = true
		}
	}
}

// decode reads r's JSON body into v.
func (s *kvServer) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(r.Body)
	s.note(r, string(b))
	return err == nil && json.Unmarshal(b, v) == nil
}

// set writes key on the primary; the replica takes the value the primary
// held before (or stays one write behind without a value).
func (s *kvServer) set(key string, v int64) {
	if old, ok := s.primary[key]; ok {
		s.replica[key] = old
	}
	s.primary[key] = v
}

// kvConfig is the HTTP client of kvServer on port, reads going to
// readNode.
func kvConfig(port, readNode string) generic.Config {
	base := "http://{host}:" + port + "/{node}"
	value, rows := "/value", "/data/rows"
	return generic.Config{Name: "kv", Services: []string{"primary", "replica"}, HTTP: &generic.HTTP{
		Headers: map[string]string{"X-Node": "{node}"},
		Status:  &generic.Status{Fail: []generic.CodeRange{{409, 409}, {400, 400}}},
		Read: &generic.HTTPRead{HTTPRequest: generic.HTTPRequest{Node: readNode, URL: base + "/kv/{key}",
			Status: &generic.Status{OK: []generic.CodeRange{{200, 200}}, Absent: []generic.CodeRange{{404, 404}}}}, Value: &value},
		Write:  &generic.HTTPRequest{Node: "primary", Method: "PUT", URL: base + "/kv/{key}", Body: `{"value": {value}}`},
		CAS:    &generic.HTTPRequest{Node: "primary", URL: base + "/kv/{key}/cas", Body: `{"old": {old}, "new": {new}}`},
		Charge: &generic.HTTPRequest{Node: "primary", URL: base + "/accounts/{key}/charges", Body: `{"request_id": "{request_id}", "amount": {amount}}`},
		Ledger: &generic.HTTPLedger{HTTPRequest: generic.HTTPRequest{Node: "primary", URL: base + "/accounts/{key}/ledger"}, Rows: &rows},
	}}
}

// kvNodes are kvServer's two nodes as the compose provider gives them:
// bare addresses.
var kvNodes = []targets.Endpoint{{Name: "primary", Role: "primary", Addr: "127.0.0.1"}, {Name: "replica", Role: "replica", Addr: "127.0.0.1"}}

func newTarget(t *testing.T, cfg generic.Config) *generic.Target {
	t.Helper()
	tg, err := generic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestHTTPRequests: each operation sends its method, URL, body and
// headers with the placeholders filled in, the key in the run's
// namespace, to the node its setting picks; the answers come back as
// register values.
func TestHTTPRequests(t *testing.T) {
	s := &kvServer{}
	tg := newTarget(t, kvConfig(s.start(t), "any"))
	k := ns + "-k1"
	steps := []struct {
		p    int
		op   core.Op
		want core.Op
		req  string
	}{
		{1, core.Op{F: "read", Key: "k1"}, core.Op{Type: core.OK, Node: "replica"}, "GET /replica/kv/" + k + "   replica"},
		{0, core.Op{F: "write", Key: "k1", Value: int64(5)}, core.Op{Type: core.OK, Value: int64(5), Node: "primary"},
			"PUT /primary/kv/" + k + ` {"value": 5} application/json primary`},
		{2, core.Op{F: "read", Key: "k1"}, core.Op{Type: core.OK, Value: int64(5), Node: "primary"}, "GET /primary/kv/" + k + "   primary"},
		{3, core.Op{F: "cas", Key: "k1", Value: [2]int64{4, 6}}, core.Op{Type: core.Fail, Value: [2]int64{4, 6}, Node: "primary", Error: "status 409: mismatch"},
			"POST /primary/kv/" + k + `/cas {"old": 4, "new": 6} application/json primary`},
		{3, core.Op{F: "cas", Key: "k1", Value: [2]int64{5, 6}}, core.Op{Type: core.OK, Value: [2]int64{5, 6}, Node: "primary"},
			"POST /primary/kv/" + k + `/cas {"old": 5, "new": 6} application/json primary`},
		{1, core.Op{F: "read", Key: "k1"}, core.Op{Type: core.OK, Value: int64(6), Node: "replica"}, "GET /replica/kv/" + k + "   replica"},
	}
	for i, st := range steps {
		got := invoke(t, tg, kvNodes, st.p, st.op, 2*time.Second)
		st.want.F, st.want.Key = st.op.F, st.op.Key
		if got != st.want {
			t.Errorf("step %d: %+v, want %+v", i, got, st.want)
		}
		if last := s.reqs[len(s.reqs)-1]; last != st.req {
			t.Errorf("step %d: the server saw %q, want %q", i, last, st.req)
		}
	}
}

// TestHTTPOutcomes: a status the mapping calls ok is ok, fail is fail,
// anything else info (redirects are not followed); a request that could
// not be sent is fail, one that timed out info. A read fails on every
// answer but an ok one (with a value, or none) and an absent one.
func TestHTTPOutcomes(t *testing.T) {
	var answer struct {
		sync.Mutex
		status int
		body   string
	}
	hang := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/answer/", func(w http.ResponseWriter, r *http.Request) {
		answer.Lock()
		defer answer.Unlock()
		if answer.status/100 == 3 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(answer.status)
		io.WriteString(w, answer.body)
	})
	mux.HandleFunc("/hang/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices the client leave
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) }) // before srv.Close
	u, _ := url.Parse(srv.URL)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()

	config := func(port, path string) *generic.Target {
		cfg := kvConfig(port, "any")
		cfg.HTTP.Read.URL = "http://{host}:" + port + "/" + path + "/{key}"
		cfg.HTTP.Write.URL = "http://{host}:" + port + "/" + path + "/{key}"
		cfg.HTTP.Status = &generic.Status{Fail: []generic.CodeRange{{409, 409}}, Info: []generic.CodeRange{{500, 599}}}
		return newTarget(t, cfg)
	}
	answers := config(u.Port(), "answer")
	write := core.Op{F: "write", Key: "k0", Value: int64(1)}
	read := core.Op{F: "read", Key: "k0"}
	for _, tc := range []struct {
		status    int
		body      string
		op        core.Op
		want      core.Type
		wantValue any
		wantErr   string
	}{
		{204, "", write, core.OK, int64(1), ""},
		{201, "", write, core.OK, int64(1), ""},
		{409, "taken", write, core.Fail, int64(1), "status 409: taken"},
		{503, "busy", write, core.Info, int64(1), "status 503: busy"},
		{404, "", write, core.Info, int64(1), "status 404"},
		{302, "", write, core.Info, int64(1), "status 302"},
		{200, `{"value": 12}`, read, core.OK, int64(12), ""},
		{200, `{"value": "13"}`, read, core.OK, int64(13), ""},
		{200, `{"value": null}`, read, core.OK, nil, ""},
		{200, `{"other": 1}`, read, core.OK, nil, ""},
		{404, "", read, core.OK, nil, ""},
		{200, `{"value": "x"}`, read, core.Fail, nil, `value at "/value": "x" is not an integer`},
		{200, `{"value": 1.5}`, read, core.Fail, nil, "is not an integer"},
		{200, `not json`, read, core.Fail, nil, "answer is not JSON"},
		{201, `{"value": 1}`, read, core.Fail, nil, "status 201"},
		{503, "", read, core.Fail, nil, "status 503"},
	} {
		answer.Lock()
		answer.status, answer.body = tc.status, tc.body
		answer.Unlock()
		got := invoke(t, answers, kvNodes, 0, tc.op, 2*time.Second)
		if got.Type != tc.want || got.Value != tc.wantValue || !strings.Contains(got.Error, tc.wantErr) {
			t.Errorf("%s answered %d %q: %s %v %q; want %s %v %q", tc.op.F, tc.status, tc.body, got.Type, got.Value, got.Error, tc.want, tc.wantValue, tc.wantErr)
		}
	}
	// Nothing listens: the write was never sent.
	if got := invoke(t, config(refused, "answer"), kvNodes, 0, write, 2*time.Second); got.Type != core.Fail || !strings.HasPrefix(got.Error, "not sent: ") {
		t.Errorf("write to a closed port: %s %q; want fail, not sent", got.Type, got.Error)
	}
	// Sent, never answered: it may have been applied.
	hangs := config(u.Port(), "hang")
	if got := invoke(t, hangs, kvNodes, 0, write, 200*time.Millisecond); got.Type != core.Info || got.Error != "timeout" {
		t.Errorf("write that timed out: %s %q; want info, timeout", got.Type, got.Error)
	}
	if got := invoke(t, hangs, kvNodes, 0, read, 200*time.Millisecond); got.Type != core.Fail || got.Error != "timeout" {
		t.Errorf("read that timed out: %s %q; want fail, timeout", got.Type, got.Error)
	}
}

// TestHTTPRegisterChecked: register operations from concurrent clients
// against a correct server make a history the linearizability checker
// finds valid; the same clients reading from a replica that is one write
// behind make one it finds invalid. Each run's keys carry its namespace.
func TestHTTPRegisterChecked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stale bool
		want  core.Verdict
	}{{"correct", false, core.Valid}, {"stale replica", true, core.Invalid}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &kvServer{stale: tc.stale}
			tg := newTarget(t, kvConfig(s.start(t), "replica"))
			h, res := drive(t, tg, register.Workload{}, kvNodes, 3, 400, 4)
			r := verdict(t, res)
			if r.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s: %s", r.Verdict, tc.want, r.Summary)
			}
			reads, values := counts(h, "read")
			writes, _ := counts(h, "write")
			if reads[core.OK] == 0 || values == 0 || writes[core.OK] == 0 || reads[core.Info]+writes[core.Info] != 0 {
				t.Fatalf("reads %v (%d with a value), writes %v: want ok reads with values and ok writes, no info", reads, values, writes)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			for k := range s.keys {
				if !strings.HasPrefix(k, ns+"-k") {
					t.Fatalf("the server saw key %q, outside the run's namespace", k)
				}
			}
		})
	}
}

// TestHTTPIdempotencyChecked: charges, retried and delivered twice, and
// the ledgers read back through the ledger endpoint are checked by the
// idempotency checker: a server that keys charges by request id is valid,
// one that applies every delivery is found charging twice.
func TestHTTPIdempotencyChecked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		naive bool
		want  core.Verdict
	}{{"deduplicated", false, core.Valid}, {"naive", true, core.Invalid}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &kvServer{naive: tc.naive}
			tg := newTarget(t, kvConfig(s.start(t), "any"))
			h, res := drive(t, tg, idempotency.Workload{}, kvNodes, 3, 150, 4)
			r := verdict(t, res)
			if r.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s: %s", r.Verdict, tc.want, r.Summary)
			}
			if tc.naive && !strings.HasPrefix(r.Summary, "duplicate charges") {
				t.Fatalf("summary %q: want duplicate charges", r.Summary)
			}
			charges, _ := counts(h, "charge")
			ledgers, values := counts(h, "ledger")
			if charges[core.OK] == 0 || ledgers[core.OK] != 3 || values != 3 {
				t.Fatalf("charges %v, ledger reads %v: want ok charges and the 3 ledgers read", charges, ledgers)
			}
			d, _ := r.Details.(*idempotency.Details)
			if d == nil || d.Rows == 0 || d.Redelivered == 0 {
				t.Fatalf("details %+v: want rows read back and requests delivered twice", r.Details)
			}
		})
	}
}

// TestLedgerPages: a ledger read of a page returns that page of the whole
// ledger with its position and length, request ids out of the namespace.
func TestLedgerPages(t *testing.T) {
	s := &kvServer{}
	tg := newTarget(t, kvConfig(s.start(t), "any"))
	for i := range 5 {
		op := invoke(t, tg, kvNodes, 0, core.Op{F: "charge", Key: "a0",
			Value: idempotency.ChargeRequest{RequestID: fmt.Sprintf("r%d", i), Amount: int64(10 + i)}}, 2*time.Second)
		if op.Type != core.OK {
			t.Fatalf("charge %d: %+v", i, op)
		}
	}
	page := invoke(t, tg, kvNodes, 0, core.Op{F: "ledger", Key: "a0", Value: idempotency.LedgerRead{From: 3, Count: 4}}, 2*time.Second)
	want := idempotency.LedgerState{Rows: []idempotency.Row{{RequestID: "r3", Amount: 13}, {RequestID: "r4", Amount: 14}}, From: 3, Total: 5}
	if st, ok := page.Value.(idempotency.LedgerState); page.Type != core.OK || !ok || fmt.Sprint(st) != fmt.Sprint(want) {
		t.Fatalf("page: %+v; want %+v", page, want)
	}
	empty := invoke(t, tg, kvNodes, 0, core.Op{F: "ledger", Key: "a9", Value: idempotency.LedgerRead{From: 0, Count: 4}}, 2*time.Second)
	if st, ok := empty.Value.(idempotency.LedgerState); empty.Type != core.OK || !ok || len(st.Rows) != 0 || st.Rows == nil || st.From != 0 || st.Total != 0 {
		t.Fatalf("empty ledger: %+v", empty)
	}
	if err := page.Value.(idempotency.LedgerState).Validate(); err != nil {
		t.Fatal(err)
	}
}
