package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

func TestJoinErrors(t *testing.T) {
	if JoinErrors(nil, nil) != nil {
		t.Fatal("nil parts joined into an error")
	}
	a, b := errors.New("a failed"), errors.New("b failed")
	err := JoinErrors(a, nil, b)
	if err.Error() != "a failed; b failed" || !errors.Is(err, a) || !errors.Is(err, b) {
		t.Fatalf("joined %q", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatal("joined error spans lines")
	}
}

func TestBoundedEndsWithLife(t *testing.T) {
	closed := errors.New("closed")
	life, end := context.WithCancel(context.Background())
	ctx, cancel := Bounded(context.Background(), life, time.Hour, closed)
	defer cancel()
	end()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("bounded context outlived its cluster")
	}
	if !errors.Is(context.Cause(ctx), closed) {
		t.Fatalf("cause %v, want the closed error", context.Cause(ctx))
	}
	ctx, cancel = Bounded(context.Background(), context.Background(), time.Millisecond, closed)
	defer cancel()
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", ctx.Err())
	}
}

func TestEach(t *testing.T) {
	errs := Each([]int{1, 2, 3}, func(i int) error {
		if i == 2 {
			return errors.New("two")
		}
		return nil
	})
	if len(errs) != 3 || errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("errors %v, want one per item in order", errs)
	}
}

func TestSteps(t *testing.T) {
	serial := func(s string) bool { return strings.HasPrefix(s, "pg") }
	for _, tc := range []struct {
		nodes []string
		want  string
	}{
		{nil, ""},
		{[]string{"n1", "n2", "n3"}, "[n1 n2 n3]"},
		{[]string{"pg1", "pg2"}, "[pg1] [pg2]"},
		{[]string{"pg1", "pg2", "resource"}, "[pg1] [pg2] [resource]"},
		{[]string{"a", "b", "pg1", "c", "pg2", "d", "e"}, "[a b] [pg1] [c] [pg2] [d e]"},
	} {
		var got []string
		for _, s := range Steps(tc.nodes, serial) {
			got = append(got, fmt.Sprint(s))
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("Steps(%v) = %s, want %s", tc.nodes, g, tc.want)
		}
	}
}

func TestInitDue(t *testing.T) {
	for _, tc := range []struct {
		entries []string
		want    bool
	}{
		{nil, true},
		{[]string{targets.ResetMarker}, true},
		{[]string{"pgdata"}, false},
		{[]string{targets.ResetMarker, "pgdata"}, false},
	} {
		if got := InitDue(tc.entries); got != tc.want {
			t.Errorf("InitDue(%v) = %v, want %v", tc.entries, got, tc.want)
		}
	}
}

func TestPollProblems(t *testing.T) {
	// Problems until the third round: nil.
	rounds := 0
	got := PollProblems(context.Background(), time.Millisecond, func(context.Context) []string {
		rounds++
		if rounds < 3 {
			return []string{fmt.Sprintf("round %d", rounds)}
		}
		return nil
	})
	if got != nil || rounds != 3 {
		t.Errorf("PollProblems = %q after %d rounds, want nil after 3", got, rounds)
	}

	// The deadline cuts the third round short: the second is reported.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rounds = 0
	got = PollProblems(ctx, time.Millisecond, func(context.Context) []string {
		rounds++
		if rounds == 3 {
			cancel()
			return []string{"cut short"}
		}
		return []string{fmt.Sprintf("round %d", rounds)}
	})
	if strings.Join(got, ",") != "round 2" || rounds != 3 {
		t.Errorf("PollProblems = %q after %d rounds, want [round 2] after 3", got, rounds)
	}

	// A first round cut short is all there is.
	ctx, cancel = context.WithCancel(context.Background())
	got = PollProblems(ctx, time.Hour, func(context.Context) []string {
		cancel()
		return []string{"first"}
	})
	if strings.Join(got, ",") != "first" {
		t.Errorf("PollProblems with the first round cut short = %q", got)
	}
}

func TestLookupLockOpenAndStateError(t *testing.T) {
	one := 1
	byName := map[string]*int{"n1": &one}
	if n, err := Lookup(byName, []string{"n1"}, "kill", "n1"); err != nil || n != &one {
		t.Errorf("Lookup n1 = %v, %v", n, err)
	}
	n, err := Lookup(byName, []string{"n1", "n2"}, "kill", "n9")
	if n != nil || !errors.Is(err, nemesis.ErrUnknownNode) || err.Error() != `kill "n9": unknown node (nodes are n1, n2)` {
		t.Errorf("Lookup n9 = %v, %v", n, err)
	}

	var mu sync.Mutex
	closed := false
	if err := LockOpen(&mu, &closed, "pause"); err != nil || mu.TryLock() {
		t.Fatalf("LockOpen on an open cluster: %v, or mu not held", err)
	}
	closed = true
	mu.Unlock()
	if err := LockOpen(&mu, &closed, "pause"); !errors.Is(err, nemesis.ErrClosed) || err.Error() != "pause: "+nemesis.ErrClosed.Error() {
		t.Errorf("LockOpen on a closed cluster: %v", err)
	}
	if !mu.TryLock() {
		t.Error("LockOpen on a closed cluster kept mu")
	}

	err = StateError("pause", "n2", "killed", "running")
	if !errors.Is(err, nemesis.ErrNodeState) || err.Error() != "pause n2: node is killed, pause needs it running: "+nemesis.ErrNodeState.Error() {
		t.Errorf("StateError = %v", err)
	}
}

func TestWriteAndReadLayout(t *testing.T) {
	type layout struct {
		Provider string   `json:"provider"`
		Nodes    []string `json:"nodes"`
	}
	dir := t.TempDir()
	if err := WriteLayout(dir, layout{"docker", []string{"n1"}}); err == nil || !strings.HasPrefix(err.Error(), "write cluster layout: ") {
		t.Errorf("WriteLayout without a nodes folder: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "nodes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(dir, layout{"docker", []string{"n1", "n2"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "nodes", "cluster.json"))
	if want := "{\n  \"provider\": \"docker\",\n  \"nodes\": [\n    \"n1\",\n    \"n2\"\n  ]\n}\n"; err != nil || string(b) != want {
		t.Errorf("cluster.json = %q, %v; want %q", b, err, want)
	}
	l, err := ReadLayout[layout](dir)
	if err != nil || l.Provider != "docker" || strings.Join(l.Nodes, ",") != "n1,n2" {
		t.Errorf("ReadLayout = %+v, %v", l, err)
	}
	if _, err := ReadLayout[layout](t.TempDir()); err == nil || !strings.HasPrefix(err.Error(), "read cluster layout: ") {
		t.Errorf("ReadLayout of a folder without a layout: %v", err)
	}
}
