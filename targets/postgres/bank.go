package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/bank"
)

// WorkloadBank is the bank workload (workloads/bank): transfers,
// withdrawals, deposits and reads of every balance.
const WorkloadBank = "bank"

// BankTable is the bank workload's table: one row per account, its id
// the account's name (bank.AccountName) and its balance.
const BankTable = "bank_accounts"

// bankWhat names the bank client's prepared state in errors.
const bankWhat = "make the accounts table"

// BankClient is a bank-workload client of postgres for one process: one
// connection to the primary pg node (session), made when needed and
// dropped after any error. The target's variant, which is about the
// idempotency workload's ledger, does not change what it does.
//
// Each operation is one transaction at the run's isolation level, tried
// once: a transfer, a withdrawal or a deposit reads the balances it needs with one
// SELECT each (no FOR UPDATE), decides in the client, and writes absolute
// balances back with UPDATE (a transfer in the order of the accounts'
// names, so that two transfers never deadlock), the way applications
// often do. Below
// repeatable read two concurrent transfers can lose an update; below
// serializable two withdrawals from one pair can both pass their check
// (write skew).
//
// The accounts are opened by reads: the number of accounts and their
// initial balance are known only from a read's bank.ReadRequest, so before
// its first read a client inserts every account of the request with the
// initial balance (INSERT … ON CONFLICT DO NOTHING: one statement in its
// own transaction, so all the accounts appear at once, and an account
// that exists is never written) and remembers that it did. A transfer or
// a withdrawal that finds an account missing is refused (fail) without
// writing anything. So every balance starts at the request's balance, and
// no operation takes effect before every account exists: the state the
// checkers assume from the start.
//
// Its operations run one at a time; Close releases its connection.
type BankClient struct {
	isolation pgx.TxIsoLevel
	cfg       targets.ClientConfig
	*session
	// opened is the request whose accounts this client has seen opened;
	// its zero value means none yet.
	opened bank.ReadRequest
}

var _ core.Client = (*BankClient)(nil)

// newBankClient returns a bank client of cfg's process reaching the pg
// nodes at addrs, its transactions at iso.
func newBankClient(cfg targets.ClientConfig, addrs []string, iso pgx.TxIsoLevel) *BankClient {
	return &BankClient{isolation: iso, cfg: cfg, session: newSession(addrs, cfg.Process, bankWhat, makeBankTable)}
}

// Close closes the client's connection. It is idempotent.
func (c *BankClient) Close() error {
	c.drop()
	return nil
}

// makeBankTable makes the accounts table under the advisory lock that
// the ledger's creation takes, in one transaction: clients starting
// together wait for each other instead of colliding in the catalog.
func makeBankTable(ctx context.Context, conn *pgx.Conn) error {
	return makeTables(ctx, conn, `CREATE TABLE IF NOT EXISTS `+BankTable+` (id text PRIMARY KEY, balance bigint NOT NULL)`)
}

// Invoke performs op, tried once:
//   - f "transfer" (value a bank.Transfer): ok when the transfer was
//     committed, fail when it was refused (its source holds less than the
//     amount, or an account is not open yet) or certainly not committed,
//     info when the connection was lost or timed out while its commit was
//     on its way;
//   - f "withdraw" (value a bank.Withdrawal): the same, refused when the
//     account and its pair together hold less than the amount;
//   - f "deposit" (value a bank.Deposit): the same, refused only when the
//     account is not open yet;
//   - f "read" (value a bank.ReadRequest): ok with every account's
//     balance (bank.Balances), read by one SELECT; fail when it could not
//     read (a read changes nothing).
//
// A transfer's or withdrawal's completion repeats its value; an error
// says what went wrong and where ("update: could not serialize access due
// to concurrent update (SQLSTATE 40001)"). Every request is bounded by
// ctx (ten seconds when it has no deadline).
func (c *BankClient) Invoke(ctx context.Context, op core.Op) core.Op {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultOpTimeout)
		defer cancel()
	}
	switch op.F {
	case bank.TransferF:
		t, ok := valueOf[bank.Transfer](op.Value)
		if !ok {
			return done(op, core.Fail, fmt.Sprintf("transfer value %T: want a bank.Transfer", op.Value))
		}
		if err := t.Validate(); err != nil {
			return done(op, core.Fail, err.Error())
		}
		op.Value = t
		typ, msg := c.write(ctx, func(tx pgx.Tx) (string, error) { return c.transfer(ctx, tx, t) })
		return done(op, typ, msg)
	case bank.WithdrawF:
		w, ok := valueOf[bank.Withdrawal](op.Value)
		if !ok {
			return done(op, core.Fail, fmt.Sprintf("withdraw value %T: want a bank.Withdrawal", op.Value))
		}
		if err := w.Validate(); err != nil {
			return done(op, core.Fail, err.Error())
		}
		op.Value = w
		typ, msg := c.write(ctx, func(tx pgx.Tx) (string, error) { return c.withdraw(ctx, tx, w) })
		return done(op, typ, msg)
	case bank.DepositF:
		d, ok := valueOf[bank.Deposit](op.Value)
		if !ok {
			return done(op, core.Fail, fmt.Sprintf("deposit value %T: want a bank.Deposit", op.Value))
		}
		if err := d.Validate(); err != nil {
			return done(op, core.Fail, err.Error())
		}
		op.Value = d
		typ, msg := c.write(ctx, func(tx pgx.Tx) (string, error) { return c.deposit(ctx, tx, d) })
		return done(op, typ, msg)
	case bank.ReadF:
		r, ok := valueOf[bank.ReadRequest](op.Value)
		if !ok {
			return done(op, core.Fail, fmt.Sprintf("read value %T: want a bank.ReadRequest", op.Value))
		}
		if err := r.Validate(); err != nil {
			return done(op, core.Fail, err.Error())
		}
		b, err := c.read(ctx, r)
		if err != nil {
			c.drop()
			op.Value = nil
			return done(op, core.Fail, explain(err))
		}
		op.Value = b
		return done(op, core.OK, "")
	}
	return done(op, core.Fail, fmt.Sprintf("unknown operation %q", op.F))
}

// valueOf returns v as a T, from a T or a non-nil *T.
func valueOf[T any](v any) (T, bool) {
	switch x := v.(type) {
	case T:
		return x, true
	case *T:
		if x != nil {
			return *x, true
		}
	}
	var zero T
	return zero, false
}

// stepError is an error of one step of an operation ("read", "update",
// "open", ...).
type stepError struct {
	step string
	err  error
}

func (e stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e stepError) Unwrap() error { return e.err }

// step wraps err, when not nil, as an error of step.
func step(name string, err error) error {
	if err == nil {
		return nil
	}
	return stepError{name, err}
}

// explain says in a few words what went wrong: the step and the server's
// error with its SQLSTATE, "timeout", or the error.
func explain(err error) string {
	var se stepError
	if errors.As(err, &se) {
		return se.step + ": " + describe(se.err)
	}
	d := describe(err)
	if strings.HasPrefix(err.Error(), bankWhat+":") && !strings.HasPrefix(d, bankWhat) {
		return bankWhat + ": " + d
	}
	return d
}

// write runs body in one transaction at the client's isolation level and
// commits it unless body refuses (a non-empty reason) or fails. It
// returns ok when the commit was acknowledged; fail with the reason when
// body refused; fail when anything went wrong before the commit was sent
// (the transaction ends without one) or the server answered the commit
// with an error (it rolled back); and info when the connection was lost
// or timed out while the commit was on its way. After any error the
// connection is dropped.
func (c *BankClient) write(ctx context.Context, body func(tx pgx.Tx) (string, error)) (core.Type, string) {
	conn, err := c.connect(ctx)
	if err != nil {
		return core.Fail, explain(err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: c.isolation})
	if err != nil {
		c.drop()
		return core.Fail, explain(step("begin", err))
	}
	refusal, err := body(tx)
	if err != nil || refusal != "" {
		rctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		rerr := tx.Rollback(rctx)
		cancel()
		if err != nil || rerr != nil {
			c.drop()
		}
		if err != nil {
			return core.Fail, explain(err)
		}
		return core.Fail, refusal
	}
	if err := tx.Commit(ctx); err != nil {
		out := commitOutcome(err)
		c.drop()
		if out == notApplied {
			return core.Fail, explain(step("commit", err))
		}
		return core.Info, explain(step("commit", err))
	}
	return core.OK, ""
}

// balance reads account's balance in tx with one SELECT; open is false
// when the account does not exist.
func balance(ctx context.Context, tx pgx.Tx, account string) (b int64, open bool, err error) {
	err = tx.QueryRow(ctx, `SELECT balance FROM `+BankTable+` WHERE id = $1`, account).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return b, err == nil, step("read", err)
}

// balances reads each account's balance in tx, one SELECT each, in order.
// The reason is non-empty when an account is not open.
func balances(ctx context.Context, tx pgx.Tx, accounts ...string) ([]int64, string, error) {
	out := make([]int64, len(accounts))
	for i, a := range accounts {
		b, open, err := balance(ctx, tx, a)
		if err != nil {
			return nil, "", err
		}
		if !open {
			return nil, fmt.Sprintf("refused: account %s is not open (no read has opened the accounts)", a), nil
		}
		out[i] = b
	}
	return out, "", nil
}

// setBalance writes account's absolute balance in tx.
func setBalance(ctx context.Context, tx pgx.Tx, account string, b int64) error {
	tag, err := tx.Exec(ctx, `UPDATE `+BankTable+` SET balance = $2 WHERE id = $1`, account, b)
	if err != nil {
		return step("update", err)
	}
	if tag.RowsAffected() != 1 {
		return step("update", fmt.Errorf("account %s: %d rows updated, want 1", account, tag.RowsAffected()))
	}
	return nil
}

// transfer reads both balances, refuses when the source holds less than
// the amount, and writes both new balances back, in the order of the
// accounts' names.
func (c *BankClient) transfer(ctx context.Context, tx pgx.Tx, t bank.Transfer) (string, error) {
	bs, refusal, err := balances(ctx, tx, t.From, t.To)
	if err != nil || refusal != "" {
		return refusal, err
	}
	from, to := bs[0], bs[1]
	if from < t.Amount {
		return fmt.Sprintf("refused: %s holds %d, less than %d", t.From, from, t.Amount), nil
	}
	if to > math.MaxInt64-t.Amount {
		return fmt.Sprintf("refused: %s holds %d, too much to take %d more", t.To, to, t.Amount), nil
	}
	c.cfg.Stalled(ctx)
	// Rows are written in the order of their names, so that transfers
	// in opposite directions wait for each other instead of deadlocking.
	writes := [2]struct {
		account string
		balance int64
	}{{t.From, from - t.Amount}, {t.To, to + t.Amount}}
	if t.To < t.From {
		writes[0], writes[1] = writes[1], writes[0]
	}
	for _, w := range writes {
		if err := setBalance(ctx, tx, w.account, w.balance); err != nil {
			return "", err
		}
	}
	return "", nil
}

// withdraw reads the account and its pair, refuses when together they
// hold less than the amount, and writes the account's new balance back.
func (c *BankClient) withdraw(ctx context.Context, tx pgx.Tx, w bank.Withdrawal) (string, error) {
	bs, refusal, err := balances(ctx, tx, w.Account, w.Pair)
	if err != nil || refusal != "" {
		return refusal, err
	}
	own, pair := bs[0], bs[1]
	if sum, ok := add(own, pair); !ok || sum < w.Amount {
		return fmt.Sprintf("refused: %s and %s hold %d and %d, less than %d together", w.Account, w.Pair, own, pair, w.Amount), nil
	}
	if own < math.MinInt64+w.Amount {
		return fmt.Sprintf("refused: %s holds %d, too little to take %d more", w.Account, own, w.Amount), nil
	}
	c.cfg.Stalled(ctx)
	return "", setBalance(ctx, tx, w.Account, own-w.Amount)
}

// deposit reads the account's balance and writes it back with the amount
// added.
func (c *BankClient) deposit(ctx context.Context, tx pgx.Tx, d bank.Deposit) (string, error) {
	bs, refusal, err := balances(ctx, tx, d.Account)
	if err != nil || refusal != "" {
		return refusal, err
	}
	next, ok := add(bs[0], d.Amount)
	if !ok {
		return fmt.Sprintf("refused: %s holds %d, too much to take %d more", d.Account, bs[0], d.Amount), nil
	}
	c.cfg.Stalled(ctx)
	return "", setBalance(ctx, tx, d.Account, next)
}

// add returns a+b, and false when the sum does not fit an int64.
func add(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0)
}

// read opens r's accounts when this client has not seen them opened, then
// reads every account with one SELECT in a read-only transaction at the
// client's isolation level: one statement sees one snapshot, so even at
// read committed the balances are of one moment.
func (c *BankClient) read(ctx context.Context, r bank.ReadRequest) (bank.Balances, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	if c.opened != r {
		if err := open(ctx, conn, r); err != nil {
			return nil, err
		}
		c.opened = r
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: c.isolation, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, step("begin", err)
	}
	// More rows than a request may name would be wrong; one more than
	// that shows it without reading an unbounded table.
	rows, err := tx.Query(ctx, `SELECT id, balance FROM `+BankTable+` LIMIT $1`, bank.MaxAccounts+1)
	if err != nil {
		return nil, step("read", err)
	}
	b := bank.Balances{}
	var id string
	var v int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &v}, func() error {
		b[id] = v
		return nil
	}); err != nil {
		return nil, step("read", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, step("commit", err)
	}
	return b, nil
}

// open inserts r's accounts with r's balance, those that do not exist, in
// one statement of its own read-committed transaction (it waits for a
// concurrent opening instead of failing).
func open(ctx context.Context, conn *pgx.Conn, r bank.ReadRequest) error {
	names := make([]string, r.Accounts)
	for i := range names {
		names[i] = bank.AccountName(i)
	}
	err := pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO `+BankTable+` (id, balance) SELECT unnest($1::text[]), $2::bigint ON CONFLICT (id) DO NOTHING`, names, r.Balance)
		return err
	})
	return step("open", err)
}
