package redislock

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/lock"
)

// defaultOpTimeout bounds an operation whose context has no deadline.
const defaultOpTimeout = 10 * time.Second

// releaseReserve is the part of the operation's time that the hold leaves
// for the release: a hold ends that long before the deadline at the
// latest.
const releaseReserve = 100 * time.Millisecond

// maxReply bounds a reply body from the resource.
const maxReply = 64 << 20

// Client is a lock-workload client of redis-lock for one process: go-redis
// clients to every redis node and an HTTP client to the resource. Its
// operations run one at a time; Close releases its connections.
type Client struct {
	variant  string
	ttl      time.Duration
	nodeTO   time.Duration // redlock: the bound of one request to one node
	holder   string
	redis    []*redisNode
	resource *resourceClient
	stalled  func(ctx context.Context) time.Duration
	// failover: the node believed primary, and when it was found.
	cur   *redisNode
	found time.Time
}

var _ core.Client = (*Client)(nil)

// NewClient returns a lock client for process cfg.Process (holder
// "p<process>"), reaching the redis nodes and the resource at their
// endpoints in cfg. The caller closes it.
func (t Target) NewClient(cfg targets.ClientConfig) (core.Client, error) {
	if cfg.Workload != WorkloadLock {
		return nil, core.BadInput("redis-lock has no client for workload %q (it has: lock)", cfg.Workload)
	}
	variant, err := checkVariant(cfg.Variant)
	if err != nil {
		return nil, err
	}
	rs, res := cfg.ByRole(RoleRedis), cfg.ByRole(RoleResource)
	switch {
	case len(rs) == 0:
		return nil, errors.New("redis-lock client: no redis node")
	case variant == VariantFailover && len(rs) < 2:
		return nil, fmt.Errorf("redis-lock client: failover takes a primary and replicas, got %d redis nodes", len(rs))
	case variant != VariantRedlock && variant != VariantFailover && len(rs) != 1:
		return nil, fmt.Errorf("redis-lock client: %s takes one redis node, got %d", variant, len(rs))
	case len(res) != 1:
		return nil, fmt.Errorf("redis-lock client: want one resource node, got %d", len(res))
	}
	c := &Client{
		variant:  variant,
		ttl:      t.ttl(),
		nodeTO:   t.redlockTimeout(),
		holder:   "p" + strconv.Itoa(cfg.Process),
		resource: newResourceClient(res[0]),
		stalled:  cfg.Stalled,
	}
	for _, e := range rs {
		c.redis = append(c.redis, newRedisNode(e))
	}
	return c, nil
}

// Close releases the client's connections. It is idempotent.
func (c *Client) Close() error {
	var errs []error
	for _, n := range c.redis {
		if err := n.close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.resource.tr.CloseIdleConnections()
	return errors.Join(errs...)
}

// Invoke performs op: a cycle (f "cycle", key the lock, value a
// lock.CycleRequest) completed with a lock.CycleValue, or the final read
// of a resource key (f "resource") completed with its lock.ResourceState.
// A cycle is ok when it acquired the lock and every later step had a
// definite outcome, fail when it certainly did not acquire the lock, info
// otherwise; it stops at the first step with an unknown outcome.
func (c *Client) Invoke(ctx context.Context, op core.Op) core.Op {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultOpTimeout)
		defer cancel()
	}
	switch op.F {
	case lock.Cycle:
		return c.cycle(ctx, op)
	case lock.Resource:
		return c.readState(ctx, op)
	}
	return done(op, core.Fail, fmt.Sprintf("unknown operation %q", op.F))
}

// cycle acquires the lock op.Key, reads the resource key, stalls when the
// client-pause fault says so, holds (works on what it read), writes it
// back plus one, and releases.
func (c *Client) cycle(ctx context.Context, op core.Op) core.Op {
	start := time.Now()
	since := func() int64 { return int64(time.Since(start)) }
	hold, err := holdOf(op.Value)
	if err != nil {
		return done(op, core.Fail, err.Error())
	}
	if op.Key == "" {
		return done(op, core.Fail, "no lock key")
	}
	v := lock.CycleValue{Holder: c.holder}
	var errs []error
	finish := func(t core.Type) core.Op {
		op.Value = v
		msg := ""
		if err := errors.Join(errs...); err != nil {
			msg = err.Error()
		}
		return done(op, t, msg)
	}
	note := func(o lock.Outcome, err error) lock.Outcome {
		if err != nil {
			errs = append(errs, err)
		}
		return o
	}
	var node *redisNode
	if c.variant != VariantRedlock {
		var err error
		if node, err = c.primary(ctx); err != nil {
			v.Acquire = note(lock.Refused, err)
			return finish(core.Fail)
		}
		op.Node = node.name
	}
	lockKey, value := "lock:"+op.Key, c.holder+":"+randomHex()

	// Acquire.
	switch c.variant {
	case VariantNaive, VariantFailover:
		got, r := node.setNX(ctx, lockKey, value, c.ttl)
		c.lost(r)
		v.Acquire = note(heldElse(got, r, node.name))
	case VariantFencing:
		token, r := node.acquireFenced(ctx, lockKey, "fence:"+op.Key, value, c.ttl)
		v.Token = token
		v.Acquire = note(heldElse(token > 0, r, node.name))
	case VariantRedlock:
		v.Acquire = note(c.redlockAcquire(ctx, lockKey, value))
	}
	switch v.Acquire {
	case lock.Refused:
		return finish(core.Fail)
	case lock.Unknown:
		return finish(core.Info)
	}
	v.AcquiredNS = since()

	// Read, (stall,) write, hold.
	var read int64
	v.Read, read = c.access(ctx, &errs, OpRead, op.Key, v.Token, 0)
	if v.Read == lock.Unknown {
		return finish(core.Info)
	}
	if v.Read == lock.Done {
		v.ReadValue = read
		// The client-pause fault's stall point: a holder that has read
		// and is about to write back, as a GC pause would catch it.
		v.StalledNS = int64(c.stalled(ctx))
		// The holder's work on what it read, before it writes back.
		sleep(ctx, hold)
		v.WriteStartNS = since()
		v.Write, _ = c.access(ctx, &errs, OpWrite, op.Key, v.Token, read+1)
		if v.Write == lock.Unknown {
			return finish(core.Info)
		}
	}

	// Release.
	v.ReleaseStartNS = since()
	if c.variant == VariantRedlock {
		v.Release = note(c.redlockRelease(ctx, lockKey, value))
	} else {
		deleted, r := node.release(ctx, lockKey, value)
		c.lost(r)
		v.Release = note(released(deleted, r, node.name))
	}
	if v.Release == lock.Unknown {
		return finish(core.Info)
	}
	return finish(core.OK)
}

// heldElse turns the answer to an acquire on one node into its outcome:
// Refused with "held" when Redis answered that another holds the lock.
func heldElse(got bool, r result, node string) (lock.Outcome, error) {
	switch {
	case r.outcome != lock.Done:
		return r.outcome, r.err
	case got:
		return lock.Done, nil
	}
	return lock.Refused, fmt.Errorf("redis %s: lock held by another", node)
}

// released turns the answer to a release on one node into its outcome.
func released(deleted bool, r result, node string) (lock.Outcome, error) {
	switch {
	case r.outcome != lock.Done:
		return r.outcome, r.err
	case deleted:
		return lock.Done, nil
	}
	return lock.Refused, fmt.Errorf("redis %s: release: the lock was no longer ours", node)
}

// sleep waits d, or until ctx ends less releaseReserve.
func sleep(ctx context.Context, d time.Duration) {
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)-releaseReserve)
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// quorum is the majority of the redis nodes.
func (c *Client) quorum() int { return len(c.redis)/2 + 1 }

// drift is Redlock's allowance for clock drift over a lease.
func (c *Client) drift() time.Duration {
	return time.Duration(float64(c.ttl)*DriftFactor) + 2*time.Millisecond
}

// redlockAcquire runs Redlock's acquire: SET NX PX on every node at once,
// each bounded by the node timeout; the lock is taken when a majority
// gave it and time is left of the lease after the elapsed time and the
// drift. Otherwise it releases on every node and the outcome is Refused
// when no majority can have held our value, Unknown when one may have.
func (c *Client) redlockAcquire(ctx context.Context, key, value string) (lock.Outcome, error) {
	start := time.Now()
	nodeCtx, cancel := context.WithTimeout(ctx, c.nodeTO)
	got := make([]bool, len(c.redis))
	rs := make([]result, len(c.redis))
	var wg sync.WaitGroup
	for i, n := range c.redis {
		wg.Go(func() { got[i], rs[i] = n.setNX(nodeCtx, key, value, c.ttl) })
	}
	wg.Wait()
	cancel()
	validity := c.ttl - time.Since(start) - c.drift()
	ok, unknown := 0, 0
	var firstErr error
	for i, r := range rs {
		switch {
		case r.outcome == lock.Done && got[i]:
			ok++
		case r.outcome == lock.Unknown:
			unknown++
		}
		if firstErr == nil && r.err != nil {
			firstErr = r.err
		}
	}
	if ok >= c.quorum() && validity > 0 {
		return lock.Done, nil
	}
	why := fmt.Sprintf("redlock: %d of %d nodes gave the lock, %d unknown", ok, len(c.redis), unknown)
	if ok >= c.quorum() {
		why = fmt.Sprintf("redlock: a majority gave the lock after its validity (%s of %s)", time.Since(start).Round(time.Millisecond), c.ttl)
	}
	if firstErr != nil {
		why += "; " + firstErr.Error()
	}
	c.redlockRelease(ctx, key, value)
	if ok+unknown < c.quorum() {
		return lock.Refused, errors.New(why)
	}
	return lock.Unknown, errors.New(why)
}

// redlockRelease runs the compare-and-delete on every node at once, each
// bounded by the node timeout: Done
// when a majority deleted our value, Refused when no majority can have
// (the lock was no longer ours, or the release did not reach them),
// Unknown otherwise.
func (c *Client) redlockRelease(ctx context.Context, key, value string) (lock.Outcome, error) {
	nodeCtx, cancel := context.WithTimeout(ctx, c.nodeTO)
	deleted := make([]bool, len(c.redis))
	rs := make([]result, len(c.redis))
	var wg sync.WaitGroup
	for i, n := range c.redis {
		wg.Go(func() { deleted[i], rs[i] = n.release(nodeCtx, key, value) })
	}
	wg.Wait()
	cancel()
	ok, unknown := 0, 0
	var firstErr error
	for i, r := range rs {
		switch {
		case r.outcome == lock.Done && deleted[i]:
			ok++
		case r.outcome == lock.Unknown:
			unknown++
		}
		if firstErr == nil && r.err != nil {
			firstErr = r.err
		}
	}
	if ok >= c.quorum() {
		return lock.Done, nil
	}
	why := fmt.Sprintf("redlock release: %d of %d nodes still held our lock, %d unknown", ok, len(c.redis), unknown)
	if firstErr != nil {
		why += "; " + firstErr.Error()
	}
	if ok+unknown < c.quorum() {
		return lock.Refused, errors.New(why)
	}
	return lock.Unknown, errors.New(why)
}

// access reads (op "read") or writes value to the resource key with token,
// appending any error to errs. It returns the step's outcome and the value
// read.
func (c *Client) access(ctx context.Context, errs *[]error, op, key string, token, value int64) (lock.Outcome, int64) {
	o, v, err := c.resource.access(ctx, AccessRequest{Key: key, Op: op, Holder: c.holder, Token: token, Value: value})
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %w", op, err))
	}
	return o, v
}

// readState is the final read of one resource key.
func (c *Client) readState(ctx context.Context, op core.Op) core.Op {
	op.Node = c.resource.name
	var page lock.ResourceRead
	switch r := op.Value.(type) {
	case lock.ResourceRead:
		page = r
	case *lock.ResourceRead:
		if r != nil {
			page = *r
		}
	}
	st, o, err := c.resource.state(ctx, op.Key, page)
	switch o {
	case lock.Done:
		op.Value = st
		return done(op, core.OK, "")
	case lock.Refused:
		return done(op, core.Fail, err.Error())
	}
	return done(op, core.Info, err.Error())
}

// holdOf returns the hold time of a cycle's request value.
func holdOf(v any) (time.Duration, error) {
	var req lock.CycleRequest
	switch r := v.(type) {
	case nil:
	case lock.CycleRequest:
		req = r
	case *lock.CycleRequest:
		if r != nil {
			req = *r
		}
	default:
		return 0, fmt.Errorf("cycle value %T, want lock.CycleRequest", v)
	}
	if req.HoldNS < 0 {
		return 0, fmt.Errorf("negative hold %d", req.HoldNS)
	}
	return time.Duration(req.HoldNS), nil
}

// randomHex returns 16 random hex digits: the value that makes a lock
// ours.
func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func done(op core.Op, t core.Type, msg string) core.Op {
	op.Type = t
	op.Error = msg
	return op
}

// resourceClient talks to the resource node over HTTP.
type resourceClient struct {
	name, addr string
	tr         *http.Transport
	hc         *http.Client
}

func newResourceClient(e targets.Endpoint) *resourceClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: redisDialTimeout}).DialContext,
		MaxIdleConnsPerHost: 2,
		DisableCompression:  true,
	}
	return &resourceClient{name: e.Name, addr: e.Addr, tr: tr, hc: &http.Client{Transport: tr}}
}

// access sends req. Done: the resource accepted it (v is the value read or
// written); Refused: it certainly did not apply it (a stale token, which it
// recorded; a malformed request; a request never sent); Unknown: the
// request was sent and no clear answer came.
func (rc *resourceClient) access(ctx context.Context, req AccessRequest) (o lock.Outcome, v int64, err error) {
	body, err := json.Marshal(req)
	if err != nil {
		return lock.Refused, 0, err
	}
	status, b, o, err := rc.roundTrip(ctx, http.MethodPost, RouteAccess, body)
	if err != nil {
		return o, 0, err
	}
	var r AccessReply
	decodeErr := json.Unmarshal(b, &r)
	switch {
	case status == http.StatusOK && decodeErr == nil:
		return lock.Done, r.Value, nil
	case status == http.StatusConflict:
		return lock.Refused, 0, fmt.Errorf("resource refused: %s", orStatus(r.Error, status))
	case status == http.StatusBadRequest:
		return lock.Refused, 0, fmt.Errorf("resource: %s", orStatus(r.Error, status))
	case decodeErr != nil:
		return lock.Unknown, 0, fmt.Errorf("resource: bad reply (status %d)", status)
	}
	return lock.Unknown, 0, fmt.Errorf("resource: %s", orStatus(r.Error, status))
}

// state reads key's record, or the page of it that page names (a zero
// page: all of it).
func (rc *resourceClient) state(ctx context.Context, key string, page lock.ResourceRead) (lock.ResourceState, lock.Outcome, error) {
	var st lock.ResourceState
	path := RouteState + "?key=" + url.QueryEscape(key)
	if page.Count > 0 {
		path += fmt.Sprintf("&from=%d&count=%d", page.From, page.Count)
	}
	status, b, o, err := rc.roundTrip(ctx, http.MethodGet, path, nil)
	if err != nil {
		return st, o, err
	}
	if status != http.StatusOK {
		var r AccessReply
		json.Unmarshal(b, &r)
		o := lock.Unknown
		if status == http.StatusBadRequest {
			o = lock.Refused
		}
		return st, o, fmt.Errorf("resource: %s", orStatus(r.Error, status))
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, lock.Unknown, fmt.Errorf("resource: bad state: %w", err)
	}
	return st, lock.Done, nil
}

// roundTrip sends one request and reads the reply. On failure the outcome
// says whether the request can have reached the resource: Refused when
// nothing of it was written, Unknown otherwise.
func (rc *resourceClient) roundTrip(ctx context.Context, method, path string, body []byte) (int, []byte, lock.Outcome, error) {
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+rc.addr+path, rd)
	if err != nil {
		return 0, nil, lock.Refused, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := rc.hc.Do(req)
	if err != nil {
		if !wrote.Load() {
			return 0, nil, lock.Refused, fmt.Errorf("resource: not sent: %s", httpError(err, time.Since(start)))
		}
		return 0, nil, lock.Unknown, fmt.Errorf("resource: %s", httpError(err, time.Since(start)))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return 0, nil, lock.Unknown, fmt.Errorf("resource: reading reply: %s", httpError(err, time.Since(start)))
	}
	return resp.StatusCode, b, lock.Done, nil
}

// httpError says in a few words why an HTTP round trip that took took
// failed.
func httpError(err error, took time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return describe(err, took, "")
}

func orStatus(msg string, status int) string {
	if msg != "" {
		return msg
	}
	return fmt.Sprintf("http status %d", status)
}
