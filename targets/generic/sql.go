package generic

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/idempotency"
)

// SQL describes a client of PostgreSQL's protocol: one statement per
// operation kind, each run on its own (autocommit), with $1, $2, ...
// parameters named in Params. Read, Write and CAS serve the register
// workload; Charge and Ledger the idempotency workload.
type SQL struct {
	// DSN is a template of the connection string as a URL, such as
	// "postgres://app:secret@{host}:5432/app?sslmode=disable".
	DSN string `yaml:"dsn"`
	// Setup are statements run once, before the first operation, on the
	// node writes (or charges) go to: CREATE TABLE IF NOT EXISTS, say.
	// Until they succeed every operation fails without being sent.
	Setup []string `yaml:"setup"`
	// InfoSQLStates are further SQLSTATE codes ("40001") or classes
	// ("40") whose error leaves a change's outcome unknown; see
	// DefaultInfoSQLStates.
	InfoSQLStates []string `yaml:"info_sqlstates"`
	// Read returns the key's value in the first column of at most one row
	// (no row, or NULL: the key is absent).
	Read *SQLStatement `yaml:"read"`
	// Write sets the key; CAS sets it to new where it holds old, and must
	// then change exactly one row.
	Write *SQLStatement `yaml:"write"`
	CAS   *SQLStatement `yaml:"cas"`
	// Charge inserts the charge of a request, once per request id.
	Charge *SQLStatement `yaml:"charge"`
	// Ledger returns an account's ledger in order: the request id and the
	// amount of each row, in its first two columns.
	Ledger *SQLStatement `yaml:"ledger"`
}

// SQLStatement is the statement of one operation kind.
type SQLStatement struct {
	// Node is the service the operation goes to, or "any" (the default).
	Node string `yaml:"node"`
	// Statement is the SQL, with parameters $1, $2, ...
	Statement string `yaml:"statement"`
	// Params names the value of each parameter in order: key for read
	// and ledger; key, value for write; key, old, new for cas; key,
	// request_id, amount for charge (each at most once, in any order).
	// key and request_id are text, the others bigint.
	Params []string `yaml:"params"`
}

// DefaultInfoSQLStates are the SQLSTATE classes and codes whose error
// leaves a change's outcome unknown whatever the file says: 08 (connection
// exception), 40003 (statement completion unknown) and XX (internal
// error). Every other error the server answers with severity ERROR means
// the statement was rolled back (fail); FATAL and PANIC, a timeout or a
// connection lost after the statement was sent leave it unknown (info).
var DefaultInfoSQLStates = []string{"08", "40003", "XX"}

// sqlStateRe is a SQLSTATE code or class.
var sqlStateRe = regexp.MustCompile(`^[0-9A-Z]{2}([0-9A-Z]{3})?$`)

// sqlOp is one operation kind's statement, checked.
type sqlOp struct {
	name   string
	node   string
	stmt   string
	params []string
}

// sqlPlan is a SQL client section, checked and parsed. Its setup state is
// shared by every client of the target.
type sqlPlan struct {
	dsn       Template
	ops       map[string]*sqlOp
	info      []string
	workloads []string
	setup     []string
	setupNode string
	// setupSem holds the right to run the setup; setupDone says it
	// succeeded. Both are guarded by holding setupSem.
	setupSem  chan struct{}
	setupDone bool
}

// planSQL checks s.
func planSQL(s SQL, checkNode func(field, node string) error) (*sqlPlan, error) {
	p := &sqlPlan{ops: map[string]*sqlOp{}, setupSem: make(chan struct{}, 1), info: slices.Clone(DefaultInfoSQLStates)}
	if s.DSN == "" {
		return nil, fieldErr("sql", "dsn is required, such as postgres://app:secret@{host}:5432/app?sslmode=disable")
	}
	var err error
	if p.dsn, err = ParseTemplate(s.DSN, Placeholders(""), false); err != nil {
		return nil, fieldErr("sql.dsn", "%v", err)
	}
	if _, err := pgx.ParseConfig(p.dsn.Expand(sample(""))); err != nil {
		return nil, fieldErr("sql.dsn", "not a connection string once filled in: %v", errors.Unwrap(err))
	}
	for i, st := range s.Setup {
		if strings.TrimSpace(st) == "" {
			return nil, fieldErr(fmt.Sprintf("sql.setup[%d]", i), "an empty statement")
		}
	}
	p.setup = slices.Clone(s.Setup)
	for i, code := range s.InfoSQLStates {
		if !sqlStateRe.MatchString(code) {
			return nil, fieldErr(fmt.Sprintf("sql.info_sqlstates[%d]", i), "%q is not a SQLSTATE code (5 characters, as 40001) or class (2, as 40)", code)
		}
		p.info = append(p.info, code)
	}
	set := map[string]bool{}
	for _, sec := range []struct {
		name string
		st   *SQLStatement
	}{{OpRead, s.Read}, {OpWrite, s.Write}, {OpCAS, s.CAS}, {OpCharge, s.Charge}, {OpLedger, s.Ledger}} {
		if sec.st == nil {
			continue
		}
		o, err := planStatement("sql."+sec.name, sec.name, *sec.st, checkNode)
		if err != nil {
			return nil, err
		}
		p.ops[sec.name], set[sec.name] = o, true
	}
	if p.workloads, err = opsFor("sql", set); err != nil {
		return nil, err
	}
	if o, ok := p.ops[OpWrite]; ok {
		p.setupNode = o.node
	} else {
		p.setupNode = p.ops[OpCharge].node
	}
	return p, nil
}

// planStatement checks one operation's statement at field.
func planStatement(field, op string, s SQLStatement, checkNode func(field, node string) error) (*sqlOp, error) {
	if err := checkNode(field+".node", s.Node); err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.Statement) == "" {
		return nil, fieldErr(field, "statement is required")
	}
	names := slices.DeleteFunc(Placeholders(op), func(n string) bool { return n == PNode || n == PHost })
	seen := map[string]bool{}
	for i, name := range s.Params {
		f := fmt.Sprintf("%s.params[%d]", field, i)
		switch {
		case !slices.Contains(names, name):
			return nil, fieldErr(f, "%q: %s has the parameters %s", name, op, strings.Join(names, ", "))
		case seen[name]:
			return nil, fieldErr(f, "%q is named twice", name)
		}
		seen[name] = true
	}
	refs := paramRefs(s.Statement)
	for n := 1; n <= len(s.Params); n++ {
		if !refs[n] {
			return nil, fieldErr(field+".statement", "does not use $%d (params names %d parameters)", n, len(s.Params))
		}
	}
	for n := range refs {
		if n > len(s.Params) || n < 1 {
			return nil, fieldErr(field+".statement", "uses $%d but params names %d parameters", n, len(s.Params))
		}
	}
	if !seen[PKey] {
		return nil, fieldErr(field, "params must name key: every %s is about one key", op)
	}
	return &sqlOp{name: op, node: s.Node, stmt: s.Statement, params: slices.Clone(s.Params)}, nil
}

// paramRefs returns the numbers of the parameters ($n) stmt uses outside
// quoted strings and identifiers.
func paramRefs(stmt string) map[int]bool {
	refs := map[int]bool{}
	var quote byte
	for i := 0; i < len(stmt); i++ {
		c := stmt[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '$':
			j := i + 1
			for j < len(stmt) && stmt[j] >= '0' && stmt[j] <= '9' {
				j++
			}
			if j > i+1 {
				n, _ := strconv.Atoi(stmt[i+1 : j])
				refs[n] = true
				i = j - 1
			}
		}
	}
	return refs
}

// sqlClient is one process's SQL client: for each operation kind the node
// it goes to, and one connection per node, made when needed and dropped
// after an error that may have broken it.
type sqlClient struct {
	plan    *sqlPlan
	ns      string
	eps     map[string]targets.Endpoint
	setupEp targets.Endpoint
	conns   map[string]*pgx.Conn
}

func (p *sqlPlan) newClient(cfg targets.ClientConfig) (core.Client, error) {
	c := &sqlClient{plan: p, ns: Namespace(cfg.Run), eps: map[string]targets.Endpoint{}, conns: map[string]*pgx.Conn{}}
	for name, o := range p.ops {
		ep, err := pick(cfg, o.node)
		if err != nil {
			return nil, fmt.Errorf("sql.%s: %w", name, err)
		}
		c.eps[name] = ep
	}
	ep, err := pick(cfg, p.setupNode)
	if err != nil {
		return nil, fmt.Errorf("sql.setup: %w", err)
	}
	c.setupEp = ep
	return c, nil
}

// closeTimeout bounds the goodbye to a connection the client drops.
const closeTimeout = 100 * time.Millisecond

// Close closes the client's connections.
func (c *sqlClient) Close() error {
	for name := range c.conns {
		c.drop(name)
	}
	return nil
}

// drop closes the connection to node name.
func (c *sqlClient) drop(name string) {
	if conn, ok := c.conns[name]; ok {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		conn.Close(ctx)
		cancel()
		delete(c.conns, name)
	}
}

// connect returns the connection to ep, made when needed.
func (c *sqlClient) connect(ctx context.Context, ep targets.Endpoint) (*pgx.Conn, error) {
	if conn, ok := c.conns[ep.Name]; ok && !conn.IsClosed() {
		return conn, nil
	}
	cfg, err := pgx.ParseConfig(c.plan.dsn.Expand(map[string]string{PNode: ep.Name, PHost: hostOf(ep.Addr)}))
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c.conns[ep.Name] = conn
	return conn, nil
}

// ensureSetup runs the setup statements once for the target, waiting for
// another client that runs them; it returns their error.
func (c *sqlClient) ensureSetup(ctx context.Context) error {
	p := c.plan
	if len(p.setup) == 0 {
		return nil
	}
	select {
	case p.setupSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.setupSem }()
	if p.setupDone {
		return nil
	}
	conn, err := c.connect(ctx, c.setupEp)
	if err != nil {
		return err
	}
	for i, st := range p.setup {
		if _, err := conn.Exec(ctx, st); err != nil {
			c.drop(c.setupEp.Name)
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	p.setupDone = true
	return nil
}

// Invoke performs op with its kind's statement on its kind's node. A
// write, cas or charge completes ok when the server acknowledged the
// statement (a cas: when it changed exactly one row), fail when it
// certainly had no effect (no connection could be made, the setup failed,
// the server answered with an error that rolled it back, a cas changed no
// row), info otherwise (a SQLSTATE of InfoSQLStates, FATAL, a timeout, a
// connection lost after sending, a cas that changed several rows). A
// read completes ok with the value (nil for no row or NULL) or fails, as
// does a ledger read.
func (c *sqlClient) Invoke(ctx context.Context, op core.Op) core.Op {
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
	if op.F == OpRead && op.Value != nil {
		return done(op, core.Fail, fmt.Sprintf("read value %v (%T): want nil", op.Value, op.Value))
	}
	if op.F == OpLedger {
		if err := checkLedgerValue(op.Value); err != nil {
			return done(op, core.Fail, err.Error())
		}
	}
	if err := c.ensureSetup(ctx); err != nil {
		if op.F == OpRead || op.F == OpLedger || op.F == OpCharge {
			op.Value = nil
		}
		return done(op, core.Fail, "not sent: setup: "+describeSQL(err))
	}
	switch op.F {
	case OpRead:
		v, err := c.read(ctx, o, ep, a)
		op.Value = v
		if err != nil {
			op.Value = nil
			return done(op, core.Fail, describeSQL(err))
		}
		return done(op, core.OK, "")
	case OpLedger:
		rows, err := c.ledger(ctx, o, ep, a)
		if err != nil {
			op.Value = nil
			return done(op, core.Fail, describeSQL(err))
		}
		return ledgerPage(op, c.ns, rows)
	case OpCharge:
		return charge(ctx, op, a, func(ctx context.Context, a args) (effect, string) {
			e, err := c.change(ctx, o, ep, a)
			return e, describeSQL(err)
		})
	}
	e, err := c.change(ctx, o, ep, a)
	return done(op, typeOf(e), describeSQL(err))
}

// errNoRowChanged says a cas changed no row.
var errNoRowChanged = errors.New("cas: no row holds the old value")

// change runs a write, cas or charge statement and says what it did.
func (c *sqlClient) change(ctx context.Context, o *sqlOp, ep targets.Endpoint, a args) (effect, error) {
	conn, err := c.connect(ctx, ep)
	if err != nil {
		return notApplied, fmt.Errorf("not sent: %w", err)
	}
	tag, err := conn.Exec(ctx, o.stmt, c.params(o, a)...)
	if err != nil {
		e := c.plan.outcome(err)
		if e != notApplied || !isServerError(err) {
			c.drop(ep.Name)
		}
		return e, err
	}
	if o.name == OpCAS {
		switch n := tag.RowsAffected(); {
		case n == 0:
			return notApplied, errNoRowChanged
		case n > 1:
			return unknown, fmt.Errorf("cas changed %d rows, not one", n)
		}
	}
	return applied, nil
}

// params returns the statement's arguments in order.
func (c *sqlClient) params(o *sqlOp, a args) []any {
	out := make([]any, len(o.params))
	for i, name := range o.params {
		out[i] = a.param(name)
	}
	return out
}

// read runs the read statement and returns the value it found.
func (c *sqlClient) read(ctx context.Context, o *sqlOp, ep targets.Endpoint, a args) (any, error) {
	conn, err := c.connect(ctx, ep)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, o.stmt, c.params(o, a)...)
	if err != nil {
		c.drop(ep.Name)
		return nil, err
	}
	var vals []any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			rows.Close()
			return nil, err
		}
		if len(v) == 0 {
			rows.Close()
			return nil, errors.New("the read returned no column")
		}
		vals = append(vals, v[0])
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		if !isServerError(err) {
			c.drop(ep.Name)
		}
		return nil, err
	}
	switch {
	case len(vals) > 1:
		return nil, fmt.Errorf("the read returned %d rows, not one", len(vals))
	case len(vals) == 0 || vals[0] == nil:
		return nil, nil
	}
	n, err := intOf(vals[0])
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	return n, nil
}

// ledger runs the ledger statement and returns its rows.
func (c *sqlClient) ledger(ctx context.Context, o *sqlOp, ep targets.Endpoint, a args) ([]idempotency.Row, error) {
	conn, err := c.connect(ctx, ep)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, o.stmt, c.params(o, a)...)
	if err != nil {
		c.drop(ep.Name)
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (idempotency.Row, error) {
		v, err := r.Values()
		if err != nil {
			return idempotency.Row{}, err
		}
		if len(v) < 2 {
			return idempotency.Row{}, fmt.Errorf("a ledger row needs the request id and the amount, got %d columns", len(v))
		}
		var row idempotency.Row
		switch id := v[0].(type) {
		case string:
			row.RequestID = id
		default:
			return row, fmt.Errorf("request id %v (%T) is not text", v[0], v[0])
		}
		if row.Amount, err = intOf(v[1]); err != nil {
			return row, fmt.Errorf("amount: %w", err)
		}
		return row, nil
	})
	if err != nil && !isServerError(err) {
		c.drop(ep.Name)
	}
	return out, err
}

// isServerError says whether err is the server's answer with severity
// ERROR (the connection stays usable).
func isServerError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && severity(pe) == "ERROR"
}

func severity(pe *pgconn.PgError) string {
	if pe.SeverityUnlocalized != "" {
		return pe.SeverityUnlocalized
	}
	return pe.Severity
}

// outcome classifies the error of a change statement sent to the server.
func (p *sqlPlan) outcome(err error) effect {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || severity(pe) != "ERROR" {
		return unknown
	}
	for _, code := range p.info {
		if strings.HasPrefix(pe.Code, code) {
			return unknown
		}
	}
	return notApplied
}

// describeSQL says in a few words what went wrong: the server's message
// and SQLSTATE, "timeout", or the error.
func describeSQL(err error) string {
	if err == nil {
		return ""
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return clip(fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code), 200)
	}
	if isTimeout(err) || pgconn.Timeout(err) {
		return "timeout"
	}
	return clip(err.Error(), 200)
}
