package twopc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/bank"
	"github.com/faultline/faultline/workloads/transfer"
)

// defaultOpTimeout bounds an operation whose context has no deadline.
const defaultOpTimeout = 10 * time.Second

// Client is a transfer-workload client of twopc for one process: it sends
// transfers and reads to the coordinator and reads the participants'
// records directly. Close releases its connections.
type Client struct {
	process int
	coord   string
	parts   []targets.Endpoint
	peers   *peers
	reads   atomic.Int64
}

var _ core.Client = (*Client)(nil)

// NewClient returns a client of the transfer workload; any other workload
// is bad input. The caller closes it.
func (Target) NewClient(cfg targets.ClientConfig) (core.Client, error) {
	if cfg.Workload != transfer.Name {
		return nil, core.BadInput("twopc has no client for workload %q (it has: %s)", cfg.Workload, transfer.Name)
	}
	if _, err := checkVariant(cfg.Variant); err != nil {
		return nil, err
	}
	coords, parts := cfg.ByRole(RoleCoordinator), cfg.ByRole(RoleParticipant)
	if len(coords) != 1 || len(parts) < 2 {
		return nil, errors.New("twopc client: want one coordinator and two or more participants")
	}
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext, MaxIdleConnsPerHost: 2, DisableCompression: true}
	return &Client{process: cfg.Process, coord: coords[0].Addr, parts: parts, peers: newPeers(tr)}, nil
}

// Close releases the client's connections.
func (c *Client) Close() error {
	c.peers.close()
	return nil
}

// Invoke performs op: a transfer (value a bank.Transfer with its ID),
// completed ok once committed (the value repeated), fail when aborted or
// refused, info when the outcome is unknown; a read (value a
// bank.ReadRequest), completed ok with bank.Balances or fail; or an
// outcomes read (value a transfer.OutcomesRead), completed ok with
// transfer.Outcomes (every participant's page, after waiting, within the
// operation's time, for no transaction to be in doubt) or fail.
func (c *Client) Invoke(ctx context.Context, op core.Op) core.Op {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultOpTimeout)
		defer cancel()
	}
	switch op.F {
	case transfer.TransferF:
		return c.transfer(ctx, op)
	case transfer.ReadF:
		return c.read(ctx, op)
	case transfer.OutcomesF:
		return c.outcomes(ctx, op)
	}
	return done(op, core.Fail, fmt.Sprintf("unknown operation %q", op.F))
}

func (c *Client) transfer(ctx context.Context, op core.Op) core.Op {
	t, ok := op.Value.(bank.Transfer)
	if !ok || t.ID == "" {
		return done(op, core.Fail, fmt.Sprintf("transfer value %T: want a bank.Transfer with an id", op.Value))
	}
	op.Node = RoleCoordinator
	var r Reply
	status, err := c.peers.call(ctx, c.coord, http.MethodPost, RouteTransfer, t, &r)
	switch {
	case err != nil && errors.Is(err, errDial):
		return done(op, core.Fail, "coordinator unreachable")
	case err != nil:
		return done(op, core.Info, short(ctx, err))
	case status == http.StatusOK:
		return done(op, core.OK, "")
	case status == http.StatusConflict, status == http.StatusServiceUnavailable, status == http.StatusBadRequest:
		return done(op, core.Fail, r.Error)
	}
	return done(op, core.Info, fmt.Sprintf("status %d: %s", status, r.Error))
}

func (c *Client) read(ctx context.Context, op core.Op) core.Op {
	rr, ok := op.Value.(bank.ReadRequest)
	if !ok {
		return done(op, core.Fail, fmt.Sprintf("read value %T: want a bank.ReadRequest", op.Value))
	}
	op.Node = RoleCoordinator
	id := "p" + strconv.Itoa(c.process) + "r" + strconv.FormatInt(c.reads.Add(1), 10)
	var r Reply
	status, err := c.peers.call(ctx, c.coord, http.MethodPost, RouteRead, ReadBody{ID: id, Accounts: rr.Accounts, Balance: rr.Balance}, &r)
	op.Value = nil
	switch {
	case err != nil:
		return done(op, core.Fail, short(ctx, err))
	case status != http.StatusOK:
		return done(op, core.Fail, r.Error)
	}
	op.Value = bank.Balances(r.Balances)
	return done(op, core.OK, "")
}

func (c *Client) outcomes(ctx context.Context, op core.Op) core.Op {
	or, ok := op.Value.(transfer.OutcomesRead)
	if !ok {
		return done(op, core.Fail, fmt.Sprintf("outcomes value %T: want a transfer.OutcomesRead", op.Value))
	}
	out := transfer.Outcomes{}
	op.Value = nil
	for _, p := range c.parts {
		// Each participant may wait for its transactions in doubt with
		// what is left of the operation's time, less a second to answer.
		settle := MaxSettle
		if dl, ok := ctx.Deadline(); ok {
			settle = min(settle, max(time.Until(dl)-time.Second, 0))
		}
		q := url.Values{"from": {strconv.Itoa(or.From)}, "count": {strconv.Itoa(or.Count)}, "settle": {settle.String()}}
		var r Reply
		status, err := c.peers.call(ctx, p.Addr, http.MethodGet, RouteRecords+"?"+q.Encode(), nil, &r)
		switch {
		case err != nil:
			return done(op, core.Fail, p.Name+": "+short(ctx, err))
		case status != http.StatusOK:
			return done(op, core.Fail, p.Name+": "+r.Error)
		}
		if r.Records == nil {
			r.Records = []transfer.Record{}
		}
		out[p.Name] = r.Records
	}
	op.Value = out
	return done(op, core.OK, "")
}

// isDial reports whether err is a connection that was never made.
func isDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func short(ctx context.Context, err error) string {
	switch {
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

func done(op core.Op, t core.Type, msg string) core.Op {
	op.Type = t
	op.Error = msg
	return op
}
