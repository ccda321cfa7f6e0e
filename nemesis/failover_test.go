package nemesis_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/nemesis"
)

// fakePromoter models a primary and replicas: follows[n] is the node n
// follows, "" for a primary. It records its calls in the fake cluster's
// log, so that the order of cuts, kills and promotions shows.
type fakePromoter struct {
	c       *fakeCluster
	follows map[string]string
	members []string
	failOn  string
}

func newPromoter(c *fakeCluster, members ...string) *fakePromoter {
	p := &fakePromoter{c: c, follows: map[string]string{}, members: members}
	for _, m := range members[1:] {
		p.follows[m] = members[0]
	}
	return p
}

func (p *fakePromoter) Primary(context.Context) (string, []string, error) {
	var primaries []string
	for _, m := range p.members {
		if p.follows[m] == "" {
			primaries = append(primaries, m)
		}
	}
	switch len(primaries) {
	case 0:
		return "", slices.Clone(p.members), nil
	case 1:
		return primaries[0], slices.Clone(p.members), nil
	}
	return "", nil, errors.New("several primaries: " + strings.Join(primaries, ","))
}

func (p *fakePromoter) Promote(_ context.Context, n string) error {
	if err := p.c.call("promote " + n); err != nil {
		return err
	}
	if p.failOn == "promote" {
		return errors.New("injected")
	}
	p.follows[n] = ""
	return nil
}

func (p *fakePromoter) Follow(_ context.Context, n, primary string) error {
	if err := p.c.call("follow " + n + " " + primary); err != nil {
		return err
	}
	p.follows[n] = primary
	return nil
}

func TestFailoverParse(t *testing.T) {
	for in, mode := range map[string]string{"failover": "", "failover=kill": nemesis.FailoverKill, "failover=isolate": nemesis.FailoverIsolate} {
		fs, err := nemesis.Parse(in)
		if err != nil || len(fs) != 1 || fs[0].(*nemesis.Failover).Mode != mode {
			t.Errorf("Parse(%q) = %v, %v; want mode %q", in, fs, err, mode)
		}
	}
	for _, in := range []string{"failover=", "failover=all", "failover=kill,isolate"} {
		if _, err := nemesis.Parse(in); err == nil || !strings.Contains(err.Error(), "isolate, kill") {
			t.Errorf("Parse(%q) = %v, want the valid modes named", in, err)
		}
	}
}

func TestFailoverNeedsThePromoterOfTheTarget(t *testing.T) {
	f := &nemesis.Failover{}
	err := nemesis.Available(f, newFake(3))
	if !errors.Is(err, nemesis.ErrTargetUnsupported) || errors.Is(err, nemesis.ErrUnsupported) {
		t.Fatalf("failover without a promoter: %v, want ErrTargetUnsupported", err)
	}
	if _, err := f.Start(t.Context(), newFake(3), rand.New(rand.NewPCG(1, 1))); !errors.Is(err, nemesis.ErrTargetUnsupported) {
		t.Fatalf("Start without a promoter: %v", err)
	}
	c := newFake(3)
	if err := nemesis.Available(f, nemesis.Extend(c, newPromoter(c, "n1", "n2"))); err != nil {
		t.Fatalf("failover with a promoter: %v", err)
	}
	// Without a killer, only isolate can act.
	bare := nemesis.Extend(bareCluster{}, newPromoter(c, "n1", "n2"))
	if err := nemesis.Available(&nemesis.Failover{Mode: nemesis.FailoverKill}, bare); !errors.Is(err, nemesis.ErrUnsupported) {
		t.Fatalf("failover=kill without a killer: %v", err)
	}
}

func TestFailoverWindows(t *testing.T) {
	for _, mode := range []string{nemesis.FailoverIsolate, nemesis.FailoverKill} {
		t.Run(mode, func(t *testing.T) {
			c := newFake(4)
			p := newPromoter(c, "n1", "n2", "n3")
			cl := nemesis.Extend(c, p)
			f := &nemesis.Failover{Mode: mode, Lag: time.Millisecond}
			v, err := f.Start(t.Context(), cl, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			fv := v.(nemesis.FailoverValue)
			if fv.Primary != "n1" || fv.Promoted == "" || fv.Promoted == "n1" || fv.Killed != (mode == nemesis.FailoverKill) {
				t.Fatalf("start value %+v", fv)
			}
			next := fv.Promoted
			other := "n2"
			if next == "n2" {
				other = "n3"
			}
			want := []string{"partition", `grudge {"n1":["n2","n3"],"n2":["n1"],"n3":["n1"]}`, "promote " + next, "follow " + other + " " + next}
			if mode == nemesis.FailoverKill {
				want = append(want, "kill n1")
			}
			if got := c.Calls(); !slices.Equal(got, want) {
				t.Fatalf("start calls\n got %q\nwant %q", got, want)
			}
			v, err = f.Stop(t.Context(), cl)
			if err != nil {
				t.Fatal(err)
			}
			if sv := v.(nemesis.FailoverValue); sv.Primary != next || sv.Follower != "n1" {
				t.Fatalf("stop value %+v", sv)
			}
			stop := []string{"heal-partition"}
			if mode == nemesis.FailoverKill {
				stop = append(stop, "restart n1")
			}
			stop = append(stop, "follow n1 "+next)
			if got := c.Calls()[len(want):]; !slices.Equal(got, stop) {
				t.Fatalf("stop calls\n got %q\nwant %q", got, stop)
			}
			// The next window starts from the new primary.
			if prim, _, _ := p.Primary(t.Context()); prim != next {
				t.Fatalf("primary after the window %q, want %q", prim, next)
			}
			// A second Stop has nothing left to do.
			before := len(c.Calls())
			if _, err := f.Stop(t.Context(), cl); err != nil || len(c.Calls()) != before {
				t.Fatalf("second stop: %v, calls %q", err, c.Calls()[before:])
			}
		})
	}
}

func TestFailoverDrawsBothModes(t *testing.T) {
	seen := map[string]bool{}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 20 {
		c := newFake(2)
		cl := nemesis.Extend(c, newPromoter(c, "n1", "n2"))
		f := &nemesis.Failover{Lag: time.Microsecond}
		v, err := f.Start(t.Context(), cl, rng)
		if err != nil {
			t.Fatal(err)
		}
		seen[v.(nemesis.FailoverValue).Mode] = true
		if _, err := f.Stop(t.Context(), cl); err != nil {
			t.Fatal(err)
		}
	}
	if !seen[nemesis.FailoverIsolate] || !seen[nemesis.FailoverKill] || len(seen) != 2 {
		t.Fatalf("modes drawn: %v", seen)
	}
}

func TestFailoverHealsWhatAFailedStartDid(t *testing.T) {
	c := newFake(2)
	p := newPromoter(c, "n1", "n2")
	p.failOn = "promote"
	cl := nemesis.Extend(c, p)
	f := &nemesis.Failover{Mode: nemesis.FailoverKill, Lag: time.Microsecond}
	if _, err := f.Start(t.Context(), cl, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "promote n2") {
		t.Fatalf("start with a failing promotion: %v", err)
	}
	n := len(c.Calls())
	if _, err := f.Stop(t.Context(), cl); err != nil {
		t.Fatal(err)
	}
	// Healed; nothing killed and nothing to follow, as nothing was
	// promoted.
	if got := c.Calls()[n:]; !slices.Equal(got, []string{"heal-partition"}) {
		t.Fatalf("stop calls %q", got)
	}

	// A cancelled lag leaves the cut for Stop to heal.
	c = newFake(2)
	cl = nemesis.Extend(c, newPromoter(c, "n1", "n2"))
	f = &nemesis.Failover{Mode: nemesis.FailoverIsolate, Lag: time.Hour}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.Start(ctx, cl, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("start under a cancelled context succeeded")
	}
	if _, err := f.Stop(t.Context(), cl); err != nil || !slices.Contains(c.Calls(), "heal-partition") || slices.ContainsFunc(c.Calls(), func(s string) bool { return strings.HasPrefix(s, "promote") }) {
		t.Fatalf("stop after a cancelled start: %v, calls %q", err, c.Calls())
	}
}

func TestFailoverWithoutAPrimaryPromotesOne(t *testing.T) {
	c := newFake(2)
	p := newPromoter(c, "n1", "n2")
	p.follows["n1"] = "n2" // a loop: each follows the other
	cl := nemesis.Extend(c, p)
	f := &nemesis.Failover{Lag: time.Microsecond}
	v, err := f.Start(t.Context(), cl, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if prim, _, _ := p.Primary(t.Context()); prim == "" || v.(nemesis.FailoverValue).Promoted != prim {
		t.Fatalf("value %+v, primary now %q", v, prim)
	}
	if slices.Contains(c.Calls(), "partition") {
		t.Fatalf("cut with no primary: %q", c.Calls())
	}
}

// rebuildingPromoter is a fakePromoter whose Follow rebuilds the node.
type rebuildingPromoter struct{ *fakePromoter }

func (rebuildingPromoter) RebuildsOnFollow() {}

// TestFailoverLeavesAKilledPrimaryToARebuilder: in kill mode, Stop does
// not restart the old primary of a Rebuilder (it would come back as a
// second primary); Follow rebuilds it as it is. Isolate mode is as before.
func TestFailoverLeavesAKilledPrimaryToARebuilder(t *testing.T) {
	for _, mode := range []string{nemesis.FailoverIsolate, nemesis.FailoverKill} {
		t.Run(mode, func(t *testing.T) {
			c := newFake(2)
			p := rebuildingPromoter{newPromoter(c, "n1", "n2")}
			cl := nemesis.Extend(c, p)
			f := &nemesis.Failover{Mode: mode, Lag: time.Millisecond}
			if _, err := f.Start(t.Context(), cl, rand.New(rand.NewPCG(1, 2))); err != nil {
				t.Fatal(err)
			}
			n := len(c.Calls())
			if _, err := f.Stop(t.Context(), cl); err != nil {
				t.Fatal(err)
			}
			want := []string{"heal-partition", "follow n1 n2"}
			if got := c.Calls()[n:]; !slices.Equal(got, want) {
				t.Fatalf("stop calls\n got %q\nwant %q", got, want)
			}
		})
	}
}
