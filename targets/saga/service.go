package saga

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/targets"
	wl "github.com/faultline/faultline/workloads/saga"
)

// service is one of payment, inventory and shipping.
type service struct {
	name       string
	idempotent bool
	log        *slog.Logger
	store      effectStore
	bus        *bus
}

// RunService runs the node of a service (its role names it): its store
// (--store), its connection to the broker (its Peers address), its
// consumer of commands and its API on APIAddr. It stops when ctx ends.
func RunService(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	if !slices.Contains(wl.Services, cfg.Role) {
		return fmt.Errorf("role %s is no service (want one of %v)", cfg.Role, wl.Services)
	}
	variant, err := checkVariant(cfg.Variant)
	if err != nil {
		return err
	}
	store, err := openEffectStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.close()
	b, err := dialBus(cfg.Peers[RoleBroker], cfg.Name, log)
	if err != nil {
		return err
	}
	defer b.close()
	s := &service{name: cfg.Role, idempotent: variant == VariantIdempotent, log: log, store: store, bus: b}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.consume(ctx, s.name, s.onCommand); err != nil {
			log.Error("consume commands", "err", err)
		}
	})
	err = serve(ctx, cfg, s.handler(), log)
	wg.Wait()
	return err
}

// openEffectStore opens the service's store of cfg.Store.
func openEffectStore(ctx context.Context, cfg targets.NodeConfig) (effectStore, error) {
	store, err := checkStore(cfg.Store)
	if err != nil {
		return nil, err
	}
	if store == StorePostgres {
		return openPGEffects(ctx, cfg.Peers[RolePG], cfg.Role)
	}
	return openBoltEffects(cfg.DataDir)
}

// refuses reports whether the service refuses step of order: the item is
// out of stock (reserve) or undeliverable (ship), as wl.FailsAt decides.
func refuses(order, step string) bool {
	return (step == wl.Reserve || step == wl.Ship) && wl.FailsAt(order) == step
}

// carryOut applies one delivery of c and returns the event to publish:
// unless the step is refused it records the step, under the key
// order/step in the idempotent variant (a second delivery records
// nothing) and with no key in the naive one (every delivery records).
func (s *service) carryOut(ctx context.Context, c command) (event, error) {
	if wl.ServiceOf(c.Step) != s.name {
		return event{}, fmt.Errorf("%s cannot %s", s.name, c.Step)
	}
	if refuses(c.Order, c.Step) {
		return event{Order: c.Order, Step: c.Step, Done: false}, nil
	}
	key := ""
	if s.idempotent {
		key = c.Order + "/" + c.Step
	}
	e := wl.Effect{Order: c.Order, Step: c.Step, Account: c.Account, Amount: c.Amount, Item: c.Item}
	if _, err := s.store.apply(ctx, e, key); err != nil {
		return event{}, fmt.Errorf("record %s of %s: %w", c.Step, c.Order, err)
	}
	return event{Order: c.Order, Step: c.Step, Done: true}, nil
}

// onCommand carries out one delivery of a command, publishes its event
// and only then acknowledges it; a store or publish error leaves it
// unacknowledged, so it comes again after AckWait.
func (s *service) onCommand(ctx context.Context, m jetstream.Msg) {
	var c command
	if !decode(m, &c, s.log) {
		return
	}
	ev, err := s.carryOut(ctx, c)
	if err != nil {
		s.log.Warn("carry out", "order", c.Order, "step", c.Step, "err", err)
		return
	}
	if err := s.bus.publish(ctx, subject(RoleOrders, c.Step), ev); err != nil {
		s.log.Warn("publish event", "order", c.Order, "step", c.Step, "err", err)
		return
	}
	_ = m.Ack()
}

// handler serves the service's API.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+RouteHealth, health(s.bus.ready))
	mux.HandleFunc("GET "+RouteEffects, func(w http.ResponseWriter, r *http.Request) {
		from, count, err := pageParams(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		effs, total, err := s.store.list(r.Context(), from, count)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err)
			return
		}
		writeJSON(w, http.StatusOK, wl.EffectsPage{Effects: effs, From: from, Total: total})
	})
	return mux
}
