// Package generic builds a target from a description of how to talk to a
// system that runs already (a user's Docker Compose stack): HTTP+JSON
// requests, the Redis protocol, or SQL over PostgreSQL's protocol. The
// test file's client section (package testfile) is such a description; a
// Go program can fill a Config itself.
//
// A generic target starts nothing: its layout has one role per Compose
// service and no program, and the compose provider finds the nodes in the
// running stack. Its clients serve the register workload (read, write,
// compare-and-set) and, over HTTP and SQL, the idempotency workload
// (charges with request ids, the ledger read back), classifying every
// outcome as the checkers need: ok when the system acknowledged it, fail
// only when it certainly did not take effect, info otherwise.
//
// # Which node an operation goes to
//
// Each operation kind says where it goes with node: the name of a Compose
// service (writes to "primary", say), or "any" (the default): every node,
// spread over the client processes by process id. A client process keeps
// its node for every operation of that kind, so with node "any" process p
// talks to node p mod n, and with node "replica" to replica p mod r of
// the service's containers.
//
// # Runs do not see each other's data
//
// A Compose stack outlives a run, so the keys, accounts and request ids a
// run sends are prefixed with its namespace (targets.ClientConfig.Run,
// made of letters and digits): the register k0 of run 20260101T000000123Z
// is the key 20260101T000000123Z-k0. The history records k0; ledger rows
// are read back with the prefix taken off their request ids.
package generic

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/idempotency"
	"github.com/faultline/faultline/workloads/register"
)

// The operation kinds a client section describes: the register
// workload's read, write and cas, and the idempotency workload's charge
// and ledger read.
const (
	OpRead   = register.Read
	OpWrite  = register.Write
	OpCAS    = register.CAS
	OpCharge = idempotency.Charge
	OpLedger = idempotency.Ledger
)

// The client kinds, each also the name of the target's one variant.
const (
	KindHTTP  = "http"
	KindRedis = "redis"
	KindSQL   = "sql"
)

// The workloads a generic target may serve.
const (
	WorkloadRegister    = "register"
	WorkloadIdempotency = "idempotency"
)

// Any is the node setting that spreads an operation kind over every node
// by process id; it is the default.
const Any = "any"

// DefaultName is the target's name when the Config names none.
const DefaultName = "compose"

// Config describes a generic target: its name, the Compose services that
// are its nodes, and exactly one client kind. The yaml tags are the test
// file's field names (under client:), which errors name too.
type Config struct {
	// Name is the target's name (the test file's name:); empty means
	// DefaultName.
	Name string `yaml:"-"`
	// Services are the Compose services whose containers are the nodes
	// (the test file's compose.services); each is a role. A node setting
	// must name one of them or be "any".
	Services []string `yaml:"-"`
	// HTTP, Redis and SQL: exactly one is set.
	HTTP  *HTTP  `yaml:"http"`
	Redis *Redis `yaml:"redis"`
	SQL   *SQL   `yaml:"sql"`
}

// FieldError is a problem with one field of a Config, named by its path
// in the test file below client: ("http.cas.status.fail[0]"). It wraps
// core.ErrBadInput.
type FieldError struct {
	Field string
	Msg   string
}

// Error returns "FIELD: MSG".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Is makes the error match core.ErrBadInput.
func (e *FieldError) Is(target error) bool { return target == core.ErrBadInput }

// fieldErr returns a *FieldError for field.
func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Target is a generic target, made by New. It is safe for concurrent use;
// its clients are not (one per process, as the controller uses them).
type Target struct {
	name      string
	kind      string
	services  []string
	workloads []string
	http      *httpPlan
	redis     *redisPlan
	sql       *sqlPlan
}

var _ targets.Target = (*Target)(nil)

// serviceName is Compose's rule for a service name.
var serviceName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// New checks cfg and returns its target. Every problem is a *FieldError
// naming the field: no client kind or more than one, a missing or empty
// field an operation needs, a template with an unknown placeholder or
// unbalanced braces, a status code out of range or in two lists, a node
// that names no service, an operation kind set without the others its
// workload needs.
func New(cfg Config) (*Target, error) {
	t := &Target{name: cfg.Name, services: slices.Clone(cfg.Services)}
	if t.name == "" {
		t.name = DefaultName
	}
	if len(t.services) == 0 {
		return nil, core.BadInput("a generic target needs the Compose services that are its nodes")
	}
	for _, s := range t.services {
		if !serviceName.MatchString(s) || s == targets.Clients {
			return nil, core.BadInput("service %q: a Compose service name (letters, digits, '_', '.', '-'), not %q", s, targets.Clients)
		}
	}
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{KindHTTP, cfg.HTTP != nil}, {KindRedis, cfg.Redis != nil}, {KindSQL, cfg.SQL != nil}} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	if len(kinds) != 1 {
		got := "none"
		if len(kinds) > 1 {
			got = strings.Join(kinds, " and ")
		}
		return nil, fieldErr("client", "give exactly one of http, redis or sql; got %s", got)
	}
	t.kind = kinds[0]
	var err error
	switch t.kind {
	case KindHTTP:
		t.http, err = planHTTP(*cfg.HTTP, t.checkNode)
		if t.http != nil {
			t.workloads = t.http.workloads
		}
	case KindRedis:
		t.redis, err = planRedis(*cfg.Redis, t.checkNode)
		t.workloads = []string{WorkloadRegister}
	case KindSQL:
		t.sql, err = planSQL(*cfg.SQL, t.checkNode)
		if t.sql != nil {
			t.workloads = t.sql.workloads
		}
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// checkNode checks the node setting at field: empty, "any" or a service.
func (t *Target) checkNode(field, node string) error {
	if node == "" || node == Any || slices.Contains(t.services, node) {
		return nil
	}
	return fieldErr(field, "%q is not a service of compose.services (%s) nor %q", node, strings.Join(t.services, ", "), Any)
}

// opsFor reports which workloads a client kind's sections serve: the
// register workload needs read, write and cas; the idempotency workload
// charge and ledger. An operation set without the others of its workload
// is an error at kind, as is a kind with none.
func opsFor(kind string, set map[string]bool) ([]string, error) {
	var out []string
	for _, w := range []struct {
		name string
		ops  []string
	}{{WorkloadRegister, []string{OpRead, OpWrite, OpCAS}}, {WorkloadIdempotency, []string{OpCharge, OpLedger}}} {
		var have, missing []string
		for _, op := range w.ops {
			if set[op] {
				have = append(have, op)
			} else {
				missing = append(missing, op)
			}
		}
		switch {
		case len(missing) == 0:
			out = append(out, w.name)
		case len(have) > 0:
			return nil, fieldErr(kind, "the %s workload needs %s; %s missing", w.name, strings.Join(w.ops, ", "), strings.Join(missing, " and "))
		}
	}
	if len(out) == 0 {
		return nil, fieldErr(kind, "no operations: give read, write and cas (the register workload) or charge and ledger (the idempotency workload)")
	}
	return out, nil
}

// Name returns the Config's name, or DefaultName.
func (t *Target) Name() string { return t.name }

// Kind returns the client kind: KindHTTP, KindRedis or KindSQL.
func (t *Target) Kind() string { return t.kind }

// Description says what the target is, in one line.
func (t *Target) Description() string {
	how := map[string]string{KindHTTP: "HTTP+JSON", KindRedis: "the Redis protocol", KindSQL: "SQL over PostgreSQL's protocol"}[t.kind]
	return "a running Compose stack (" + strings.Join(t.services, ", ") + ") driven over " + how + " as its test file describes"
}

// Variants returns the one variant, named after the client kind.
func (t *Target) Variants() []targets.Choice {
	return []targets.Choice{{Name: t.kind, Description: t.Description()}}
}

// Workloads lists the workloads the client section serves: register when
// it describes read, write and cas (always, for Redis), idempotency when
// it describes charge and ledger.
func (t *Target) Workloads() []string { return slices.Clone(t.workloads) }

// Layout returns one role per service, one node each, with no program:
// the compose provider takes the nodes from the running stack (a service
// with several containers has several nodes) and starts nothing. Other
// providers refuse a role without a program.
func (t *Target) Layout(targets.Spec) (targets.Layout, error) {
	var l targets.Layout
	for _, s := range t.services {
		l.Roles = append(l.Roles, targets.Role{Name: s, Count: 1})
	}
	return l, nil
}

// NewClient returns a client of cfg.Workload for process cfg.Process,
// whose operations go to the nodes their kind's node setting picks among
// cfg.Nodes. A workload the client section does not serve, or a node
// setting that picks no node, is an error wrapping core.ErrBadInput.
func (t *Target) NewClient(cfg targets.ClientConfig) (core.Client, error) {
	if !slices.Contains(t.workloads, cfg.Workload) {
		return nil, core.BadInput("the %s client of %s serves %s, not workload %q", t.kind, t.name, strings.Join(t.workloads, " and "), cfg.Workload)
	}
	switch t.kind {
	case KindHTTP:
		return t.http.newClient(cfg)
	case KindRedis:
		return t.redis.newClient(cfg)
	}
	return t.sql.newClient(cfg)
}

// pick returns the endpoint node (a service, or "any" or "" for every
// node) gives process cfg.Process: the process id modulo their number.
func pick(cfg targets.ClientConfig, node string) (targets.Endpoint, error) {
	eps := cfg.Nodes
	if node != "" && node != Any {
		eps = cfg.ByRole(node)
	}
	if len(eps) == 0 {
		if node == "" || node == Any {
			return targets.Endpoint{}, core.BadInput("the run has no nodes")
		}
		return targets.Endpoint{}, core.BadInput("no node of service %s among the run's nodes", node)
	}
	p := cfg.Process
	if p < 0 {
		p = -p
	}
	return eps[p%len(eps)], nil
}

// hostOf returns the host of an endpoint's address (the address itself
// when it has no port), in brackets when it is an IPv6 address.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	if strings.Contains(addr, ":") {
		return "[" + addr + "]"
	}
	return addr
}

// Namespace returns the prefix a run's keys and request ids get: run with
// everything but letters and digits taken out, or "" for none.
func Namespace(run string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, run)
}

// scoped returns id in namespace ns.
func scoped(ns, id string) string {
	if ns == "" {
		return id
	}
	return ns + "-" + id
}

// unscoped returns id without namespace ns's prefix; an id from outside
// the namespace comes back as it is.
func unscoped(ns, id string) string {
	if ns == "" {
		return id
	}
	return strings.TrimPrefix(id, ns+"-")
}

// sample are the values a template is tried with when it is checked.
func sample(op string) map[string]string {
	return map[string]string{PKey: "k0", PValue: "1", POld: "1", PNew: "2", PRequestID: "r1", PAmount: "1",
		PNode: "node", PHost: "192.0.2.1"}
}

// errNoValue is wrapped by the error of a read whose answer holds no value
// where the client looks.
var errNoValue = errors.New("no value")
