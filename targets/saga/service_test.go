package saga

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	wl "github.com/faultline/faultline/workloads/saga"
)

// orderFailingAt returns the id of an order that fails at step ("" for
// none), the first of o1, o2, … that does.
func orderFailingAt(t *testing.T, step string) string {
	t.Helper()
	for i := range int64(1000) {
		if id := wl.OrderID(i + 1); wl.FailsAt(id) == step {
			return id
		}
	}
	t.Fatalf("no order fails at %q", step)
	return ""
}

// newService returns service name of variant over a fresh bbolt store.
func newService(t *testing.T, name string, idempotent bool) *service {
	t.Helper()
	st, err := openBoltEffects(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.close() })
	return &service{name: name, idempotent: idempotent, log: slog.New(slog.DiscardHandler), store: st}
}

// records reads the service's whole record.
func records(t *testing.T, s *service) []wl.Effect {
	t.Helper()
	effs, total, err := s.store.list(context.Background(), 0, 1000)
	if err != nil || int64(len(effs)) != total {
		t.Fatalf("list: %d of %d, %v", len(effs), total, err)
	}
	return effs
}

// TestRedeliveredCommand: the same command delivered three times (as the
// broker does after an ack timeout, a restart or a resend) is recorded
// once by the idempotent variant and three times by the naive one, for
// every step of every service; each delivery answers the step done.
func TestRedeliveredCommand(t *testing.T) {
	id := orderFailingAt(t, "")
	for _, step := range wl.Steps {
		for _, idempotent := range []bool{false, true} {
			s := newService(t, wl.ServiceOf(step), idempotent)
			c := commandFor(record{Order: wl.Order{ID: id, Account: "a1", Item: "i4", Amount: 42}}, step)
			for range 3 {
				ev, err := s.carryOut(context.Background(), c)
				if err != nil || ev != (event{Order: id, Step: step, Done: true}) {
					t.Fatalf("%s (idempotent %v): %+v, %v", step, idempotent, ev, err)
				}
			}
			want := 3
			if idempotent {
				want = 1
			}
			effs := records(t, s)
			if len(effs) != want {
				t.Fatalf("%s (idempotent %v): %d records, want %d: %+v", step, idempotent, len(effs), want, effs)
			}
			for _, e := range effs {
				if e.Order != id || e.Step != step || (wl.ServiceOf(step) == wl.Payment) != (e.Amount == 42 && e.Account == "a1") || (wl.ServiceOf(step) != wl.Payment) != (e.Item == "i4") {
					t.Errorf("%s: record %+v", step, e)
				}
			}
		}
	}
}

// TestRefusedSteps: inventory refuses to reserve an item out of stock and
// shipping to ship an undeliverable one (as wl.FailsAt decides), and
// record nothing; other orders they serve, and no service serves another's
// step.
func TestRefusedSteps(t *testing.T) {
	for _, step := range []string{wl.Reserve, wl.Ship} {
		s := newService(t, wl.ServiceOf(step), true)
		bad := orderFailingAt(t, step)
		ev, err := s.carryOut(context.Background(), command{Order: bad, Step: step, Item: "i1"})
		if err != nil || ev.Done {
			t.Errorf("%s of %s: %+v, %v; want refused", step, bad, ev, err)
		}
		good := orderFailingAt(t, "")
		if ev, err := s.carryOut(context.Background(), command{Order: good, Step: step, Item: "i1"}); err != nil || !ev.Done {
			t.Errorf("%s of %s: %+v, %v; want done", step, good, ev, err)
		}
		if effs := records(t, s); len(effs) != 1 || effs[0].Order != good {
			t.Errorf("%s: records %+v, want the one of %s", step, effs, good)
		}
	}
	s := newService(t, wl.Payment, false)
	if _, err := s.carryOut(context.Background(), command{Order: "o1", Step: wl.Ship}); err == nil {
		t.Error("payment shipped")
	}
}

// TestBoltEffectsPages: the record reads back page by page in the order
// it was made, its length in every page, and survives a reopen.
func TestBoltEffectsPages(t *testing.T) {
	dir := t.TempDir()
	st, err := openBoltEffects(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range int64(7) {
		if ok, err := st.apply(ctx, wl.Effect{Order: wl.OrderID(i + 1), Step: wl.Charge, Amount: i + 1}, ""); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if ok, err := st.apply(ctx, wl.Effect{Order: "o1", Step: wl.Charge}, "o1/charge"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := st.apply(ctx, wl.Effect{Order: "o1", Step: wl.Charge}, "o1/charge"); ok || err != nil {
		t.Fatalf("a second record under one key: %v, %v", ok, err)
	}
	st.close()
	if st, err = openBoltEffects(dir); err != nil {
		t.Fatal(err)
	}
	defer st.close()
	var all []wl.Effect
	for from := int64(0); from < 10; from += 3 {
		page, total, err := st.list(ctx, from, 3)
		if err != nil || total != 8 {
			t.Fatalf("page from %d: total %d, %v", from, total, err)
		}
		all = append(all, page...)
	}
	if len(all) != 8 || all[0].Order != "o1" || all[6].Order != "o7" || all[7].Amount != 0 {
		t.Errorf("pages: %+v", all)
	}
}

// TestOrderTransitions: an order is made once; a transition applies only
// from the state it leaves, so that a redelivered event moves nothing;
// pending lists the sagas in flight; list pages in the order of making.
func TestOrderTransitions(t *testing.T) {
	st, err := openBoltOrders(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ctx := context.Background()
	for i := range int64(3) {
		o := wl.Order{ID: wl.OrderID(i + 1), Account: "a0", Item: "i0", Amount: 1}
		if r, made, err := st.create(ctx, o); !made || err != nil || r.State != stateCharging {
			t.Fatal(r, made, err)
		}
		if _, made, err := st.create(ctx, o); made || err != nil {
			t.Fatal("made twice", err)
		}
	}
	steps := []event{{"o1", wl.Charge, true}, {"o1", wl.Reserve, true}, {"o1", wl.Ship, true},
		{"o2", wl.Charge, true}, {"o2", wl.Reserve, true}, {"o2", wl.Ship, false}, {"o2", wl.Release, true}, {"o2", wl.Refund, true}}
	for _, e := range steps {
		mv, ok := moveOn(e)
		if !ok {
			t.Fatalf("no move on %+v", e)
		}
		for i := range 2 {
			_, moved, err := st.transition(ctx, e.Order, mv.from, mv.to, mv.failed)
			if err != nil || moved != (i == 0) {
				t.Fatalf("%+v delivery %d: moved %v, %v", e, i+1, moved, err)
			}
		}
	}
	if _, ok := moveOn(event{"o3", wl.Charge, false}); ok {
		t.Error("a refused charge moves a saga")
	}
	got := map[string]string{}
	recs, total, err := st.list(ctx, 0, 10)
	if err != nil || total != 3 {
		t.Fatal(total, err)
	}
	for _, r := range recs {
		got[r.ID] = r.State + "/" + r.Failed
	}
	want := map[string]string{"o1": wl.Completed + "/", "o2": wl.Compensated + "/" + wl.Ship, "o3": stateCharging + "/"}
	if len(got) != 3 || got["o1"] != want["o1"] || got["o2"] != want["o2"] || got["o3"] != want["o3"] {
		t.Errorf("states %v, want %v", got, want)
	}
	pending, err := st.pending(ctx)
	if err != nil || len(pending) != 1 || pending[0].ID != "o3" {
		t.Errorf("pending %+v, %v", pending, err)
	}
	if _, _, err := st.transition(ctx, "o9", stateCharging, stateReserving, ""); err == nil {
		t.Error("moved an order never made")
	}
}

// TestLayout: the roles in order, pg first with --store postgres, and bad
// variants and stores refused as bad input.
func TestLayout(t *testing.T) {
	names := func(store string) []string {
		nodes, err := targets.Plan(Target{}, targets.Spec{Variant: VariantIdempotent, Nodes: 3, Store: store})
		if err != nil {
			t.Fatal(err)
		}
		return targets.Names(nodes)
	}
	if got, want := names(""), []string{"broker", "orders", "payment", "inventory", "shipping"}; !slices.Equal(got, want) {
		t.Errorf("embedded: %v, want %v", got, want)
	}
	if got, want := names(StorePostgres), []string{"pg", "broker", "orders", "payment", "inventory", "shipping"}; !slices.Equal(got, want) {
		t.Errorf("postgres: %v, want %v", got, want)
	}
	for _, spec := range []targets.Spec{{Variant: "sloppy"}, {Store: "redis"}} {
		if _, err := (Target{}).Layout(spec); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%+v: %v, want bad input", spec, err)
		}
	}
	if _, err := (Target{}).NewClient(targets.ClientConfig{Workload: "register"}); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("register client: %v", err)
	}
}

// TestDockerfile: the recipe (the postgres target's) installs Debian's
// postgresql (for --store postgres, without its default cluster, postgres
// and initdb linked onto PATH), the network tools and faultline.
func TestDockerfile(t *testing.T) {
	df := string(Target{}.Dockerfile())
	for _, want := range []string{"ARG BASE", "FROM ${BASE}", "postgresql iptables iproute2", "create_main_cluster = false", "/usr/local/bin/;",
		"COPY faultline /usr/local/bin/faultline", "ARG INPUTS", "faultline.inputs=${INPUTS}"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
