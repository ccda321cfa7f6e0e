package saga

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	wl "github.com/faultline/faultline/workloads/saga"
)

// Timing of the client.
const (
	// tryTimeout bounds one HTTP request.
	tryTimeout = 2 * time.Second
	// pollEvery is the pause between two looks at an order, two posts of
	// it, or two asks for the sagas in flight.
	pollEvery = 50 * time.Millisecond
	// margin is kept before an operation's deadline to report in time.
	margin = 100 * time.Millisecond
)

// Client is a client of the saga workload: it places orders with the
// orchestrator and reads the final state of every node.
type Client struct {
	http   *http.Client
	tr     *http.Transport
	orders targets.Endpoint
	nodes  map[string]targets.Endpoint // by role
}

func newClient(cfg targets.ClientConfig) (*Client, error) {
	c := &Client{nodes: map[string]targets.Endpoint{}}
	for _, role := range append([]string{RoleOrders}, wl.Services...) {
		eps := cfg.ByRole(role)
		if len(eps) == 0 {
			return nil, fmt.Errorf("saga client: no %s node", role)
		}
		c.nodes[role] = eps[0]
	}
	c.orders = c.nodes[RoleOrders]
	c.tr = &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	c.http = &http.Client{Transport: c.tr}
	return c, nil
}

// Close releases the client's connections.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// Invoke carries out one operation of the saga workload.
func (c *Client) Invoke(ctx context.Context, op core.Op) core.Op {
	switch op.F {
	case wl.FOrder:
		o, ok := op.Value.(wl.Order)
		if !ok {
			return failed(op, fmt.Errorf("order value %T: want saga.Order", op.Value))
		}
		return c.place(ctx, op, o)
	case wl.FSettle:
		r, _ := op.Value.(wl.SettleRead)
		return c.settle(ctx, op, time.Duration(r.WaitMS)*time.Millisecond)
	case wl.FEffects, wl.FOrders:
		p, ok := op.Value.(wl.Page)
		if !ok {
			return failed(op, fmt.Errorf("%s value %T: want saga.Page", op.F, op.Value))
		}
		return c.read(ctx, op, p)
	}
	return failed(op, fmt.Errorf("saga has no operation %q", op.F))
}

func failed(op core.Op, err error) core.Op {
	op.Type, op.Value, op.Error = core.Fail, nil, err.Error()
	return op
}

// call sends one request to ep, bounded by tryTimeout and ctx, and
// decodes a 200 answer into out. It returns the status (0 when no answer
// came) and an error for anything but 200.
func (c *Client) call(ctx context.Context, method string, ep targets.Endpoint, path string, body, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, tryTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+ep.Addr+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorReply
		_ = json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&e)
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", ep.Name, path, resp.StatusCode, e.Error)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: bad answer: %w", ep.Name, path, err)
	}
	return resp.StatusCode, nil
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// place posts the order until the orchestrator records it (posting again
// is harmless: it records an order once), then looks at it until its saga
// ends. It is ok with the saga's outcome; fail when the orchestrator
// refused the order as malformed, or no post can have reached it (each
// was refused a connection); info otherwise.
func (c *Client) place(ctx context.Context, op core.Op, o wl.Order) core.Op {
	op.Node = c.orders.Name
	ctx, cancel := deadlineLess(ctx, margin)
	defer cancel()
	reached := false
	var st wl.OrderState
	for {
		status, err := c.call(ctx, http.MethodPost, c.orders, RouteOrders, o, &st)
		if err == nil {
			break
		}
		if status == http.StatusBadRequest {
			return failed(op, fmt.Errorf("%w: %v", errNotRecorded, err))
		}
		if status != 0 || !errors.Is(err, syscall.ECONNREFUSED) {
			reached = true
		}
		if !sleep(ctx, pollEvery) {
			if !reached {
				return failed(op, fmt.Errorf("%w: %v", errNotRecorded, err))
			}
			op.Type, op.Value, op.Error = core.Info, nil, "timeout: "+err.Error()
			return op
		}
	}
	for !isTerminal(st.State) {
		if !sleep(ctx, pollEvery) {
			op.Type, op.Value, op.Error = core.Info, nil, fmt.Sprintf("timeout: the saga is %s", st.State)
			return op
		}
		var now wl.OrderState
		if _, err := c.call(ctx, http.MethodGet, c.orders, RouteOrder+url.PathEscape(o.ID), nil, &now); err == nil {
			st = now
		}
	}
	op.Type, op.Error = core.OK, ""
	op.Value = wl.Outcome{Outcome: st.State, Failed: st.Failed}
	return op
}

// settle asks the orchestrator how many sagas are in flight until none is
// or wait (and the operation's deadline) passes; it is ok with the last
// answer, and fails when none came.
func (c *Client) settle(ctx context.Context, op core.Op, wait time.Duration) core.Op {
	op.Node = c.orders.Name
	ctx, cancel := deadlineLess(ctx, margin)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, wait)
	defer cancel2()
	var last *wl.Settled
	var lastErr error
	for {
		var s wl.Settled
		if _, err := c.call(ctx, http.MethodGet, c.orders, RouteInFlight, nil, &s); err != nil {
			lastErr = err
		} else {
			last = &s
			if s.InFlight == 0 {
				break
			}
		}
		if !sleep(ctx, 2*pollEvery) {
			break
		}
	}
	if last == nil {
		if lastErr == nil {
			lastErr = ctx.Err()
		}
		return failed(op, lastErr)
	}
	op.Type, op.Value, op.Error = core.OK, *last, ""
	return op
}

// read reads one page of a service's record or of the orchestrator's
// orders; it fails when no answer came.
func (c *Client) read(ctx context.Context, op core.Op, p wl.Page) core.Op {
	role := op.Key
	ep, ok := c.nodes[role]
	if !ok || (op.F == wl.FOrders) != (role == RoleOrders) {
		return failed(op, fmt.Errorf("no %s read of %q", op.F, role))
	}
	op.Node = ep.Name
	q := "?from=" + strconv.FormatInt(p.From, 10) + "&count=" + strconv.FormatInt(p.Count, 10)
	var err error
	if op.F == wl.FOrders {
		var page wl.OrdersPage
		if _, err = c.call(ctx, http.MethodGet, ep, RouteOrders+q, nil, &page); err == nil {
			op.Type, op.Value, op.Error = core.OK, page, ""
			return op
		}
	} else {
		var page wl.EffectsPage
		if _, err = c.call(ctx, http.MethodGet, ep, RouteEffects+q, nil, &page); err == nil {
			op.Type, op.Value, op.Error = core.OK, page, ""
			return op
		}
	}
	return failed(op, err)
}

// errNotRecorded is what the client reports of an order the orchestrator
// certainly never recorded.
var errNotRecorded = errors.New("order not recorded")

// deadlineLess returns ctx with its deadline moved d earlier, if it has
// one.
func deadlineLess(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-d))
	}
	return context.WithCancel(ctx)
}
