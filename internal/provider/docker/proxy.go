package docker

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/internal/provider/proxylink"
	"github.com/faultline/faultline/nemesis"
)

// toxicTimeout bounds one change of toxics across the links.
const toxicTimeout = 10 * time.Second

// newLink starts the client proxy of n: from clients on the host to n's
// published API port, with its worker counted in c.workers.
func (c *Cluster) newLink(n *node) (*proxylink.Link, error) {
	l, err := proxylink.New(c.server, &c.workers, nemesis.Clients, n.name, n.hostAddr)
	if err != nil {
		return nil, err
	}
	c.log.Debug("proxy started", "link", l.Name, "listen", l.Addr, "upstream", l.Upstream())
	return l, nil
}

// retarget points l at a new upstream (a restarted container's published
// port), keeping its listen address and toxics. Connections through it
// are closed. The caller holds mu.
func (c *Cluster) retarget(ctx context.Context, l *proxylink.Link, upstream string) error {
	ctx, cancel := c.bounded(ctx, toxicTimeout)
	defer cancel()
	if err := proxylink.Retarget(ctx, l, upstream); err != nil {
		return fmt.Errorf("point proxy %s at %s: %w", l.Name, upstream, err)
	}
	return nil
}

// links returns every client link.
func (c *Cluster) links() []*proxylink.Link {
	var out []*proxylink.Link
	for _, n := range c.nodes {
		if n.link != nil {
			out = append(out, n.link)
		}
	}
	return out
}

// cutClients blackholes the client links in cut and restores every other
// client link the partition cut. The caller holds mu.
func (c *Cluster) cutClients(ctx context.Context, cut map[*proxylink.Link]bool) error {
	tctx, cancel := c.bounded(ctx, toxicTimeout)
	defer cancel()
	if err := proxylink.Cut(tctx, c.links(), cut, c.clientCut); err != nil {
		return fmt.Errorf("clients: %w", err)
	}
	return nil
}
