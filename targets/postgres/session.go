package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// session is one client process's connection to the primary pg node:
// made when needed, dropped after any error, and made again then, at the
// node that says it is primary at that moment. Its methods are not safe
// for concurrent use; a client runs its operations one at a time.
type session struct {
	// addrs are the pg nodes' client endpoints in cluster order.
	addrs []string
	// first is where the search for the primary starts, so that clients
	// that find several primaries (a failover left the old one running)
	// spread over them.
	first int
	// prepare, when set, runs on each new connection before the caller's
	// statements until it once succeeds (making the workload's tables,
	// say); an error drops the connection.
	prepare func(ctx context.Context, conn *pgx.Conn) error
	// what names the prepared state in errors ("make the ledger").
	what string

	conn     *pgx.Conn
	prepared bool
}

// newSession returns a session over the pg nodes at addrs for process.
func newSession(addrs []string, process int, what string, prepare func(context.Context, *pgx.Conn) error) *session {
	first := 0
	if len(addrs) > 0 {
		first = ((process % len(addrs)) + len(addrs)) % len(addrs)
	}
	return &session{addrs: addrs, first: first, prepare: prepare, what: what}
}

// connect returns the session's connection, connecting to the primary and
// preparing the connection when needed. An error means no statement of
// the caller's was sent.
func (s *session) connect(ctx context.Context) (*pgx.Conn, error) {
	if s.conn != nil && !s.conn.IsClosed() {
		return s.conn, nil
	}
	s.drop()
	conn, err := s.dialPrimary(ctx)
	if err != nil {
		return nil, err
	}
	s.conn = conn
	if s.prepare != nil && !s.prepared {
		if err := s.prepare(ctx, conn); err != nil {
			s.drop()
			return nil, fmt.Errorf("%s: %w", s.what, err)
		}
		s.prepared = true
	}
	return s.conn, nil
}

// dialPrimary connects to the first node, from s.first on, that answers
// as a primary. With one node it takes that node without asking.
func (s *session) dialPrimary(ctx context.Context) (*pgx.Conn, error) {
	if len(s.addrs) == 0 {
		return nil, errors.New("connect: no pg node")
	}
	if len(s.addrs) == 1 {
		conn, err := dial(ctx, s.addrs[0])
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		return conn, nil
	}
	var errs []error
	for i := range s.addrs {
		addr := s.addrs[(s.first+i)%len(s.addrs)]
		conn, err := dial(ctx, addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		var standby bool
		if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&standby); err != nil {
			closeQuietly(conn)
			errs = append(errs, fmt.Errorf("%s: pg_is_in_recovery: %w", addr, err))
			continue
		}
		if !standby {
			return conn, nil
		}
		closeQuietly(conn)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("connect: %w", ctx.Err())
	}
	errs = append([]error{errors.New("no pg node says it is primary")}, errs...)
	return nil, fmt.Errorf("connect: %w", errors.Join(errs...))
}

// makeTables runs stmts (CREATE … IF NOT EXISTS) in one transaction under
// the schema advisory lock: clients starting together wait for each other
// instead of colliding in the catalog.
func makeTables(ctx context.Context, conn *pgx.Conn, stmts ...string) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// dial connects to the server at addr as the superuser.
func dial(ctx context.Context, addr string) (*pgx.Conn, error) {
	cfg, err := connConfig(addr, connectTimeout)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// drop closes the connection, if any, without waiting long for the
// server's side; the next statement connects again.
func (s *session) drop() {
	if s.conn == nil {
		return
	}
	closeQuietly(s.conn)
	s.conn = nil
}

// closeQuietly closes conn, waiting at most closeTimeout for the server.
func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	conn.Close(ctx)
}
