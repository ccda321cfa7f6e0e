package local

import "github.com/faultline/faultline/internal/provider/proxylink"

// newLink starts the proxy from a node (or the clients) to a node's peer (or
// API) listener at upstream, with its worker counted in c.workers.
func (c *Cluster) newLink(from, to, upstream string) (*proxylink.Link, error) {
	l, err := proxylink.New(c.server, &c.workers, from, to, upstream)
	if err != nil {
		return nil, err
	}
	c.log.Debug("proxy started", "link", l.Name, "listen", l.Addr, "upstream", upstream)
	return l, nil
}
