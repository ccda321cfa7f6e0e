// Package saga is the target "saga": an order orchestrator and payment,
// inventory and shipping services that talk through a real message
// broker, NATS JetStream (nats-server embedded as a node of its own), with
// at-least-once delivery: every consumer acknowledges explicitly, after
// its store write, and the broker delivers again what was not
// acknowledged within AckWait (one second). It serves the saga workload
// (workloads/saga).
//
// A client posts an order to the orchestrator ("orders"), which records
// it and publishes the charge command; payment charges the account (a row
// in its store) and publishes "charged"; then inventory reserves the item
// and shipping ships it. An order whose item is out of stock or
// undeliverable (saga.FailsAt, from the order id) fails at that step, and
// the orchestrator runs the compensations: release the reservation, then
// refund the charge, each a message delivered at least once as well. The
// orchestrator's own transitions are idempotent in both variants (a
// transition applies only from the state it leaves), and it publishes a
// pending step's command again when the saga made no progress for a
// while; so every service sees some commands more than once, and the
// variants differ in how the services take that:
//
//   - naive (the default): every delivery of a command is applied: a
//     redelivered charge charges again.
//   - idempotent: every record carries the key order/step under a unique
//     constraint; a delivery whose key is already recorded changes nothing
//     (and its event is published again); compensations alike.
//
// State lives in a real store (--store): "embedded" (the default), a
// bbolt file in each node's data folder; or "postgres", a PostgreSQL node
// of its own (role "pg", the postgres target's server) in which each
// service keeps its own table.
//
// Roles, in order: "pg" (with --store postgres only, started first), then
// "broker", "orders", "payment", "inventory", "shipping", one node each.
// Every service reaches the broker (and the pg node) only through its
// NodeConfig.Peers addresses, which the network faults act on; clients
// reach the orchestrator and the services over HTTP+JSON on their API
// addresses.
package saga

import (
	"context"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/postgres"
	wl "github.com/faultline/faultline/workloads/saga"
)

// Name is the --target name of this target.
const Name = "saga"

// The variants; VariantNaive is the default.
const (
	// VariantNaive applies every delivery of a command.
	VariantNaive = "naive"
	// VariantIdempotent applies each step of an order at most once.
	VariantIdempotent = "idempotent"
)

// The stores; StoreEmbedded is the default.
const (
	// StoreEmbedded keeps each node's state in a bbolt file in its data
	// folder.
	StoreEmbedded = "embedded"
	// StorePostgres keeps every node's state in a PostgreSQL node.
	StorePostgres = "postgres"
)

// The roles.
const (
	// RoleBroker runs nats-server with JetStream.
	RoleBroker = "broker"
	// RoleOrders runs the orchestrator.
	RoleOrders = wl.Orchestrator
	// RolePG runs PostgreSQL, with --store postgres only.
	RolePG = postgres.RolePG
)

// Role names of the services are the workload's: wl.Payment,
// wl.Inventory, wl.Shipping.

// AckWait is how long the broker waits for a consumer's acknowledgement
// before it delivers the message again.
const AckWait = time.Second

// Target is the saga target. Its zero value is ready to use; it holds no
// state.
type Target struct{}

var (
	_ targets.Target    = Target{}
	_ targets.Imager    = Target{}
	_ targets.Defaulter = Target{}
	_ targets.Storer    = Target{}
)

// Name returns "saga".
func (Target) Name() string { return Name }

// Description is one line for `faultline list`.
func (Target) Description() string {
	return "an order saga (charge, reserve, ship; refund and release) over NATS JetStream with at-least-once delivery, state in bbolt or PostgreSQL"
}

// Variants lists naive (the default) and idempotent.
func (Target) Variants() []targets.Choice {
	return []targets.Choice{
		{Name: VariantNaive, Description: "the services apply every delivery of a command: a command delivered again (ack timeout, restart, resend) charges, reserves or ships again"},
		{Name: VariantIdempotent, Description: "each record carries the key order/step under a unique constraint: a step is applied at most once, compensations too"},
	}
}

// Workloads lists "saga".
func (Target) Workloads() []string { return []string{wl.Name} }

// Stores lists embedded (the default) and postgres.
func (Target) Stores() []targets.Choice {
	return []targets.Choice{
		{Name: StoreEmbedded, Description: "a bbolt file in each node's data folder"},
		{Name: StorePostgres, Description: "a PostgreSQL node of its own (role pg); each service has its own tables"},
	}
}

// Layout lays out the roles: pg first with --store postgres (the postgres
// target's server, which the others need before they serve), then
// broker, orders, payment, inventory and shipping, one node each; it
// ignores --nodes.
func (Target) Layout(spec targets.Spec) (targets.Layout, error) {
	if _, err := checkVariant(spec.Variant); err != nil {
		return targets.Layout{}, err
	}
	store, err := checkStore(spec.Store)
	if err != nil {
		return targets.Layout{}, err
	}
	var roles []targets.Role
	if store == StorePostgres {
		roles = append(roles, postgres.Role(1))
	}
	roles = append(roles,
		targets.Role{Name: RoleBroker, Count: 1, Program: targets.GoProgram{Run: RunBroker}, Ready: BrokerReady, OnePort: true},
		targets.Role{Name: RoleOrders, Count: 1, Program: targets.GoProgram{Run: RunOrders}, Ready: Ready, OnePort: true},
	)
	for _, s := range wl.Services {
		roles = append(roles, targets.Role{Name: s, Count: 1, Program: targets.GoProgram{Run: RunService}, Ready: Ready, OnePort: true})
	}
	return targets.Layout{Roles: roles}, nil
}

// Defaults: ten-second operations (a saga waits for up to five steps,
// each delivered again after a second when it is lost), and the kill
// fault.
func (Target) Defaults(string) targets.Defaults {
	return targets.Defaults{OpTimeout: 10 * time.Second, Nemesis: []string{"kill"}}
}

// Dockerfile returns the postgres target's image recipe: faultline (which
// runs the broker, the orchestrator and the services), PostgreSQL for the
// pg node of --store postgres, iptables and iproute2. One image serves
// both targets.
func (Target) Dockerfile() []byte { return postgres.Target{}.Dockerfile() }

// NewClient returns a client of the saga workload. The caller closes it.
func (Target) NewClient(cfg targets.ClientConfig) (core.Client, error) {
	if cfg.Workload != wl.Name {
		return nil, core.BadInput("saga has no client for workload %q (it has: %s)", cfg.Workload, wl.Name)
	}
	if _, err := checkVariant(cfg.Variant); err != nil {
		return nil, err
	}
	return newClient(cfg)
}

func checkVariant(v string) (string, error) {
	switch v {
	case "":
		return VariantNaive, nil
	case VariantNaive, VariantIdempotent:
		return v, nil
	}
	return "", core.BadInput("saga has no variant %q (it has: %s, %s)", v, VariantNaive, VariantIdempotent)
}

func checkStore(s string) (string, error) {
	switch s {
	case "":
		return StoreEmbedded, nil
	case StoreEmbedded, StorePostgres:
		return s, nil
	}
	return "", core.BadInput("saga has no store %q (it has: %s, %s)", s, StoreEmbedded, StorePostgres)
}

// readyContext bounds one readiness probe.
func readyContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 2*time.Second)
}
