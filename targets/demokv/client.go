package demokv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/core"
)

// defaultOpTimeout bounds an operation whose context has no deadline.
const defaultOpTimeout = 10 * time.Second

// Client is a register client for demo-kv. It sends every operation to one
// node, starting with the one NewClient was given; when that node answers
// "not leader" it moves to the leader it names, or, with no name, to the next
// node; when it cannot connect to that node, it moves to the next node. It
// owns its connections; Close releases them.
type Client struct {
	nodes []string
	addrs []string
	tr    *http.Transport
	hc    *http.Client

	mu  sync.Mutex
	cur int // index into nodes of the node operations go to
}

var _ core.Client = (*Client)(nil)

func newClient(nodes, addrs []string, first int) (*Client, error) {
	if len(nodes) == 0 || len(nodes) != len(addrs) {
		return nil, fmt.Errorf("demo-kv client: %d nodes but %d addresses", len(nodes), len(addrs))
	}
	if first < 0 || first >= len(nodes) {
		return nil, fmt.Errorf("demo-kv client: first node %d out of range", first)
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		DisableCompression:  true,
	}
	return &Client{nodes: nodes, addrs: addrs, tr: tr, hc: &http.Client{Transport: tr}, cur: first}, nil
}

// Close releases the client's connections. It is idempotent.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// Invoke performs a register operation ("read", "write" with an int64
// value, or "cas" with a [2]int64{old, new} value) and returns op completed:
// OK when it took effect (a read's Value is nil or an int64), Fail when it
// certainly did not (a cas whose compare failed, a node that is not the
// leader, a connection that could not be made), Info when the outcome is
// unknown (a timeout, a connection lost after sending, any unclear error).
func (c *Client) Invoke(ctx context.Context, op core.Op) core.Op {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultOpTimeout)
		defer cancel()
	}
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	op.Node = c.nodes[cur]

	req, err := c.request(ctx, cur, op)
	if err != nil {
		return done(op, core.Fail, err.Error())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t := outcomeOf(err)
		if t == core.Fail {
			c.follow(cur, "") // that node is down; try the next one next time
		}
		return done(op, t, shortError(ctx, err))
	}
	defer resp.Body.Close()
	var r Reply
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return done(op, core.Info, "reading reply: "+shortError(ctx, err))
	}
	decodeErr := json.Unmarshal(body, &r)
	if decodeErr == nil && r.Node != "" {
		op.Node = r.Node
	}

	switch resp.StatusCode {
	case http.StatusOK:
		if decodeErr != nil {
			return done(op, core.Info, "bad reply")
		}
		if op.F == opRead {
			op.Value = nil
			if r.Value != nil {
				op.Value = *r.Value
			}
		}
		return done(op, core.OK, "")
	case http.StatusConflict:
		return done(op, core.Fail, "cas mismatch")
	case http.StatusMisdirectedRequest:
		c.follow(cur, r.Leader)
		if r.Leader != "" {
			return done(op, core.Fail, "not leader; leader is "+r.Leader)
		}
		return done(op, core.Fail, "not leader")
	case http.StatusServiceUnavailable:
		return done(op, core.Fail, orStatus(r.Error, resp.StatusCode))
	}
	return done(op, core.Info, orStatus(r.Error, resp.StatusCode))
}

// request builds the HTTP request for op against node i.
func (c *Client) request(ctx context.Context, i int, op core.Op) (*http.Request, error) {
	u := "http://" + c.addrs[i] + RouteKV + url.PathEscape(op.Key)
	var method string
	var body any
	switch op.F {
	case opRead:
		method = http.MethodGet
	case opWrite:
		v, ok := op.Value.(int64)
		if !ok {
			return nil, fmt.Errorf("write value %T, want int64", op.Value)
		}
		method, body = http.MethodPut, writeBody{Value: v}
	case opCAS:
		v, ok := op.Value.([2]int64)
		if !ok {
			return nil, fmt.Errorf("cas value %T, want [2]int64", op.Value)
		}
		method, body, u = http.MethodPost, casBody{Old: v[0], New: v[1]}, u+RouteCASSuffix
	default:
		return nil, fmt.Errorf("unknown operation %q", op.F)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// follow moves the client away from node cur after a "not leader" or a
// failed connection: to the named leader when it is one of the client's
// nodes, else to the next node.
func (c *Client) follow(cur int, leader string) {
	next := (cur + 1) % len(c.nodes)
	if i := slices.Index(c.nodes, leader); i >= 0 {
		next = i
	}
	c.mu.Lock()
	if c.cur == cur {
		c.cur = next
	}
	c.mu.Unlock()
}

// outcomeOf classifies a failed round trip: a connection that was never
// made means the request was never sent, anything else may have reached the
// node.
func outcomeOf(err error) core.Type {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return core.Fail
	}
	return core.Info
}

func shortError(ctx context.Context, err error) string {
	var op *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return "dial: " + op.Err.Error()
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func orStatus(msg string, status int) string {
	if msg != "" {
		return msg
	}
	return fmt.Sprintf("http status %d", status)
}

func done(op core.Op, t core.Type, msg string) core.Op {
	op.Type = t
	op.Error = msg
	return op
}
