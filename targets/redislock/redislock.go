// Package redislock is the target "redis-lock": locks taken from real
// redis-server nodes (Debian's package) guarding a protected resource of
// our own, serving the lock workload (workloads/lock). It shows what a
// Redis lock guarantees: a lease lock lets two clients into the critical
// section when a holder stalls past its lease; a fencing token checked by
// the resource keeps the resource safe; Redlock does not change this.
//
// The cluster has two roles: "redis" (redis-server, persistence off) and
// "resource" (one node running RunResource, reached over HTTP+JSON; see
// the route constants). The variants:
//
//   - naive: one Redis, SET lock:<key> <random> NX PX <ttl>, released by a
//     compare-and-delete script; no fencing.
//   - fencing: the same lock, and a fencing token from INCR fence:<key>
//     taken atomically with the acquire (one script); the resource
//     refuses every access whose token is below the largest it has seen
//     on that key.
//   - redlock: the Redlock algorithm over --nodes independent Redis nodes
//     (an odd number, at least 3): acquire on a majority within the
//     validity time, release on all; no fencing.
//   - failover: the naive lock on a primary with an asynchronously
//     replicated replica (redis1 and redis2); clients take locks from
//     whichever node says it is primary (ROLE). The failover fault
//     (nemesis.Failover) promotes the replica as Redis Sentinel would, and
//     a lock held on the old primary that had not reached the replica is
//     lost.
package redislock

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

// Name is the --target name of this target.
const Name = "redis-lock"

// The variants of redis-lock; VariantNaive is the default.
const (
	// VariantNaive is a single-Redis lease lock without fencing.
	VariantNaive = "naive"
	// VariantFencing is the single-Redis lease lock with fencing tokens
	// that the resource checks.
	VariantFencing = "fencing"
	// VariantRedlock is the Redlock algorithm over several Redis nodes.
	VariantRedlock = "redlock"
	// VariantFailover is the single-Redis lease lock on a primary with an
	// asynchronous replica that the failover fault promotes.
	VariantFailover = "failover"
)

// WorkloadLock is the only workload redis-lock has a client for.
const WorkloadLock = "lock"

// The roles of the cluster.
const (
	// RoleRedis is the role of the redis-server nodes.
	RoleRedis = "redis"
	// RoleResource is the role of the protected resource (one node).
	RoleResource = "resource"
)

// DefaultTTL is the lease of a lock when Target.TTL is zero.
const DefaultTTL = 500 * time.Millisecond

// DriftFactor is Redlock's clock drift factor: a lock taken with lease ttl
// is valid for ttl - elapsed - (ttl*DriftFactor + 2ms).
const DriftFactor = 0.01

// Target is the redis-lock target. Its zero value is ready to use (TTL
// DefaultTTL); it holds no state, so one value serves any number of nodes
// and clients.
type Target struct {
	// TTL is the lease of every lock (the PX of the SET); zero means
	// DefaultTTL.
	TTL time.Duration
	// RedlockTimeout bounds each request to one node in the redlock
	// variant, acquire and release alike (Redlock's timeout, small next to
	// the lease); zero means a tenth of the lease.
	RedlockTimeout time.Duration
}

var (
	_ targets.Target    = Target{}
	_ targets.Imager    = Target{}
	_ targets.Defaulter = Target{}
	_ targets.Staller   = Target{}
)

// New returns the redis-lock target with the default lease.
func New() Target { return Target{} }

// Name returns "redis-lock".
func (Target) Name() string { return Name }

// Description is one line for `faultline list`.
func (Target) Description() string {
	return "locks from real redis-server guarding a resource of our own (no fencing, fencing tokens, Redlock, a failover to a replica)"
}

// Variants lists naive (the default), fencing and redlock.
func (Target) Variants() []targets.Choice {
	return []targets.Choice{
		{Name: VariantNaive, Description: "one Redis, SET NX PX lease, no fencing: a holder stalled past its lease overlaps the next one and loses updates"},
		{Name: VariantFencing, Description: "the same lease plus a fencing token from Redis that the resource checks: holders may overlap, the resource stays safe"},
		{Name: VariantRedlock, Description: "Redlock over --nodes Redis nodes (odd, at least 3): a majority within the validity time; a stalled holder still overlaps"},
		{Name: VariantFailover, Description: "the naive lease on a primary with an asynchronous replica; --nemesis failover promotes the replica and a lock held on the old primary is lost"},
	}
}

// Workloads lists "lock".
func (Target) Workloads() []string { return []string{WorkloadLock} }

// ttl returns the lease.
func (t Target) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return DefaultTTL
}

// redlockTimeout returns the bound of one Redlock request to one node.
func (t Target) redlockTimeout() time.Duration {
	if t.RedlockTimeout > 0 {
		return t.RedlockTimeout
	}
	return t.ttl() / 10
}

// Layout lays out the redis role and one resource node: one redis for
// naive and fencing, spec.Nodes for redlock (an odd number, at least 3;
// anything else is bad input), a primary and its replica for failover
// (with the failover fault's switch-over).
func (Target) Layout(spec targets.Spec) (targets.Layout, error) {
	variant, err := checkVariant(spec.Variant)
	if err != nil {
		return targets.Layout{}, err
	}
	redises := 1
	switch variant {
	case VariantRedlock:
		if spec.Nodes < 3 || spec.Nodes%2 == 0 {
			return targets.Layout{}, core.BadInput("redis-lock redlock needs an odd number of redis nodes, at least 3 (--nodes), got %d", spec.Nodes)
		}
		redises = spec.Nodes
	case VariantFailover:
		redises = 2
	}
	l := targets.Layout{Roles: []targets.Role{
		{Name: RoleRedis, Count: redises, Program: redisServer(variant == VariantFencing, variant == VariantFailover), Ready: RedisReady, OnePort: true},
		{Name: RoleResource, Count: 1, Program: targets.GoProgram{Run: RunResource}, Ready: ResourceReady, OnePort: true},
	}}
	if variant == VariantFailover {
		l.Failover = failover
	}
	return l, nil
}

// redisServer is a redis-server node listening on its API address only, as
// faultline's own user (redis does not refuse root, so any results folder
// will do). Persistence is off,
// except where the fencing tokens live (durable): their counter must
// survive a kill of Redis, or tokens would start again from 1 and the
// resource would refuse every holder after a restart. With replicated,
// every node but the first starts as a replica of the first, and a
// replica that must sync again does so at once, without a disk copy.
func redisServer(durable, replicated bool) targets.Server {
	persist := []string{"--appendonly", "no"}
	if durable {
		persist = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	return targets.Server{
		Binary: "redis-server", Package: "redis-server",
		Args: func(cfg targets.NodeConfig) []string {
			host, _, _ := net.SplitHostPort(cfg.APIAddr)
			args := append([]string{"--port", fmt.Sprint(cfg.APIPort()), "--bind", host, "--dir", cfg.DataDir,
				"--save", "", "--protected-mode", "no"}, persist...)
			if replicated {
				args = append(args, "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
				args = append(args, replicaArgs(cfg)...)
			}
			return args
		},
	}
}

// FailoverHold is the --hold default of the failover variant: holders
// work long enough on what they read for a switch-over to happen under
// them, as it does in a system whose critical sections outlast a failover.
const FailoverHold = 100 * time.Millisecond

// Defaults: five redis nodes for redlock (the others take what their
// layout says whatever --nodes says), operations long enough for a stalled
// holder, and the fault that shows what the variant's lock guarantees:
// client-pause, or failover (with holders working FailoverHold) for the
// failover variant.
func (Target) Defaults(variant string) targets.Defaults {
	d := targets.Defaults{Nodes: 5, OpTimeout: 5 * time.Second, Nemesis: []string{"client-pause"}}
	if variant == VariantFailover {
		d.Nemesis, d.Hold = []string{"failover"}, FailoverHold
	}
	return d
}

// StallPoint says where the lock workload's clients stall under
// client-pause.
func (Target) StallPoint(workload string) string {
	if workload != WorkloadLock {
		return ""
	}
	return "between reading the resource and writing it back"
}

//go:embed Dockerfile
var dockerfile []byte

// Dockerfile returns redis-lock's image recipe (its Dockerfile, embedded):
// redis-server, iptables and iproute2 on Debian, with faultline.
func (Target) Dockerfile() []byte { return dockerfile }

// RedisReady returns nil when the redis-server at addr answers PING with
// PONG. It makes one attempt, bounded by ctx and by two seconds.
func RedisReady(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("redis %s: no answer to PING: %w", addr, err)
	}
	if got := strings.TrimSpace(line); got != "+PONG" {
		return fmt.Errorf("redis %s: PING answered %q", addr, got)
	}
	return nil
}

func checkVariant(v string) (string, error) {
	switch v {
	case "":
		return VariantNaive, nil
	case VariantNaive, VariantFencing, VariantRedlock, VariantFailover:
		return v, nil
	}
	return "", core.BadInput("redis-lock has no variant %q (it has: naive, fencing, redlock, failover)", v)
}
