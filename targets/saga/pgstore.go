package saga

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faultline/faultline/targets/postgres"
	wl "github.com/faultline/faultline/workloads/saga"
)

// openPool connects to the pg node at addr (the node's Peers address of
// it), at most conns connections, and runs the statements ddl under an advisory lock
// (nodes make their tables at once), retrying until ctx ends: the pg node
// may be restarting.
func openPool(ctx context.Context, addr string, conns int32, ddl ...string) (*pgxpool.Pool, error) {
	cc, err := postgres.ConnConfig(addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(cc.ConnString())
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = conns
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	for _, d := range ddl {
		h.Write([]byte(d))
	}
	lock := int64(h.Sum64() >> 1)
	for {
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lock); err != nil {
				return err
			}
			for _, d := range ddl {
				if _, err := tx.Exec(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			return pool, nil
		}
		select {
		case <-ctx.Done():
			pool.Close()
			return nil, fmt.Errorf("make tables: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pgOrders is an orderStore in the table saga_orders.
type pgOrders struct{ pool *pgxpool.Pool }

var ordersDDL = []string{`CREATE TABLE IF NOT EXISTS saga_orders (
	seq bigserial NOT NULL,
	id text PRIMARY KEY,
	account text NOT NULL,
	item text NOT NULL,
	amount bigint NOT NULL,
	state text NOT NULL,
	failed text NOT NULL DEFAULT ''
)`, `CREATE INDEX IF NOT EXISTS saga_orders_seq ON saga_orders (seq)`}

func openPGOrders(ctx context.Context, addr string) (*pgOrders, error) {
	pool, err := openPool(ctx, addr, 16, ordersDDL...)
	if err != nil {
		return nil, err
	}
	return &pgOrders{pool: pool}, nil
}

func (s *pgOrders) close() error { s.pool.Close(); return nil }

const orderColumns = "id, account, item, amount, state, failed"

func scanRecord(row pgx.Row) (record, error) {
	var r record
	err := row.Scan(&r.ID, &r.Account, &r.Item, &r.Amount, &r.State, &r.Failed)
	return r, err
}

func (s *pgOrders) create(ctx context.Context, o wl.Order) (record, bool, error) {
	r, err := scanRecord(s.pool.QueryRow(ctx, `INSERT INTO saga_orders (id, account, item, amount, state) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO NOTHING RETURNING `+orderColumns, o.ID, o.Account, o.Item, o.Amount, stateCharging))
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return record{}, false, err
	}
	r, ok, err := s.get(ctx, o.ID)
	if err == nil && !ok {
		err = fmt.Errorf("order %s neither made nor found", o.ID)
	}
	return r, false, err
}

func (s *pgOrders) get(ctx context.Context, id string) (record, bool, error) {
	r, err := scanRecord(s.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM saga_orders WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return record{}, false, nil
	}
	return r, err == nil, err
}

func (s *pgOrders) transition(ctx context.Context, id, from, to, failed string) (record, bool, error) {
	r, err := scanRecord(s.pool.QueryRow(ctx, `UPDATE saga_orders SET state = $3, failed = CASE WHEN $4 = '' THEN failed ELSE $4 END
		WHERE id = $1 AND state = $2 RETURNING `+orderColumns, id, from, to, failed))
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return record{}, false, err
	}
	r, ok, err := s.get(ctx, id)
	if err == nil && !ok {
		err = fmt.Errorf("no order %s", id)
	}
	return r, false, err
}

func (s *pgOrders) pending(ctx context.Context) ([]record, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+orderColumns+` FROM saga_orders WHERE state <> $1 AND state <> $2 ORDER BY seq`, wl.Completed, wl.Compensated)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (record, error) { return scanRecord(row) })
}

func (s *pgOrders) list(ctx context.Context, from, count int64) ([]record, int64, error) {
	var out []record
	var total int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM saga_orders`).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+orderColumns+` FROM saga_orders ORDER BY seq OFFSET $1 LIMIT $2`, from, count)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (record, error) { return scanRecord(row) })
		return err
	})
	return out, total, err
}

// pgEffects is an effectStore in the table saga_<service>_effects.
type pgEffects struct {
	pool  *pgxpool.Pool
	table string
}

func openPGEffects(ctx context.Context, addr, service string) (*pgEffects, error) {
	table := "saga_" + service + "_effects"
	ddl := `CREATE TABLE IF NOT EXISTS ` + table + ` (
	seq bigserial PRIMARY KEY,
	order_id text NOT NULL,
	step text NOT NULL,
	account text NOT NULL DEFAULT '',
	amount bigint NOT NULL DEFAULT 0,
	item text NOT NULL DEFAULT '',
	idem_key text UNIQUE
)`
	pool, err := openPool(ctx, addr, 16, ddl)
	if err != nil {
		return nil, err
	}
	return &pgEffects{pool: pool, table: table}, nil
}

func (s *pgEffects) close() error { s.pool.Close(); return nil }

func (s *pgEffects) apply(ctx context.Context, e wl.Effect, key string) (bool, error) {
	var k *string
	if key != "" {
		k = &key
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO `+s.table+` (order_id, step, account, amount, item, idem_key) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (idem_key) DO NOTHING`, e.Order, e.Step, e.Account, e.Amount, e.Item, k)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func (s *pgEffects) list(ctx context.Context, from, count int64) ([]wl.Effect, int64, error) {
	out := []wl.Effect{}
	var total int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+s.table).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT order_id, step, account, amount, item FROM `+s.table+` ORDER BY seq OFFSET $1 LIMIT $2`, from, count)
		if err != nil {
			return err
		}
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (wl.Effect, error) {
			var e wl.Effect
			err := row.Scan(&e.Order, &e.Step, &e.Account, &e.Amount, &e.Item)
			return e, err
		})
		out = append(out, got...)
		return err
	})
	return out, total, err
}
