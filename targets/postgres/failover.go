package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

// adminTimeout bounds one administrative statement of the Promoter.
const adminTimeout = 5 * time.Second

// promoteWaitSeconds is how long pg_promote waits for the promotion to finish.
const promoteWaitSeconds = 30

// promoter is the failover fault's Promoter of a primary and its streaming
// replica, acting as a failover manager (Patroni, say) would: it promotes
// the replica with pg_promote and rebuilds the old primary from the new
// one (pg_basebackup, through a reset of the node), since what the old
// primary wrote after the replica last heard from it conflicts with the
// new primary's history.
type promoter struct {
	admin targets.Admin
}

var _ nemesis.Rebuilder = promoter{}

// failover is the Layout.Failover of a two-node cluster.
func failover(admin targets.Admin) nemesis.Promoter { return promoter{admin: admin} }

// RebuildsOnFollow marks promoter as a nemesis.Rebuilder: Follow takes a
// killed old primary as it is.
func (promoter) RebuildsOnFollow() {}

// query runs f on a connection of its own to node, bounded by
// adminTimeout.
func (p promoter) query(ctx context.Context, node string, f func(ctx context.Context, conn *pgx.Conn) error) error {
	addr, err := p.admin.Addr(node)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	conn, err := dial(ctx, addr)
	if err != nil {
		return fmt.Errorf("%s: %w", node, err)
	}
	defer closeQuietly(conn)
	if err := f(ctx, conn); err != nil {
		return fmt.Errorf("%s: %w", node, err)
	}
	return nil
}

// standby asks node whether it is in recovery (a replica).
func (p promoter) standby(ctx context.Context, node string) (bool, error) {
	var in bool
	err := p.query(ctx, node, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&in)
	})
	return in, err
}

// Primary asks every pg node whether it is in recovery: the one that is
// not is the primary. Nodes that do not answer (killed, say) are members
// all the same. Two primaries are an error.
func (p promoter) Primary(ctx context.Context) (string, []string, error) {
	members := p.admin.Roles()[RolePG]
	var primaries []string
	for _, n := range members {
		in, err := p.standby(ctx, n)
		if err == nil && !in {
			primaries = append(primaries, n)
		}
	}
	switch len(primaries) {
	case 0:
		return "", members, nil
	case 1:
		return primaries[0], members, nil
	}
	return "", members, fmt.Errorf("%d nodes say they are primary: %v", len(primaries), primaries)
}

// Promote promotes node with pg_promote, waiting until it takes writes.
func (p promoter) Promote(ctx context.Context, node string) error {
	return p.query(ctx, node, func(ctx context.Context, conn *pgx.Conn) error {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_promote(true, $1)`, promoteWaitSeconds).Scan(&ok); err != nil {
			return fmt.Errorf("pg_promote: %w", err)
		}
		if !ok {
			return errors.New("pg_promote: the promotion did not finish in time")
		}
		return nil
	})
}

// Follow rebuilds node as a streaming replica of the primary: it resets
// the node (kills it when it runs and empties its data folder), whose init
// then copies the node that answers as primary, and checks that node came
// back in recovery. What node held that the primary lacks is gone.
func (p promoter) Follow(ctx context.Context, node, primary string) error {
	if err := p.admin.Reset(ctx, node); err != nil {
		return err
	}
	in, err := p.standby(ctx, node)
	if err != nil {
		return err
	}
	if !in {
		return fmt.Errorf("%s came back as a primary, not as a replica of %s", node, primary)
	}
	return nil
}
