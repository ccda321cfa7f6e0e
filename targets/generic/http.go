package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/idempotency"
)

// HTTP describes an HTTP+JSON client: one request per operation kind.
// Read, Write and CAS serve the register workload; Charge and Ledger the
// idempotency workload.
type HTTP struct {
	// Headers are sent with every request; their values are templates
	// with {node} and {host}.
	Headers map[string]string `yaml:"headers"`
	// Status maps the status codes of write, cas and charge (and, by its
	// OK list, of read and ledger) to outcomes, where the operation has no
	// status of its own; nil means 200-299 ok, every other code info.
	Status *Status `yaml:"status"`
	// Read answers with the key's value at Value.
	Read *HTTPRead `yaml:"read"`
	// Write sets the key to {value}; CAS sets it to {new} where it holds
	// {old} (a status in Status.Fail says it did not).
	Write *HTTPRequest `yaml:"write"`
	CAS   *HTTPRequest `yaml:"cas"`
	// Charge charges account {key} {amount} for request {request_id}.
	Charge *HTTPRequest `yaml:"charge"`
	// Ledger answers with account {key}'s ledger.
	Ledger *HTTPLedger `yaml:"ledger"`
}

// HTTPRequest is the request of one operation kind.
type HTTPRequest struct {
	// Node is the service the operation goes to, or "any" (the default).
	Node string `yaml:"node"`
	// Method is the HTTP method; empty means GET for read and ledger,
	// POST otherwise.
	Method string `yaml:"method"`
	// URL is a template of the request's URL, such as
	// "http://{host}:8080/kv/{key}": http or https, with the port the
	// service listens on.
	URL string `yaml:"url"`
	// Body is a template of the request's body; empty means none. It is
	// sent as application/json unless Headers say otherwise, and must then
	// be JSON once its placeholders are filled in.
	Body string `yaml:"body"`
	// Headers are sent with this request, after HTTP.Headers; their
	// values are templates.
	Headers map[string]string `yaml:"headers"`
	// Status replaces HTTP.Status for this request.
	Status *Status `yaml:"status"`
}

// HTTPRead is the read's request and where the value is in its answer.
type HTTPRead struct {
	HTTPRequest `yaml:",inline"`
	// Value is the JSON pointer of the value in an ok answer ("/value";
	// "" for the whole body): a number, or a string of digits. An answer
	// where it is missing or null reads no value (the key is absent), as
	// does a status in Status.Absent.
	Value *string `yaml:"value"`
}

// HTTPLedger is the ledger read's request and where the rows are in its
// answer.
type HTTPLedger struct {
	HTTPRequest `yaml:",inline"`
	// Rows is the JSON pointer of the array of ledger rows in an ok
	// answer ("" for the whole body); null is an empty ledger.
	Rows *string `yaml:"rows"`
	// RequestID and Amount are the JSON pointers, within a row, of the
	// request id it was charged for (default "/request_id") and of the
	// amount (default "/amount").
	RequestID *string `yaml:"request_id"`
	Amount    *string `yaml:"amount"`
}

// maxBody bounds the answer the client reads.
const maxBody = 64 << 20

// httpOp is one operation kind's request, checked and parsed.
type httpOp struct {
	name    string
	node    string
	method  string
	url     Template
	body    Template
	headers []header
	status  Status
	// value, for read; rows, requestID and amount, for ledger.
	value, rows, requestID, amount Pointer
}

type header struct {
	name  string
	value Template
}

// httpPlan is an HTTP client section, checked and parsed.
type httpPlan struct {
	ops       map[string]*httpOp
	workloads []string
}

var (
	methodRe = regexp.MustCompile(`^[A-Z]+$`)
	headerRe = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
)

// planHTTP checks h and parses its templates; checkNode checks a node
// setting.
func planHTTP(h HTTP, checkNode func(field, node string) error) (*httpPlan, error) {
	p := &httpPlan{ops: map[string]*httpOp{}}
	common, err := parseHeaders("http.headers", h.Headers, Placeholders(""))
	if err != nil {
		return nil, err
	}
	var shared Status
	if h.Status != nil {
		if f, err := h.Status.validate([]string{"ok", "fail", "info"}, "absent applies to a read's own status only"); err != nil {
			return nil, fieldErr("http.status."+f, "%v", err)
		}
		shared = *h.Status
	}
	type section struct {
		name string
		req  *HTTPRequest
	}
	var sections []section
	if h.Read != nil {
		sections = append(sections, section{OpRead, &h.Read.HTTPRequest})
	}
	if h.Write != nil {
		sections = append(sections, section{OpWrite, h.Write})
	}
	if h.CAS != nil {
		sections = append(sections, section{OpCAS, h.CAS})
	}
	if h.Charge != nil {
		sections = append(sections, section{OpCharge, h.Charge})
	}
	if h.Ledger != nil {
		sections = append(sections, section{OpLedger, &h.Ledger.HTTPRequest})
	}
	set := map[string]bool{}
	for _, s := range sections {
		o, err := planRequest("http."+s.name, s.name, *s.req, shared, checkNode)
		if err != nil {
			return nil, err
		}
		o.headers = append(append([]header{}, common...), o.headers...)
		p.ops[s.name], set[s.name] = o, true
	}
	if h.Read != nil {
		if h.Read.Value == nil {
			return nil, fieldErr("http.read", "value is required: the JSON pointer of the value in the answer, such as /value (\"\" for the whole body)")
		}
		if p.ops[OpRead].value, err = ParsePointer(*h.Read.Value); err != nil {
			return nil, fieldErr("http.read.value", "%v", err)
		}
	}
	if l := h.Ledger; l != nil {
		if l.Rows == nil {
			return nil, fieldErr("http.ledger", "rows is required: the JSON pointer of the array of rows in the answer, such as /rows (\"\" for the whole body)")
		}
		o := p.ops[OpLedger]
		for _, ptr := range []struct {
			field string
			s     *string
			def   string
			into  *Pointer
		}{{"rows", l.Rows, "", &o.rows}, {"request_id", l.RequestID, "/request_id", &o.requestID}, {"amount", l.Amount, "/amount", &o.amount}} {
			s := ptr.def
			if ptr.s != nil {
				s = *ptr.s
			}
			if *ptr.into, err = ParsePointer(s); err != nil {
				return nil, fieldErr("http.ledger."+ptr.field, "%v", err)
			}
		}
	}
	if p.workloads, err = opsFor("http", set); err != nil {
		return nil, err
	}
	return p, nil
}

// planRequest checks one operation's request at field.
func planRequest(field, op string, r HTTPRequest, shared Status, checkNode func(field, node string) error) (*httpOp, error) {
	o := &httpOp{name: op, node: r.Node, method: r.Method}
	if err := checkNode(field+".node", r.Node); err != nil {
		return nil, err
	}
	if o.method == "" {
		o.method = http.MethodPost
		if op == OpRead || op == OpLedger {
			o.method = http.MethodGet
		}
	}
	if !methodRe.MatchString(o.method) {
		return nil, fieldErr(field+".method", "%q is not an HTTP method (GET, PUT, POST, ...: upper-case letters)", o.method)
	}
	if r.URL == "" {
		return nil, fieldErr(field, "url is required, such as http://{host}:8080/kv/{key}")
	}
	var err error
	names := Placeholders(op)
	if o.url, err = ParseTemplate(r.URL, names, false); err != nil {
		return nil, fieldErr(field+".url", "%v", err)
	}
	s := sample(op)
	u, err := url.Parse(o.url.Expand(s))
	switch {
	case err != nil:
		return nil, fieldErr(field+".url", "not a URL once filled in: %v", errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fieldErr(field+".url", "%q: the scheme must be http or https", r.URL)
	case u.Host == "":
		return nil, fieldErr(field+".url", "%q names no host (use {host}, the node's address, with the service's port)", r.URL)
	}
	if o.headers, err = parseHeaders(field+".headers", r.Headers, names); err != nil {
		return nil, err
	}
	if r.Body != "" {
		if o.body, err = ParseTemplate(r.Body, names, true); err != nil {
			return nil, fieldErr(field+".body", "%v", err)
		}
		if isJSON(o.headers) {
			if b := o.body.Expand(s); !json.Valid([]byte(b)) {
				return nil, fieldErr(field+".body", "not JSON once filled in (%s); quote the placeholders that stand for strings, as in \"{key}\", or set a Content-Type header", clip(b, 80))
			}
		}
	}
	o.status = shared
	allowed, why := []string{"ok", "fail", "info"}, "absent applies to read only"
	switch op {
	case OpRead:
		allowed, why = []string{"ok", "absent"}, "a read changes nothing: every answer neither ok nor absent fails it"
		o.status = Status{OK: shared.OK}
	case OpLedger:
		allowed, why = []string{"ok"}, "a ledger read changes nothing: every answer not ok fails it"
		o.status = Status{OK: shared.OK}
	}
	if r.Status != nil {
		if f, err := r.Status.validate(allowed, why); err != nil {
			return nil, fieldErr(field+".status."+f, "%v", err)
		}
		o.status = *r.Status
	}
	return o, nil
}

// parseHeaders checks and parses headers at field, in name order.
func parseHeaders(field string, h map[string]string, names []string) ([]header, error) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []header
	for _, k := range keys {
		if !headerRe.MatchString(k) {
			return nil, fieldErr(field, "%q is not a header name", k)
		}
		t, err := ParseTemplate(h[k], names, false)
		if err != nil {
			return nil, fieldErr(field+"."+k, "%v", err)
		}
		out = append(out, header{k, t})
	}
	return out, nil
}

// isJSON reports whether a body sent with headers is JSON: no
// Content-Type, or one that says json.
func isJSON(headers []header) bool {
	for _, h := range headers {
		if strings.EqualFold(h.name, "Content-Type") {
			return strings.Contains(strings.ToLower(h.value.String()), "json")
		}
	}
	return true
}

// httpClient is one process's HTTP client: its own connections, and for
// each operation kind the node it sends to.
type httpClient struct {
	plan *httpPlan
	ns   string
	eps  map[string]targets.Endpoint
	tr   *http.Transport
	hc   *http.Client
}

func (p *httpPlan) newClient(cfg targets.ClientConfig) (core.Client, error) {
	c := &httpClient{plan: p, ns: Namespace(cfg.Run), eps: map[string]targets.Endpoint{}}
	for name, o := range p.ops {
		ep, err := pick(cfg, o.node)
		if err != nil {
			return nil, fmt.Errorf("http.%s: %w", name, err)
		}
		c.eps[name] = ep
	}
	c.tr = &http.Transport{
		// Environment proxies do not apply: requests go to the nodes.
		Proxy:               nil,
		DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	c.hc = &http.Client{Transport: c.tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		// A redirect is an answer like any other; its status maps.
		return http.ErrUseLastResponse
	}}
	return c, nil
}

// Close closes the client's idle connections.
func (c *httpClient) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// Invoke performs op with its kind's request to its kind's node. A write,
// cas or charge try completes ok on a status the mapping calls ok, fail
// on one it calls fail and when the request could not be sent (no
// connection was made), info otherwise: a status no list names, a timeout,
// a connection lost after the request went out. A read completes ok with
// the value (nil when absent) or fails: it changed nothing. A ledger read
// completes ok with the page of the account's ledger asked for, or fails.
func (c *httpClient) Invoke(ctx context.Context, op core.Op) core.Op {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	o, ok := c.plan.ops[op.F]
	if !ok {
		return done(op, core.Fail, fmt.Sprintf("unknown operation %q", op.F))
	}
	a, err := argsOf(c.ns, op)
	if err != nil {
		return done(op, core.Fail, err.Error())
	}
	ep := c.eps[op.F]
	op.Node = ep.Name
	switch op.F {
	case OpRead:
		if op.Value != nil {
			return done(op, core.Fail, fmt.Sprintf("read value %v (%T): want nil", op.Value, op.Value))
		}
		v, err := c.read(ctx, o, ep, a)
		op.Value = v
		if err != nil {
			op.Value = nil
			return done(op, core.Fail, err.Error())
		}
		return done(op, core.OK, "")
	case OpLedger:
		if err := checkLedgerValue(op.Value); err != nil {
			return done(op, core.Fail, err.Error())
		}
		rows, err := c.ledger(ctx, o, ep, a)
		if err != nil {
			op.Value = nil
			return done(op, core.Fail, err.Error())
		}
		return ledgerPage(op, c.ns, rows)
	case OpCharge:
		return charge(ctx, op, a, func(ctx context.Context, a args) (effect, string) { return c.change(ctx, o, ep, a) })
	}
	e, msg := c.change(ctx, o, ep, a)
	return done(op, typeOf(e), msg)
}

// do sends o's request for a to ep and returns the status and body of the
// answer, and whether the request may have gone out (a connection to the
// node was made).
func (c *httpClient) do(ctx context.Context, o *httpOp, ep targets.Endpoint, a args) (status int, body []byte, sent bool, err error) {
	vars := a.vars(o.name)
	vars[PNode], vars[PHost] = ep.Name, hostOf(ep.Addr)
	var rd io.Reader
	if !o.body.IsZero() {
		rd = strings.NewReader(o.body.Expand(vars))
	}
	var got atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { got.Store(true) }})
	req, err := http.NewRequestWithContext(ctx, o.method, o.url.Expand(vars), rd)
	if err != nil {
		return 0, nil, false, err
	}
	for _, h := range o.headers {
		req.Header.Set(h.name, h.value.Expand(vars))
	}
	if rd != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, got.Load(), err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err == nil && len(body) > maxBody {
		err = fmt.Errorf("answer larger than %d MiB", maxBody>>20)
	}
	return resp.StatusCode, body, true, err
}

// change sends a write, cas or charge try and says what it did.
func (c *httpClient) change(ctx context.Context, o *httpOp, ep targets.Endpoint, a args) (effect, string) {
	status, body, sent, err := c.do(ctx, o, ep, a)
	if status == 0 {
		if !sent {
			return notApplied, "not sent: " + describeNet(err)
		}
		return unknown, describeNet(err)
	}
	switch o.status.Classify(status) {
	case OutcomeOK:
		return applied, ""
	case OutcomeFail:
		return notApplied, statusMsg(status, body)
	}
	return unknown, statusMsg(status, body)
}

// read sends a read and returns the value of its answer.
func (c *httpClient) read(ctx context.Context, o *httpOp, ep targets.Endpoint, a args) (any, error) {
	status, body, _, err := c.do(ctx, o, ep, a)
	if err != nil {
		return nil, errors.New(describeNet(err))
	}
	switch o.status.Classify(status) {
	case OutcomeAbsent:
		return nil, nil
	case OutcomeOK:
	default:
		return nil, errors.New(statusMsg(status, body))
	}
	doc, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	v, ok := o.value.Lookup(doc)
	if !ok || v == nil {
		return nil, nil
	}
	n, err := intOf(v)
	if err != nil {
		return nil, fmt.Errorf("value at %q: %w", o.value, err)
	}
	return n, nil
}

// ledger sends a ledger read and returns the rows of its answer.
func (c *httpClient) ledger(ctx context.Context, o *httpOp, ep targets.Endpoint, a args) ([]idempotency.Row, error) {
	status, body, _, err := c.do(ctx, o, ep, a)
	if err != nil {
		return nil, errors.New(describeNet(err))
	}
	if o.status.Classify(status) != OutcomeOK {
		return nil, errors.New(statusMsg(status, body))
	}
	doc, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	v, ok := o.rows.Lookup(doc)
	if !ok {
		return nil, fmt.Errorf("no rows at %q in the answer", o.rows)
	}
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("rows at %q: not an array", o.rows)
	}
	rows := make([]idempotency.Row, 0, len(list))
	for i, item := range list {
		id, ok := o.requestID.Lookup(item)
		if !ok || id == nil {
			return nil, fmt.Errorf("row %d: no request id at %q", i, o.requestID)
		}
		amt, ok := o.amount.Lookup(item)
		if !ok || amt == nil {
			return nil, fmt.Errorf("row %d: no amount at %q", i, o.amount)
		}
		var row idempotency.Row
		switch x := id.(type) {
		case string:
			row.RequestID = x
		case json.Number:
			row.RequestID = x.String()
		default:
			return nil, fmt.Errorf("row %d: request id %v is not a string", i, id)
		}
		if row.Amount, err = intOf(amt); err != nil {
			return nil, fmt.Errorf("row %d: amount: %w", i, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// decodeJSON decodes an answer's body, numbers kept exact.
func decodeJSON(body []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("answer is not JSON: %s", clip(string(body), 60))
	}
	if d.More() {
		return nil, fmt.Errorf("answer holds more than one JSON value: %s", clip(string(body), 60))
	}
	return doc, nil
}

// statusMsg says what a status answered, with the start of its body.
func statusMsg(status int, body []byte) string {
	msg := fmt.Sprintf("status %d", status)
	if b := clip(string(body), 100); b != "" {
		msg += ": " + b
	}
	return msg
}

// describeNet says in a few words what went wrong on the network:
// "timeout", or the error without the URL.
func describeNet(err error) string {
	if err == nil {
		return ""
	}
	if isTimeout(err) {
		return "timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return clip(err.Error(), 200)
}

// isTimeout says whether err is a deadline or a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
