package composestack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

// Register is the test stack as a target defined outside faultline's
// registry, for the compose provider only: its clients run the register
// workload against the server of the first node (service a), adding the
// port to the node address the provider gives (targets.Endpoint.Addr).
// Its variant "fail" ends the run with an error: FailAfter after its first
// client was made, every operation is indeterminate and no new client can
// be made, so the controller stops with "client for process N: ...".
type Register struct {
	// FailAfter is how long the variant "fail" lets the run go; zero means
	// a second.
	FailAfter time.Duration
	first     *firstClient
}

// firstClient records when a Register's first client was made.
type firstClient struct {
	once sync.Once
	at   time.Time
}

// NewRegister returns the target, its clock not started.
func NewRegister() Register { return Register{first: &firstClient{}} }

var _ targets.Target = Register{}

// Name returns "scratch-register".
func (Register) Name() string { return "scratch-register" }

// Description is one line.
func (Register) Description() string {
	return "registers of a FROM scratch HTTP server in a Compose stack (test target)"
}

// Workloads lists the register workload.
func (Register) Workloads() []string { return []string{"register"} }

// Variants lists "ok" (the default) and "fail".
func (Register) Variants() []targets.Choice {
	return []targets.Choice{
		{Name: "ok", Description: "clients use service a's registers"},
		{Name: "fail", Description: "the run fails after FailAfter: operations become indeterminate and no new client can be made"},
	}
}

// Layout refuses: the stack's containers run what they run, so the target
// runs on the compose provider only.
func (Register) Layout(targets.Spec) (targets.Layout, error) {
	return targets.Layout{}, core.BadInput("scratch-register runs on a Compose stack only (--provider compose)")
}

// NewClient returns a client of the first node's registers.
func (r Register) NewClient(cfg targets.ClientConfig) (core.Client, error) {
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("no node")
	}
	if r.first == nil {
		r.first = &firstClient{}
	}
	r.first.once.Do(func() { r.first.at = time.Now() })
	c := &registerClient{
		base:  "http://" + net.JoinHostPort(cfg.Nodes[0].Addr, strconv.Itoa(Port)),
		node:  cfg.Nodes[0].Name,
		http:  &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		fails: func() bool { return false },
	}
	if cfg.Variant == "fail" {
		after := r.FailAfter
		if after == 0 {
			after = time.Second
		}
		c.fails = func() bool { return time.Since(r.first.at) > after }
		if c.fails() {
			return nil, errors.New("scratch-register: the variant fail ends the run here")
		}
	}
	return c, nil
}

type registerClient struct {
	base  string
	node  string
	http  *http.Client
	fails func() bool
}

func (c *registerClient) Invoke(ctx context.Context, op core.Op) core.Op {
	op.Node = c.node
	if c.fails() {
		op.Type, op.Error = core.Info, "the variant fail makes every operation indeterminate"
		return op
	}
	var path string
	switch op.F {
	case "read":
		path = "/r?k=" + op.Key
	case "write":
		path = fmt.Sprintf("/w?k=%s&v=%d", op.Key, op.Value.(int64))
	case "cas":
		v := op.Value.([2]int64)
		path = fmt.Sprintf("/cas?k=%s&old=%d&new=%d", op.Key, v[0], v[1])
	default:
		op.Type, op.Error = core.Fail, "unknown operation "+op.F
		return op
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		op.Type, op.Error = core.Fail, err.Error()
		return op
	}
	res, err := c.http.Do(req)
	if err != nil {
		// A refused connection sent nothing; anything else may have.
		op.Type = core.Info
		if errors.Is(err, syscall.ECONNREFUSED) {
			op.Type = core.Fail
		}
		op.Error = err.Error()
		return op
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		op.Type, op.Error = core.Info, err.Error()
		return op
	}
	body := strings.TrimSpace(string(b))
	switch {
	case res.StatusCode == http.StatusConflict:
		op.Type = core.Fail
	case res.StatusCode != http.StatusOK:
		op.Type, op.Error = core.Info, res.Status
	case op.F == "read" && body == "nil":
		op.Type, op.Value = core.OK, nil
	case op.F == "read":
		v, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			op.Type, op.Error = core.Info, "bad read answer "+strconv.Quote(body)
			return op
		}
		op.Type, op.Value = core.OK, v
	default:
		op.Type = core.OK
	}
	return op
}

func (c *registerClient) Close() error {
	c.http.CloseIdleConnections()
	return nil
}
