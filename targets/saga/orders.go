package saga

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/targets"
	wl "github.com/faultline/faultline/workloads/saga"
)

// The states of a saga in flight at the orchestrator: the step it waits
// for. A saga ends in wl.Completed or wl.Compensated.
const (
	stateCharging  = "charging"
	stateReserving = "reserving"
	stateShipping  = "shipping"
	stateReleasing = "releasing"
	stateRefunding = "refunding"
)

// isTerminal reports whether state ends a saga.
func isTerminal(state string) bool { return state == wl.Completed || state == wl.Compensated }

// awaited returns the step a saga in state waits for, "" when it ended.
func awaited(state string) string {
	switch state {
	case stateCharging:
		return wl.Charge
	case stateReserving:
		return wl.Reserve
	case stateShipping:
		return wl.Ship
	case stateReleasing:
		return wl.Release
	case stateRefunding:
		return wl.Refund
	}
	return ""
}

// move is one transition of a saga: from the state that awaits an event's
// step to the next state, recording the failed step, if any.
type move struct {
	from, to, failed string
}

// moveOn returns the transition an event makes, false for an event that
// makes none (a refusal of a step that cannot be refused).
func moveOn(e event) (move, bool) {
	switch {
	case e.Step == wl.Charge && e.Done:
		return move{stateCharging, stateReserving, ""}, true
	case e.Step == wl.Reserve && e.Done:
		return move{stateReserving, stateShipping, ""}, true
	case e.Step == wl.Reserve:
		return move{stateReserving, stateRefunding, wl.Reserve}, true
	case e.Step == wl.Ship && e.Done:
		return move{stateShipping, wl.Completed, ""}, true
	case e.Step == wl.Ship:
		return move{stateShipping, stateReleasing, wl.Ship}, true
	case e.Step == wl.Release && e.Done:
		return move{stateReleasing, stateRefunding, ""}, true
	case e.Step == wl.Refund && e.Done:
		return move{stateRefunding, wl.Compensated, ""}, true
	}
	return move{}, false
}

// commandFor is the command of step for the order of r.
func commandFor(r record, step string) command {
	c := command{Order: r.ID, Step: step}
	if wl.ServiceOf(step) == wl.Payment {
		c.Account, c.Amount = r.Account, r.Amount
	} else {
		c.Item = r.Item
	}
	return c
}

// Timing of the orchestrator's resends.
const (
	// resendAfter is how long a saga may wait for its step's event before
	// the orchestrator publishes the step's command again.
	resendAfter = 3 * time.Second
	// resendEvery is how often it looks for such sagas.
	resendEvery = 500 * time.Millisecond
)

// orchestrator runs the sagas.
type orchestrator struct {
	log   *slog.Logger
	store orderStore
	bus   *bus
	mu    sync.Mutex
	sent  map[string]time.Time // order id -> last publish of its awaited step's command
}

// RunOrders runs the orchestrator node: its store (--store), its
// connection to the broker (its Peers address), its consumer of events,
// the resends, and its API on APIAddr. It stops when ctx ends.
func RunOrders(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	store, err := openOrderStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.close()
	b, err := dialBus(cfg.Peers[RoleBroker], cfg.Name, log)
	if err != nil {
		return err
	}
	defer b.close()
	o := &orchestrator{log: log, store: store, bus: b, sent: map[string]time.Time{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.consume(ctx, RoleOrders, o.onEvent); err != nil {
			log.Error("consume events", "err", err)
		}
	})
	wg.Go(func() { o.resend(ctx) })
	err = serve(ctx, cfg, o.handler(), log)
	wg.Wait()
	return err
}

// openOrderStore opens the orchestrator's store of cfg.Store.
func openOrderStore(ctx context.Context, cfg targets.NodeConfig) (orderStore, error) {
	store, err := checkStore(cfg.Store)
	if err != nil {
		return nil, err
	}
	if store == StorePostgres {
		return openPGOrders(ctx, cfg.Peers[RolePG])
	}
	return openBoltOrders(cfg.DataDir)
}

// onEvent moves the event's saga on, publishes the next step's command
// when it moved, and acknowledges the event. A store error leaves the
// event unacknowledged: it comes again. A failed publish is left to the
// resends.
func (o *orchestrator) onEvent(ctx context.Context, m jetstream.Msg) {
	var e event
	if !decode(m, &e, o.log) {
		return
	}
	mv, ok := moveOn(e)
	if !ok {
		_ = m.Ack()
		return
	}
	r, moved, err := o.store.transition(ctx, e.Order, mv.from, mv.to, mv.failed)
	if err != nil {
		o.log.Warn("transition", "order", e.Order, "from", mv.from, "to", mv.to, "err", err)
		return
	}
	if moved {
		o.advance(ctx, r)
	}
	_ = m.Ack()
}

// advance publishes the command of the step r awaits, if any, and notes
// when.
func (o *orchestrator) advance(ctx context.Context, r record) {
	step := awaited(r.State)
	o.mu.Lock()
	if step == "" {
		delete(o.sent, r.ID)
	} else {
		o.sent[r.ID] = time.Now()
	}
	o.mu.Unlock()
	if step == "" {
		return
	}
	if err := o.bus.publish(ctx, subject(wl.ServiceOf(step), step), commandFor(r, step)); err != nil {
		o.log.Warn("publish command", "order", r.ID, "step", step, "err", err)
	}
}

// resend publishes again, every resendEvery, the command of each saga
// that has waited resendAfter for its step (or was never seen since the
// orchestrator started), until ctx ends. A publish that fails ends the
// round: the broker is out of reach.
func (o *orchestrator) resend(ctx context.Context) {
	t := time.NewTicker(resendEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		pending, err := o.store.pending(rctx)
		cancel()
		if err != nil {
			o.log.Warn("pending orders", "err", err)
			continue
		}
		now := time.Now()
		for _, r := range pending {
			o.mu.Lock()
			last, seen := o.sent[r.ID]
			if !seen {
				o.sent[r.ID] = now
			}
			o.mu.Unlock()
			if !seen || now.Sub(last) < resendAfter {
				continue
			}
			step := awaited(r.State)
			o.mu.Lock()
			o.sent[r.ID] = now
			o.mu.Unlock()
			if err := o.bus.publish(ctx, subject(wl.ServiceOf(step), step), commandFor(r, step)); err != nil {
				o.log.Warn("resend command", "order", r.ID, "step", step, "err", err)
				break
			}
			o.log.Debug("resent command", "order", r.ID, "step", step)
		}
	}
}

// handler serves the orchestrator's API.
func (o *orchestrator) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+RouteHealth, health(o.bus.ready))
	mux.HandleFunc("POST "+RouteOrders, o.place)
	mux.HandleFunc("GET "+RouteOrders, o.list)
	mux.HandleFunc("GET "+RouteOrder+"{id}", o.get)
	mux.HandleFunc("GET "+RouteInFlight, o.inFlight)
	return mux
}

// place records a posted order and starts its saga; an order recorded
// already is answered as it stands.
func (o *orchestrator) place(w http.ResponseWriter, r *http.Request) {
	var ord wl.Order
	d := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	d.DisallowUnknownFields()
	if err := d.Decode(&ord); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad order: %w", err))
		return
	}
	if err := ord.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("bad order: %w", err))
		return
	}
	rec, made, err := o.store.create(r.Context(), ord)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("record order %s: %w", ord.ID, err))
		return
	}
	if made {
		o.advance(r.Context(), rec)
	}
	writeJSON(w, http.StatusOK, stateOf(rec))
}

func (o *orchestrator) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, ok, err := o.store.get(r.Context(), id)
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
	case !ok:
		writeError(w, http.StatusNotFound, fmt.Errorf("no order %s", id))
	default:
		writeJSON(w, http.StatusOK, stateOf(rec))
	}
}

func (o *orchestrator) list(w http.ResponseWriter, r *http.Request) {
	from, count, err := pageParams(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	recs, total, err := o.store.list(r.Context(), from, count)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	p := wl.OrdersPage{Orders: []wl.OrderState{}, From: from, Total: total}
	for _, rec := range recs {
		p.Orders = append(p.Orders, stateOf(rec))
	}
	writeJSON(w, http.StatusOK, p)
}

func (o *orchestrator) inFlight(w http.ResponseWriter, r *http.Request) {
	pending, err := o.store.pending(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, wl.Settled{InFlight: int64(len(pending))})
}
