package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/register"
)

// WorkloadRegister is the --workload name of the register workload
// (workloads/register): reads, writes and compare-and-set on independent
// integer registers, one row of TableRegisters per key.
const WorkloadRegister = "register"

// TableRegisters is the register workload's table: key text PRIMARY KEY,
// value bigint NOT NULL; a key without a row is a register never written.
const TableRegisters = "registers"

// registersSchema makes TableRegisters; it is safe to run again.
const registersSchema = `CREATE TABLE IF NOT EXISTS ` + TableRegisters + ` (key text PRIMARY KEY, value bigint NOT NULL)`

// stepRegisters names the session's prepare step in errors.
const stepRegisters = "make the registers table"

// RegisterClient is a register-workload client of postgres for one
// process: one connection to the primary pg node (session), made when
// needed and dropped after any error. Every operation is one transaction
// at the run's isolation level. Its operations run one at a time; Close
// releases its connection.
type RegisterClient struct {
	isolation pgx.TxIsoLevel
	*session
}

var _ core.Client = (*RegisterClient)(nil)

// newRegisterClient returns the register client of process over the pg
// nodes at addrs, running its transactions at iso.
func newRegisterClient(addrs []string, process int, iso pgx.TxIsoLevel) *RegisterClient {
	return &RegisterClient{isolation: iso, session: newSession(addrs, process, stepRegisters, makeRegisters)}
}

// Close closes the client's connection. It is idempotent.
func (c *RegisterClient) Close() error {
	c.drop()
	return nil
}

// makeRegisters makes TableRegisters under the schema advisory lock, in
// one transaction: clients starting together wait for each other instead
// of colliding in the catalog.
func makeRegisters(ctx context.Context, conn *pgx.Conn) error {
	return makeTables(ctx, conn, registersSchema)
}

// Invoke performs a register operation on op.Key: "read" (value nil),
// completed ok with nil (no row) or the int64 read; "write" (an int64),
// an upsert of the key's row; or "cas" (a [2]int64{old, new}), which sets
// new where the row holds old. A write or cas completes ok when its
// commit was acknowledged; fail when it certainly did not take effect (a
// cas whose row did not hold old, a connection that could not be made, a
// server error or a lost connection before the commit was sent, a commit
// the server refused); info when the connection was lost or timed out
// while the commit was on its way. A read that goes wrong in any way
// completes fail with a nil value: it changed nothing. A bad value, an
// empty key or an unknown operation fails at once, before anything is
// sent. Every request is bounded by ctx (ten seconds when it has no
// deadline).
func (c *RegisterClient) Invoke(ctx context.Context, op core.Op) core.Op {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultOpTimeout)
		defer cancel()
	}
	if op.Key == "" {
		return done(op, core.Fail, "no key")
	}
	switch op.F {
	case register.Read:
		if op.Value != nil {
			return done(op, core.Fail, fmt.Sprintf("read value %v (%T): want nil", op.Value, op.Value))
		}
		v, err := c.read(ctx, op.Key)
		if err != nil {
			c.drop()
			op.Value = nil
			return done(op, core.Fail, describeRegister(err))
		}
		op.Value = nil
		if v != nil {
			op.Value = *v
		}
		return done(op, core.OK, "")
	case register.Write:
		v, ok := op.Value.(int64)
		if !ok {
			return done(op, core.Fail, fmt.Sprintf("write value %v (%T): want int64", op.Value, op.Value))
		}
		return c.complete(op, c.change(ctx, register.Write,
			`INSERT INTO `+TableRegisters+` (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
			op.Key, v))
	case register.CAS:
		v, ok := op.Value.([2]int64)
		if !ok {
			return done(op, core.Fail, fmt.Sprintf("cas value %v (%T): want [2]int64{old, new}", op.Value, op.Value))
		}
		return c.complete(op, c.change(ctx, register.CAS,
			`UPDATE `+TableRegisters+` SET value = $3 WHERE key = $1 AND value = $2`,
			op.Key, v[0], v[1]))
	}
	return done(op, core.Fail, fmt.Sprintf("unknown operation %q (want read, write or cas)", op.F))
}

// errMismatch says a cas found its key absent or holding another value.
var errMismatch = errors.New("cas mismatch")

// changed is what one write or cas did, as far as the client can tell.
type changed struct {
	out outcome
	err error
}

// complete completes op after change: ok when applied, info when unknown,
// fail otherwise. op.Value stays the value invoked.
func (c *RegisterClient) complete(op core.Op, ch changed) core.Op {
	switch ch.out {
	case applied:
		return done(op, core.OK, "")
	case unknown:
		return done(op, core.Info, describeRegister(ch.err))
	}
	return done(op, core.Fail, describeRegister(ch.err))
}

// change runs stmt (a write's upsert or a cas's update, named step) in one
// transaction at the run's isolation level and commits it when it changed
// a row. A statement that changed no row (a cas mismatch) is rolled back:
// notApplied with errMismatch. Until the commit is sent nothing can take
// effect: an error then, the server's or the network's, is notApplied;
// the commit's own error is classified by commitOutcome. After any error
// the connection is dropped.
func (c *RegisterClient) change(ctx context.Context, step, stmt string, args ...any) changed {
	conn, err := c.connect(ctx)
	if err != nil {
		return changed{notApplied, err}
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: c.isolation})
	if err != nil {
		c.drop()
		return changed{notApplied, fmt.Errorf("begin: %w", err)}
	}
	rollback := func() error {
		rctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		return tx.Rollback(rctx)
	}
	tag, err := tx.Exec(ctx, stmt, args...)
	if err != nil {
		rollback()
		c.drop()
		return changed{notApplied, fmt.Errorf("%s: %w", step, err)}
	}
	if tag.RowsAffected() == 0 {
		if rollback() != nil {
			c.drop()
		}
		return changed{notApplied, errMismatch}
	}
	err = tx.Commit(ctx)
	if err == nil {
		return changed{applied, nil}
	}
	out := commitOutcome(err)
	c.drop()
	return changed{out, fmt.Errorf("commit: %w", err)}
}

// read returns key's value, or nil when it has no row, read in one
// read-only transaction at the run's isolation level. The caller drops
// the connection after an error.
func (c *RegisterClient) read(ctx context.Context, key string) (*int64, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: c.isolation, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	var v *int64
	err = tx.QueryRow(ctx, `SELECT value FROM `+TableRegisters+` WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		v, err = nil, nil
	}
	if err != nil {
		rctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		tx.Rollback(rctx)
		cancel()
		return nil, fmt.Errorf("read: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return v, nil
}

// registerSteps are the steps of a register operation that describe does
// not know by name.
var registerSteps = []string{register.Write, register.CAS, stepRegisters}

// describeRegister is describe, with the step named for the steps only
// the register client has.
func describeRegister(err error) string {
	if err == nil {
		return ""
	}
	msg := describe(err)
	for _, s := range registerSteps {
		if strings.HasPrefix(err.Error(), s+": ") && !strings.HasPrefix(msg, s+": ") {
			return s + ": " + msg
		}
	}
	return msg
}
