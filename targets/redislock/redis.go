package redislock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/lock"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The scripts. acquireFenced takes the lock and, when it got it, the next
// fencing token of the key, in one atomic step; release deletes the lock
// only while it holds the caller's value (compare-and-delete).
const (
	acquireFencedScript = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end return 0`
	releaseScript       = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`
)

// Fallback bounds of one connection attempt, read and write; the deadline
// of the operation's context bounds them further.
const (
	redisDialTimeout = 2 * time.Second
	redisIOTimeout   = 2 * time.Second
)

// silenceRedisLog turns off go-redis's package-wide logger once: it would
// write connection-pool complaints to stderr during every fault.
var silenceRedisLog = sync.OnceFunc(logging.Disable)

// redisNode is one Redis endpoint as a client uses it: a go-redis client
// (no retries, no client-side features) whose connections count the bytes
// they write, so that a failed command is known either never to have been
// sent (nothing of it written: a definite failure) or to have been sent
// (unknown). The client's commands to one node run one at a time.
type redisNode struct {
	name    string
	rc      *redis.Client
	written atomic.Int64 // bytes written on all of rc's connections
}

var _ redis.Hook = (*redisNode)(nil)

func newRedisNode(e targets.Endpoint) *redisNode {
	silenceRedisLog()
	n := &redisNode{name: e.Name}
	n.rc = redis.NewClient(&redis.Options{
		Addr:                     e.Addr,
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		MaxRetries:               -1,
		DialerRetries:            1,
		DialTimeout:              redisDialTimeout,
		ReadTimeout:              redisIOTimeout,
		WriteTimeout:             redisIOTimeout,
		ContextTimeoutEnabled:    true,
		PoolSize:                 2,
		Dialer:                   n.dial,
	})
	n.rc.AddHook(n)
	return n
}

// close closes the node's connections; closing twice is no error.
func (n *redisNode) close() error {
	if err := n.rc.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return err
	}
	return nil
}

// dial connects to addr and counts what is written on the connection.
func (n *redisNode) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: redisDialTimeout}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &n.written}, nil
}

// countingConn adds the bytes written on it to n.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	k, err := c.Conn.Write(b)
	c.n.Add(int64(k))
	return k, err
}

// call is one command of ours in flight, carried in its context: the hooks
// count the bytes that commands nested inside it wrote (the handshake of a
// fresh connection: HELLO, and whatever go-redis sends before the command).
type call struct {
	depth     int
	handshake int64
}

type callKey struct{}

// DialHook passes dials through.
func (n *redisNode) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts the bytes written by commands nested in one of ours.
func (n *redisNode) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return n.nest(ctx, func() error { return next(ctx, cmd) })
	}
}

// ProcessPipelineHook counts the bytes written by pipelines nested in one
// of our commands.
func (n *redisNode) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return n.nest(ctx, func() error { return next(ctx, cmds) })
	}
}

func (n *redisNode) nest(ctx context.Context, f func() error) error {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		return f()
	}
	c.depth++
	defer func() { c.depth-- }()
	if c.depth == 1 {
		return f() // our own command
	}
	before := n.written.Load()
	err := f()
	c.handshake += n.written.Load() - before
	return err
}

// result is the answer of one command to one node.
type result struct {
	// outcome: Done when Redis answered (val holds the reply), Refused
	// when nothing of the command was sent or Redis answered an error,
	// Unknown when it was sent and no answer came.
	outcome lock.Outcome
	val     any
	err     error
}

// do runs one command on n, built by f with the context it must use, and
// classifies its failure. A nil reply is Done with val nil.
func (n *redisNode) do(ctx context.Context, f func(ctx context.Context) *redis.Cmd) result {
	c := &call{}
	ctx = context.WithValue(ctx, callKey{}, c)
	before, start := n.written.Load(), time.Now()
	v, err := f(ctx).Result()
	took := time.Since(start)
	total := n.written.Load() - before
	var rerr redis.Error
	switch {
	case err == nil:
		return result{outcome: lock.Done, val: v}
	case errors.Is(err, redis.Nil):
		return result{outcome: lock.Done}
	case errors.As(err, &rerr):
		return result{outcome: lock.Refused, err: fmt.Errorf("redis %s: %s", n.name, rerr.Error())}
	case total == 0:
		return result{outcome: lock.Refused, err: fmt.Errorf("redis %s: not sent: %s", n.name, describe(err, took, "connecting"))}
	case total-c.handshake <= 0:
		return result{outcome: lock.Refused, err: fmt.Errorf("redis %s: not sent: %s", n.name, describe(err, took, "connection handshake"))}
	}
	return result{outcome: lock.Unknown, err: fmt.Errorf("redis %s: %s", n.name, describe(err, took, ""))}
}

// describe says in a few words why a round trip that took took failed,
// during phase (empty: the command itself).
func describe(err error, took time.Duration, phase string) string {
	var op *net.OpError
	var ne net.Error
	var what string
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return "cannot connect: " + op.Err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		what = "no answer in " + took.Round(time.Millisecond).String()
	case errors.Is(err, context.Canceled):
		what = "cancelled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		what = "connection closed"
	default:
		what = err.Error()
	}
	if phase != "" {
		what += " (" + phase + ")"
	}
	return what
}

// setNX takes key with value for ttl: SET NX PX. Done with acquired true
// when it got the lock, Done with false when another holds it.
func (n *redisNode) setNX(ctx context.Context, key, value string, ttl time.Duration) (acquired bool, r result) {
	r = n.do(ctx, func(ctx context.Context) *redis.Cmd {
		cmd := redis.NewCmd(ctx, "set", key, value, "nx", "px", ttl.Milliseconds())
		n.rc.Process(ctx, cmd)
		return cmd
	})
	return r.outcome == lock.Done && r.val == "OK", r
}

// acquireFenced takes key with value for ttl and the next token of fence:
// Done with the token (0: another holds the lock).
func (n *redisNode) acquireFenced(ctx context.Context, key, fence, value string, ttl time.Duration) (token int64, r result) {
	r = n.do(ctx, func(ctx context.Context) *redis.Cmd {
		return n.rc.Eval(ctx, acquireFencedScript, []string{key, fence}, value, ttl.Milliseconds())
	})
	if r.outcome != lock.Done {
		return 0, r
	}
	t, ok := r.val.(int64)
	if !ok {
		return 0, result{outcome: lock.Unknown, err: fmt.Errorf("redis %s: acquire script answered %v", n.name, r.val)}
	}
	return t, r
}

// release deletes key when it holds value: Done with deleted true when it
// did, Done with false when the lock was no longer ours.
func (n *redisNode) release(ctx context.Context, key, value string) (deleted bool, r result) {
	r = n.do(ctx, func(ctx context.Context) *redis.Cmd {
		return n.rc.Eval(ctx, releaseScript, []string{key}, value)
	})
	if r.outcome != lock.Done {
		return false, r
	}
	return r.val == int64(1), r
}

// role asks the node what it is in replication (ROLE): "master", "slave"
// or "sentinel".
func (n *redisNode) role(ctx context.Context) (string, error) {
	return redisRole(ctx, n.rc, n.name)
}

// redisRole asks rc's node, called name, its replication role.
func redisRole(ctx context.Context, rc *redis.Client, name string) (string, error) {
	v, err := rc.Do(ctx, "role").Slice()
	if err != nil {
		return "", fmt.Errorf("redis %s: ROLE: %w", name, err)
	}
	if len(v) == 0 {
		return "", fmt.Errorf("redis %s: ROLE answered nothing", name)
	}
	s, ok := v[0].(string)
	if !ok {
		return "", fmt.Errorf("redis %s: ROLE answered %v", name, v)
	}
	return s, nil
}
