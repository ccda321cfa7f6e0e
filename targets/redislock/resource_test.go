package redislock

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/faultline/faultline/workloads/lock"
)

func mustAccess(t *testing.T, r *resource, req AccessRequest, wantAccepted bool) lock.Access {
	t.Helper()
	a, err := r.access(req)
	if wantAccepted && err != nil {
		t.Fatalf("%+v: %v; want accepted", req, err)
	}
	if !wantAccepted && !errors.Is(err, errStale) {
		t.Fatalf("%+v: %v; want refused as stale", req, err)
	}
	if a.Accepted != wantAccepted {
		t.Fatalf("%+v recorded as %+v", req, a)
	}
	return a
}

// TestFencingRefusesStaleTokens: once a key has seen token 5, accesses
// with a lower token are refused, reads included, and recorded as
// refusals; equal and higher tokens pass; another key is not affected.
func TestFencingRefusesStaleTokens(t *testing.T) {
	r, err := openResource("", true)
	if err != nil {
		t.Fatal(err)
	}
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpRead, Holder: "p1", Token: 5}, true)
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpWrite, Holder: "p1", Token: 5, Value: 1}, true)
	stale := mustAccess(t, r, AccessRequest{Key: "l0", Op: OpRead, Holder: "p2", Token: 4}, false)
	if stale.Value != 0 {
		t.Errorf("a refused read recorded value %d, want 0", stale.Value)
	}
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpWrite, Holder: "p2", Token: 4, Value: 7}, false)
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpWrite, Holder: "p2", Token: 0, Value: 7}, false)
	if a := mustAccess(t, r, AccessRequest{Key: "l0", Op: OpRead, Holder: "p3", Token: 6}, true); a.Value != 1 {
		t.Errorf("read after refused writes saw %d, want 1", a.Value)
	}
	// p1's token 5 is now stale too.
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpWrite, Holder: "p1", Token: 5, Value: 9}, false)
	mustAccess(t, r, AccessRequest{Key: "l1", Op: OpWrite, Holder: "p2", Token: 1, Value: 3}, true)

	st := r.state("l0", 0, 0)
	want := lock.ResourceState{Value: 1, Fencing: true, Accesses: []lock.Access{
		{Seq: 1, Op: OpRead, Holder: "p1", Token: 5, Value: 0, Accepted: true},
		{Seq: 2, Op: OpWrite, Holder: "p1", Token: 5, Value: 1, Accepted: true},
		{Seq: 3, Op: OpRead, Holder: "p2", Token: 4, Value: 0, Accepted: false},
		{Seq: 4, Op: OpWrite, Holder: "p2", Token: 4, Value: 7, Accepted: false},
		{Seq: 5, Op: OpWrite, Holder: "p2", Token: 0, Value: 7, Accepted: false},
		{Seq: 6, Op: OpRead, Holder: "p3", Token: 6, Value: 1, Accepted: true},
		{Seq: 7, Op: OpWrite, Holder: "p1", Token: 5, Value: 9, Accepted: false},
	}}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("state of l0:\n got %+v\nwant %+v", st, want)
	}
	if st := r.state("l1", 0, 0); st.Value != 3 || len(st.Accesses) != 1 || st.Accesses[0].Seq != 8 {
		t.Errorf("state of l1: %+v; want value 3 and one access with seq 8 (seq spans keys)", st)
	}
	if st := r.state("never", 0, 0); st.Value != 0 || st.Accesses == nil || len(st.Accesses) != 0 || !st.Fencing {
		t.Errorf("state of an untouched key: %+v", st)
	}
	// Pages: the record of l0 read three at a time is the whole record.
	var joined []lock.Access
	for from := int64(0); from < 9; from += 3 {
		p := r.state("l0", from, 3)
		if p.From != from || p.Total != 7 || p.Value != 1 {
			t.Errorf("page from %d: from %d total %d value %d; want %d, 7, 1", from, p.From, p.Total, p.Value, from)
		}
		joined = append(joined, p.Accesses...)
	}
	if !reflect.DeepEqual(joined, want.Accesses) {
		t.Errorf("pages joined:\n got %+v\nwant %+v", joined, want.Accesses)
	}
}

// TestNoFencingAcceptsEverything: without fencing a stale token's write
// is accepted: the lost update the naive lock allows.
func TestNoFencingAcceptsEverything(t *testing.T) {
	r, err := openResource("", false)
	if err != nil {
		t.Fatal(err)
	}
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpWrite, Holder: "p1", Token: 5, Value: 1}, true)
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpWrite, Holder: "p2", Token: 1, Value: 1}, true)
	if st := r.state("l0", 0, 0); st.Value != 1 || st.Fencing || len(st.Accesses) != 2 {
		t.Errorf("state %+v", st)
	}
	if _, err := r.access(AccessRequest{Key: "l0", Op: "delete"}); !errors.Is(err, errBadAccess) {
		t.Errorf("unknown op: %v", err)
	}
	if _, err := r.access(AccessRequest{Op: OpRead}); !errors.Is(err, errBadAccess) {
		t.Errorf("no key: %v", err)
	}
	if st := r.state("l0", 0, 0); len(st.Accesses) != 2 {
		t.Errorf("bad accesses were recorded: %+v", st)
	}
}

// TestResourceSurvivesRestart: the record is reloaded from the data
// folder, sequence numbers and fencing continue where they were, and a
// torn last line (the node died while writing it) is cut off.
func TestResourceSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), recordFile)
	r, err := openResource(path, true)
	if err != nil {
		t.Fatal(err)
	}
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpRead, Holder: "p1", Token: 3}, true)
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpWrite, Holder: "p1", Token: 3, Value: 1}, true)
	mustAccess(t, r, AccessRequest{Key: "l0", Op: OpWrite, Holder: "p2", Token: 2, Value: 1}, false)
	mustAccess(t, r, AccessRequest{Key: "l1", Op: OpWrite, Holder: "p2", Token: 1, Value: 4}, true)
	before := []lock.ResourceState{r.state("l0", 0, 0), r.state("l1", 0, 0)}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	// A torn last record.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"key":"l0","seq":5,"op":"wri`)
	f.Close()

	r2, err := openResource(path, true)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	after := []lock.ResourceState{r2.state("l0", 0, 0), r2.state("l1", 0, 0)}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("state after restart:\n got %+v\nwant %+v", after, before)
	}
	mustAccess(t, r2, AccessRequest{Key: "l0", Op: OpWrite, Holder: "p2", Token: 2, Value: 2}, false)
	a := mustAccess(t, r2, AccessRequest{Key: "l0", Op: OpRead, Holder: "p3", Token: 4}, true)
	if a.Seq != 6 || a.Value != 1 {
		t.Errorf("first access after restart %+v; want seq 6, value 1", a)
	}
	r2.close()

	r3, err := openResource(path, true)
	if err != nil {
		t.Fatalf("reopen after appending past a cut record: %v", err)
	}
	defer r3.close()
	if st := r3.state("l0", 0, 0); len(st.Accesses) != 5 || st.Accesses[4].Seq != 6 {
		t.Errorf("record after two restarts: %+v", st)
	}

	// A bad line before the last one is corruption, not a torn write.
	b, _ := os.ReadFile(path)
	bad := filepath.Join(t.TempDir(), recordFile)
	os.WriteFile(bad, append([]byte("garbage\n"), b...), 0o644)
	if _, err := openResource(bad, true); err == nil {
		t.Error("a record with a bad line in the middle was loaded")
	}
}

// TestResourceHTTP: the routes answer 200 for an accepted access, 409 for
// a stale token (recorded), 400 for a malformed request (not recorded),
// and the state route returns the record.
func TestResourceHTTP(t *testing.T) {
	r, err := openResource("", true)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.handler())
	defer srv.Close()
	post := func(body string) (int, AccessReply) {
		t.Helper()
		resp, err := http.Post(srv.URL+RouteAccess, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ar AccessReply
		if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, ar
	}
	if code, ar := post(`{"key":"l0","op":"write","holder":"p1","token":2,"value":1}`); code != 200 || !ar.Accepted || ar.Seq != 1 {
		t.Errorf("write: %d %+v", code, ar)
	}
	if code, ar := post(`{"key":"l0","op":"read","holder":"p2","token":1}`); code != 409 || ar.Accepted || ar.Seq != 2 || ar.Error == "" {
		t.Errorf("stale read: %d %+v", code, ar)
	}
	if code, ar := post(`{"key":"l0","op":"read","holder":"p2","token":"x"}`); code != 400 || ar.Seq != 0 {
		t.Errorf("malformed: %d %+v", code, ar)
	}
	if code, ar := post(`{"key":"l0","op":"swap","holder":"p2"}`); code != 400 || ar.Seq != 0 {
		t.Errorf("unknown op: %d %+v", code, ar)
	}
	resp, err := http.Get(srv.URL + RouteState + "?key=l0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st lock.ResourceState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("state: %d %v", resp.StatusCode, err)
	}
	if st.Value != 1 || len(st.Accesses) != 2 || st.Accesses[1].Accepted {
		t.Errorf("state %+v", st)
	}
	if err := ResourceReady(t.Context(), srv.Listener.Addr().String()); err != nil {
		t.Errorf("ResourceReady: %v", err)
	}
}
