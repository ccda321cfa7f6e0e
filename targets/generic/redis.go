package generic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

// Redis describes a client of the Redis protocol for the register
// workload: read is GET, write is SET, cas is a Lua script that sets the
// new value where the key holds the old one, atomically. Values are
// decimal integers. It serves no other workload: the idempotency
// workload needs a ledger read back, which the Redis protocol has no one
// way of keeping.
type Redis struct {
	// URL is a template of the server's address as a Redis URL, such as
	// "redis://{host}:6379/0" (a password as redis://:secret@{host}:6379,
	// TLS as rediss://). The client speaks RESP2 unless it says
	// protocol=3.
	URL string `yaml:"url"`
	// Key is a template of the Redis key of register {key}; empty means
	// "{key}".
	Key string `yaml:"key"`
	// Read, Write and CAS say which node each goes to; nil means any.
	Read  *Route `yaml:"read"`
	Write *Route `yaml:"write"`
	CAS   *Route `yaml:"cas"`
}

// Route says where an operation kind goes.
type Route struct {
	// Node is a service, or "any" (the default).
	Node string `yaml:"node"`
}

// casScript sets KEYS[1] to ARGV[2] where it holds ARGV[1], and returns 1
// when it did, 0 otherwise.
var casScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`)

// redisPlan is a Redis client section, checked and parsed.
type redisPlan struct {
	url   Template
	key   Template
	nodes map[string]string
}

// planRedis checks r.
func planRedis(r Redis, checkNode func(field, node string) error) (*redisPlan, error) {
	p := &redisPlan{nodes: map[string]string{}}
	if r.URL == "" {
		return nil, fieldErr("redis", "url is required, such as redis://{host}:6379/0")
	}
	var err error
	if p.url, err = ParseTemplate(r.URL, Placeholders(""), false); err != nil {
		return nil, fieldErr("redis.url", "%v", err)
	}
	if _, err := redis.ParseURL(p.url.Expand(sample(""))); err != nil {
		return nil, fieldErr("redis.url", "not a Redis URL once filled in: %v", err)
	}
	key := r.Key
	if key == "" {
		key = "{" + PKey + "}"
	}
	if p.key, err = ParseTemplate(key, []string{PKey}, false); err != nil {
		return nil, fieldErr("redis.key", "%v", err)
	}
	if !p.key.Uses(PKey) {
		return nil, fieldErr("redis.key", "%q does not name {key}: every register would be the same Redis key", key)
	}
	for _, s := range []struct {
		name  string
		route *Route
	}{{OpRead, r.Read}, {OpWrite, r.Write}, {OpCAS, r.CAS}} {
		if s.route == nil {
			continue
		}
		if err := checkNode("redis."+s.name+".node", s.route.Node); err != nil {
			return nil, err
		}
		p.nodes[s.name] = s.route.Node
	}
	return p, nil
}

// redisClient is one process's Redis client: for each operation kind the
// node it goes to, and one connection per node, made when needed.
type redisClient struct {
	plan  *redisPlan
	ns    string
	eps   map[string]targets.Endpoint
	conns map[string]*redis.Client
}

func (p *redisPlan) newClient(cfg targets.ClientConfig) (core.Client, error) {
	c := &redisClient{plan: p, ns: Namespace(cfg.Run), eps: map[string]targets.Endpoint{}, conns: map[string]*redis.Client{}}
	for _, op := range []string{OpRead, OpWrite, OpCAS} {
		ep, err := pick(cfg, p.nodes[op])
		if err != nil {
			return nil, fmt.Errorf("redis.%s: %w", op, err)
		}
		c.eps[op] = ep
	}
	return c, nil
}

// Close closes the client's connections.
func (c *redisClient) Close() error {
	for name, rc := range c.conns {
		rc.Close()
		delete(c.conns, name)
	}
	return nil
}

// dialError marks an error of the dial: nothing was sent.
type dialError struct{ err error }

// Error returns the dial's error.
func (e dialError) Error() string { return e.err.Error() }

// Unwrap returns the dial's error.
func (e dialError) Unwrap() error { return e.err }

// conn returns the connection to ep, made when needed: one connection,
// no retries (a command is sent once), deadlines from the context.
func (c *redisClient) conn(ep targets.Endpoint) (*redis.Client, error) {
	if rc, ok := c.conns[ep.Name]; ok {
		return rc, nil
	}
	opt, err := redis.ParseURL(c.plan.url.Expand(map[string]string{PNode: ep.Name, PHost: hostOf(ep.Addr)}))
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, dialError{err}
		}
		return conn, nil
	}
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.PoolSize = 1
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	if opt.Protocol == 0 {
		opt.Protocol = 2
	}
	rc := redis.NewClient(opt)
	c.conns[ep.Name] = rc
	return rc, nil
}

// Invoke performs a register operation: GET for read (nil when the key
// is absent, the integer it holds otherwise), SET for write, the cas
// script for cas. A write or cas completes ok when the server
// acknowledged it (the script returned 1), fail when the script returned
// 0, when the server answered with an error (it did not run the command:
// READONLY on a replica, say) or when no connection could be made, and
// info otherwise (a timeout, a connection lost after sending). A read
// that goes wrong in any way fails: it changed nothing.
func (c *redisClient) Invoke(ctx context.Context, op core.Op) core.Op {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if op.F != OpRead && op.F != OpWrite && op.F != OpCAS {
		return done(op, core.Fail, fmt.Sprintf("unknown operation %q (want read, write or cas)", op.F))
	}
	a, err := argsOf(c.ns, op)
	if err != nil {
		return done(op, core.Fail, err.Error())
	}
	ep := c.eps[op.F]
	op.Node = ep.Name
	rc, err := c.conn(ep)
	if err != nil {
		return done(op, core.Fail, err.Error())
	}
	key := c.plan.key.Expand(map[string]string{PKey: a.Key})
	switch op.F {
	case OpRead:
		if op.Value != nil {
			return done(op, core.Fail, fmt.Sprintf("read value %v (%T): want nil", op.Value, op.Value))
		}
		s, err := rc.Get(ctx, key).Result()
		switch {
		case errors.Is(err, redis.Nil):
			op.Value = nil
			return done(op, core.OK, "")
		case err != nil:
			c.drop(ep, err)
			return done(op, core.Fail, describeRedis(err))
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return done(op, core.Fail, fmt.Sprintf("value %q is not an integer", clip(s, 40)))
		}
		op.Value = n
		return done(op, core.OK, "")
	case OpWrite:
		err := rc.Set(ctx, key, strconv.FormatInt(a.Value, 10), 0).Err()
		if err != nil {
			c.drop(ep, err)
			return done(op, redisOutcome(err), describeRedis(err))
		}
		return done(op, core.OK, "")
	}
	n, err := casScript.Run(ctx, rc, []string{key}, strconv.FormatInt(a.Old, 10), strconv.FormatInt(a.New, 10)).Int64()
	switch {
	case err != nil:
		c.drop(ep, err)
		return done(op, redisOutcome(err), describeRedis(err))
	case n == 1:
		return done(op, core.OK, "")
	case n == 0:
		return done(op, core.Fail, "cas: the key does not hold the old value")
	}
	return done(op, core.Info, fmt.Sprintf("cas script returned %d", n))
}

// drop closes the connection to ep after an error that was not the
// server's answer: the next operation connects afresh.
func (c *redisClient) drop(ep targets.Endpoint, err error) {
	var re redis.Error
	if errors.As(err, &re) {
		return
	}
	if rc, ok := c.conns[ep.Name]; ok {
		rc.Close()
		delete(c.conns, ep.Name)
	}
}

// redisOutcome classifies the error of a write or cas: the server's error
// answer (it did not run the command) or a failed dial is fail, anything
// else info.
func redisOutcome(err error) core.Type {
	var re redis.Error
	var de dialError
	switch {
	case errors.As(err, &re), errors.As(err, &de):
		return core.Fail
	case errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed):
		return core.Fail
	}
	return core.Info
}

// describeRedis says in a few words what went wrong.
func describeRedis(err error) string {
	var de dialError
	switch {
	case errors.As(err, &de):
		return "not sent: " + describeNet(de.err)
	case isTimeout(err):
		return "timeout"
	}
	return clip(err.Error(), 200)
}
