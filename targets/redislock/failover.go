package redislock

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// discoverEvery is how long a failover client keeps the primary it found
// before it asks the nodes again (it asks at once after an error).
const discoverEvery = 100 * time.Millisecond

// adminTimeout bounds one administrative command (ROLE, REPLICAOF).
const adminTimeout = 2 * time.Second

// primary returns the node the client takes locks from: the one redis
// node for naive and fencing; for failover, a node that answers ROLE with
// "master", found again every discoverEvery and after an error. When
// several say they are primary (a failover left the old one running),
// the client takes one of them at random, as a client without a
// consensus to ask can only guess.
func (c *Client) primary(ctx context.Context) (*redisNode, error) {
	if c.variant != VariantFailover {
		return c.redis[0], nil
	}
	if c.cur != nil && time.Since(c.found) < discoverEvery {
		return c.cur, nil
	}
	c.cur = nil
	var masters []*redisNode
	var errs []error
	for _, n := range c.redis {
		rctx, cancel := context.WithTimeout(ctx, adminTimeout)
		role, err := n.role(rctx)
		cancel()
		switch {
		case err != nil:
			errs = append(errs, err)
		case role == "master":
			masters = append(masters, n)
		}
	}
	if len(masters) == 0 {
		errs = append([]error{errors.New("no redis node says it is primary")}, errs...)
		return nil, errors.Join(errs...)
	}
	c.cur, c.found = masters[rand.IntN(len(masters))], time.Now()
	return c.cur, nil
}

// lost forgets the primary after a failed command, so that the next
// operation asks the nodes again.
func (c *Client) lost(r result) {
	if r.err != nil {
		c.cur = nil
	}
}

// replicaArgs makes every redis node but the role's first a replica of the
// first, reached through the node's own link to it.
func replicaArgs(cfg targets.NodeConfig) []string {
	redises := cfg.Roles[RoleRedis]
	if len(redises) == 0 || cfg.Name == redises[0] {
		return nil
	}
	host, port, err := net.SplitHostPort(cfg.Peers[redises[0]])
	if err != nil {
		return nil
	}
	return []string{"--replicaof", host, port}
}

// promoter switches the primary of the failover variant over, as Redis
// Sentinel would: ROLE finds it, REPLICAOF NO ONE promotes a replica,
// REPLICAOF host port makes a node follow. It reaches the nodes directly,
// past the client proxies.
type promoter struct {
	admin targets.Admin
}

var _ nemesis.Promoter = promoter{}

// failover is the Layout.Failover of the failover variant.
func failover(admin targets.Admin) nemesis.Promoter { return promoter{admin: admin} }

// do runs one command on node through a connection of its own.
func (p promoter) do(ctx context.Context, node string, f func(ctx context.Context, rc *redis.Client) error) error {
	addr, err := p.admin.Addr(node)
	if err != nil {
		return err
	}
	silenceRedisLog()
	rc := redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		DialTimeout:              adminTimeout, ReadTimeout: adminTimeout, WriteTimeout: adminTimeout, PoolSize: 1,
	})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	return f(ctx, rc)
}

// Primary asks every redis node its role.
func (p promoter) Primary(ctx context.Context) (string, []string, error) {
	members := p.admin.Roles()[RoleRedis]
	var masters, errs []string
	for _, n := range members {
		err := p.do(ctx, n, func(ctx context.Context, rc *redis.Client) error {
			role, err := redisRole(ctx, rc, n)
			if role == "master" {
				masters = append(masters, n)
			}
			return err
		})
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	switch {
	case len(masters) == 1:
		return masters[0], members, nil
	case len(masters) > 1:
		return "", nil, fmt.Errorf("redis nodes %s all say they are primary", strings.Join(masters, ", "))
	case len(errs) == len(members):
		return "", nil, fmt.Errorf("no redis node answers ROLE: %s", strings.Join(errs, "; "))
	}
	return "", members, nil
}

// Promote makes node a primary: REPLICAOF NO ONE.
func (p promoter) Promote(ctx context.Context, node string) error {
	return p.do(ctx, node, func(ctx context.Context, rc *redis.Client) error {
		if err := rc.Do(ctx, "replicaof", "no", "one").Err(); err != nil {
			return fmt.Errorf("redis %s: REPLICAOF NO ONE: %w", node, err)
		}
		return nil
	})
}

// Follow makes node a replica of primary, at the address node reaches it.
func (p promoter) Follow(ctx context.Context, node, primary string) error {
	peer, err := p.admin.Peer(node, primary)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(peer)
	if err != nil {
		return fmt.Errorf("redis %s: address of %s: %w", node, primary, err)
	}
	return p.do(ctx, node, func(ctx context.Context, rc *redis.Client) error {
		if err := rc.Do(ctx, "replicaof", host, port).Err(); err != nil {
			return fmt.Errorf("redis %s: REPLICAOF %s %s: %w", node, host, port, err)
		}
		return nil
	})
}
