package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/idempotency"
)

// defaultOpTimeout bounds an operation whose context has no deadline.
const defaultOpTimeout = 10 * time.Second

// connectTimeout bounds one connection attempt (the operation's context
// may bound it further).
const connectTimeout = 2 * time.Second

// ProviderCall is how long a charge's call to the payment provider takes:
// the time the application spends between its first statement (the
// check, or the insert under the constraint) and the rest of its
// transaction. Both variants spend it at the same point, so that a
// second delivery of a request arriving while the first is under way
// meets it there, as it does in a service that charges a card.
const ProviderCall = 5 * time.Millisecond

// closeTimeout bounds the goodbye to a connection the client drops.
const closeTimeout = 100 * time.Millisecond

// schemaLock is the advisory lock key clients take around creating the
// ledger, so that two clients making it at once do not collide in the
// catalog.
const schemaLock = 7_310_042

// Ledger tables, one per variant, so that the schema always matches the
// variant in use.
const (
	// TableChecked is check-then-insert's ledger: seq is the primary
	// key, request_id has an index but no constraint.
	TableChecked = "ledger_checked"
	// TableUnique is unique-constraint's ledger: request_id is the
	// primary key.
	TableUnique = "ledger_unique"
)

// schema returns the statements that make variant's ledger, each safe to
// run again.
func schema(variant string) []string {
	if variant == VariantUniqueConstraint {
		return []string{
			`CREATE TABLE IF NOT EXISTS ` + TableUnique + ` (request_id text PRIMARY KEY, account text NOT NULL, amount bigint NOT NULL, seq bigserial NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS ` + TableUnique + `_account ON ` + TableUnique + ` (account, seq)`,
		}
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + TableChecked + ` (seq bigserial PRIMARY KEY, request_id text NOT NULL, account text NOT NULL, amount bigint NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + TableChecked + `_request ON ` + TableChecked + ` (request_id)`,
		`CREATE INDEX IF NOT EXISTS ` + TableChecked + `_account ON ` + TableChecked + ` (account, seq)`,
	}
}

// table returns variant's ledger table.
func table(variant string) string {
	if variant == VariantUniqueConstraint {
		return TableUnique
	}
	return TableChecked
}

// Client is an idempotency-workload client of postgres for one process:
// one connection to the primary pg node (session), made when needed and
// dropped after any error. Its operations run one at a time; Close
// releases its connection.
type Client struct {
	variant   string
	table     string
	isolation pgx.TxIsoLevel
	*session
}

var _ core.Client = (*Client)(nil)

// NewClient returns a client of cfg.Workload reaching the pg nodes at
// their endpoints in cfg: the idempotency workload's charges and ledger
// reads (a *Client), the bank workload's transfers, withdrawals and
// reads (a *BankClient), or the register workload's reads, writes and cas
// (a *RegisterClient); bank and register clients are the same whatever
// the variant. Any other workload is bad input. The caller closes it.
func (Target) NewClient(cfg targets.ClientConfig) (core.Client, error) {
	variant, err := checkVariant(cfg.Variant)
	if err != nil {
		return nil, err
	}
	iso, err := isoLevel(cfg.Isolation)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, e := range cfg.ByRole(RolePG) {
		addrs = append(addrs, e.Addr)
	}
	if len(addrs) == 0 {
		return nil, errors.New("postgres client: no pg node")
	}
	switch cfg.Workload {
	case WorkloadIdempotency:
		c := &Client{variant: variant, table: table(variant), isolation: iso}
		c.session = newSession(addrs, cfg.Process, "make the ledger", c.makeSchema)
		return c, nil
	case WorkloadRegister:
		return newRegisterClient(addrs, cfg.Process, iso), nil
	case WorkloadBank:
		return newBankClient(cfg, addrs, iso), nil
	}
	return nil, core.BadInput("postgres has no client for workload %q (it has: %s)", cfg.Workload, strings.Join(Target{}.Workloads(), ", "))
}

// Close closes the client's connection. It is idempotent.
func (c *Client) Close() error {
	c.drop()
	return nil
}

// makeSchema makes the variant's ledger under an advisory lock, in one
// transaction: clients starting together wait for each other instead of
// colliding in the catalog.
func (c *Client) makeSchema(ctx context.Context, conn *pgx.Conn) error {
	return makeTables(ctx, conn, schema(c.variant)...)
}

// Invoke performs op: a charge (f "charge", key the account, value an
// idempotency.ChargeRequest), completed with an idempotency.ChargeResult,
// or a final read of an account's ledger (f "ledger", value nil or an
// idempotency.LedgerRead), completed with an idempotency.LedgerState.
// Every request is bounded by ctx (ten seconds when it has no deadline).
func (c *Client) Invoke(ctx context.Context, op core.Op) core.Op {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultOpTimeout)
		defer cancel()
	}
	switch op.F {
	case idempotency.Charge:
		return c.charge(ctx, op)
	case idempotency.Ledger:
		return c.ledger(ctx, op)
	}
	return done(op, core.Fail, fmt.Sprintf("unknown operation %q", op.F))
}

// outcome is what one try of a charge did to the ledger, as far as the
// client can tell: the idempotency workload's Effect.
type outcome = idempotency.Effect

const (
	// notApplied: the try cannot have changed the ledger (nothing was
	// sent, or its transaction ended without a commit, or the server
	// answered the commit with an error and rolled back).
	notApplied = idempotency.NotApplied
	// applied: the server acknowledged the try (the request is in the
	// ledger).
	applied = idempotency.Applied
	// unknown: the connection was lost or timed out while the commit was
	// on its way: the try may or may not have been applied.
	unknown = idempotency.Unknown
)

// charge checks the request and performs it as the idempotency workload
// defines it (idempotency.Perform), each try one transaction (try).
func (c *Client) charge(ctx context.Context, op core.Op) core.Op {
	req, ok := op.Value.(idempotency.ChargeRequest)
	if !ok {
		if p, isPtr := op.Value.(*idempotency.ChargeRequest); isPtr && p != nil {
			req, ok = *p, true
		}
	}
	if !ok {
		return done(op, core.Fail, fmt.Sprintf("charge value %T: want an idempotency.ChargeRequest", op.Value))
	}
	if err := req.Validate(); err != nil {
		return done(op, core.Fail, err.Error())
	}
	if op.Key == "" {
		return done(op, core.Fail, "no account")
	}
	return idempotency.Perform(ctx, op, req, func(ctx context.Context) (outcome, string) {
		out, err := c.try(ctx, op.Key, req)
		return out, describe(err)
	})
}

// try sends the request once, in one transaction at the run's isolation
// level (read committed by default), with the provider's call
// (ProviderCall) after its first statement, and says what it did to the
// ledger. After any error the connection is dropped.
func (c *Client) try(ctx context.Context, account string, req idempotency.ChargeRequest) (outcome, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return notApplied, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: c.isolation})
	if err != nil {
		c.drop()
		return notApplied, fmt.Errorf("begin: %w", err)
	}
	// Until the commit is sent, the transaction cannot take effect: an
	// error or a lost connection ends it without one.
	abort := func(what string, err error) (outcome, error) {
		rctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		tx.Rollback(rctx)
		cancel()
		c.drop()
		return notApplied, fmt.Errorf("%s: %w", what, err)
	}
	switch c.variant {
	case VariantUniqueConstraint:
		_, err = tx.Exec(ctx, `INSERT INTO `+c.table+` (request_id, account, amount) VALUES ($1, $2, $3) ON CONFLICT (request_id) DO NOTHING`,
			req.RequestID, account, req.Amount)
		if err != nil {
			return abort("insert", err)
		}
		if err := callProvider(ctx); err != nil {
			return abort("provider", err)
		}
	default:
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM `+c.table+` WHERE request_id = $1 LIMIT 1`, req.RequestID).Scan(&one)
		switch {
		case err == nil:
			// Already charged by an earlier try or delivery: nothing to
			// write, and the request is in the ledger.
			rctx, cancel := context.WithTimeout(ctx, closeTimeout)
			if rerr := tx.Rollback(rctx); rerr != nil {
				c.drop()
			}
			cancel()
			return applied, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return abort("check", err)
		}
		if err := callProvider(ctx); err != nil {
			return abort("provider", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+c.table+` (request_id, account, amount) VALUES ($1, $2, $3)`,
			req.RequestID, account, req.Amount); err != nil {
			return abort("insert", err)
		}
	}
	err = tx.Commit(ctx)
	if err == nil {
		return applied, nil
	}
	out := commitOutcome(err)
	c.drop()
	return out, fmt.Errorf("commit: %w", err)
}

// callProvider stands for the charge's call to the payment provider: it
// takes ProviderCall, or until ctx ends (then it returns ctx's error).
func callProvider(ctx context.Context) error {
	t := time.NewTimer(ProviderCall)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitOutcome classifies an error of a commit: the server's answer
// ERROR (after which it rolled the transaction back) or a commit answered
// ROLLBACK means not applied; anything else (a timeout, a lost connection,
// a FATAL error that may come after the commit record was written) leaves
// the outcome unknown. pgconn.SafeToRetry is no guide here: pgx reports a
// connection lost while it waited for the commit's answer as "conn
// closed", which it calls safe to retry.
func commitOutcome(err error) outcome {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return applied
	case errors.Is(err, pgx.ErrTxCommitRollback):
		return notApplied
	case errors.As(err, &pgErr) && pgErr.Severity == "ERROR":
		return notApplied
	}
	return unknown
}

// describe says in a few words what went wrong with a try: "timeout" when
// it ran out of time, the server's error with its SQLSTATE, or the error.
func describe(err error) string {
	if err == nil {
		return ""
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		msg := fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
		if s := stage(err); s != "" {
			msg = s + ": " + msg
		}
		return msg
	}
	if isTimeout(err) {
		if s := stage(err); s != "" {
			return s + ": timeout"
		}
		return "timeout"
	}
	return err.Error()
}

// stages are the steps a try's or a read's error may start with.
var stages = []string{"connect", "make the ledger", "begin", "check", "insert", "provider", "commit", "count", "read"}

// stage returns the step an error of try names ("commit", "insert", ...),
// or "" when it names none.
func stage(err error) string {
	s, _, ok := strings.Cut(err.Error(), ":")
	if ok && slices.Contains(stages, s) {
		return s
	}
	return ""
}

// isTimeout says whether err is a context deadline or a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || errors.As(err, &ne) && ne.Timeout()
}

// ledger reads op.Key's ledger, or one page of it, in one read-only
// repeatable-read transaction (the page and the ledger's length agree).
// A read that fails for any reason completes fail: it changed nothing.
func (c *Client) ledger(ctx context.Context, op core.Op) core.Op {
	var page *idempotency.LedgerRead
	switch v := op.Value.(type) {
	case nil:
	case idempotency.LedgerRead:
		page = &v
	case *idempotency.LedgerRead:
		page = v
	default:
		return done(op, core.Fail, fmt.Sprintf("ledger value %T: want nil or an idempotency.LedgerRead", op.Value))
	}
	if page != nil && (page.From < 0 || page.Count < 1) {
		return done(op, core.Fail, fmt.Sprintf("ledger page from %d of %d rows", page.From, page.Count))
	}
	st, err := c.readLedger(ctx, op.Key, page)
	if err != nil {
		c.drop()
		op.Value = nil
		return done(op, core.Fail, describe(err))
	}
	op.Value = st
	return done(op, core.OK, "")
}

func (c *Client) readLedger(ctx context.Context, account string, page *idempotency.LedgerRead) (idempotency.LedgerState, error) {
	st := idempotency.LedgerState{Rows: []idempotency.Row{}}
	conn, err := c.connect(ctx)
	if err != nil {
		return st, err
	}
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		q := `SELECT request_id, amount FROM ` + c.table + ` WHERE account = $1 ORDER BY seq`
		args := []any{account}
		if page != nil {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+c.table+` WHERE account = $1`, account).Scan(&st.Total); err != nil {
				return fmt.Errorf("count: %w", err)
			}
			q += ` OFFSET $2 LIMIT $3`
			args = append(args, page.From, page.Count)
			st.From = page.From
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		st.Rows, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (idempotency.Row, error) {
			var row idempotency.Row
			err := r.Scan(&row.RequestID, &row.Amount)
			return row, err
		})
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		return nil
	})
	if st.Rows == nil {
		st.Rows = []idempotency.Row{}
	}
	if page != nil && len(st.Rows) == 0 && st.Total == 0 {
		// An empty ledger: a whole, empty one.
		st.From = 0
	}
	return st, err
}

func done(op core.Op, t core.Type, msg string) core.Op {
	op.Type = t
	op.Error = msg
	return op
}
