package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// toxicLatency names the latency toxic of each direction of a client link.
const toxicLatency = "latency"

// The directions of a toxiproxy link: upstream is client to node.
const (
	streamUp   = "upstream"
	streamDown = "downstream"
)

// toxicTimeout bounds one change of toxics across the links.
const toxicTimeout = 10 * time.Second

// link is the client proxy of one node: from clients on the host to the
// node's published API port. Changes to a link run in order on its own
// worker goroutine: toxiproxy applies a change to every live connection
// and can block while a connection's destination does not read, and the
// worker lets a fault method give up at its deadline without reordering
// later changes.
type link struct {
	name     string // "client->n1"
	to       string
	addr     string // the proxy's listen address
	upstream string // guarded by Cluster.mu
	proxy    *toxiproxy.Proxy
	ops      chan func()
}

// newLink starts a proxy on a free 127.0.0.1 port forwarding to n's
// published API port, and its worker.
func (c *Cluster) newLink(n *node) (*link, error) {
	name := "client->" + n.name
	p := toxiproxy.NewProxy(c.server, name, "127.0.0.1:0", n.hostAddr)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start proxy %s: %w", name, err)
	}
	l := &link{name: name, to: n.name, addr: p.Listen, upstream: n.hostAddr, proxy: p, ops: make(chan func(), 16)}
	c.workers.Go(func() {
		for op := range l.ops {
			op()
		}
	})
	c.log.Debug("proxy started", "link", name, "listen", l.addr, "upstream", l.upstream)
	return l, nil
}

// retarget points l at a new upstream (a restarted container's published
// port), keeping its listen address and toxics. Connections through it
// are closed. The caller holds mu.
func (c *Cluster) retarget(ctx context.Context, l *link, upstream string) error {
	ctx, cancel := c.bounded(ctx, toxicTimeout)
	defer cancel()
	err := c.apply(ctx, []*link{l}, func(l *link) error {
		return l.proxy.Update(&toxiproxy.Proxy{Listen: l.addr, Upstream: upstream, Enabled: true})
	})
	if err != nil {
		return fmt.Errorf("point proxy %s at %s: %w", l.name, upstream, err)
	}
	l.upstream = upstream
	return nil
}

// apply runs fn on every link's worker, all links at once, and waits for
// all of them or for ctx. Links still pending when ctx ends finish in the
// background, in order. The caller holds mu.
func (c *Cluster) apply(ctx context.Context, links []*link, fn func(*link) error) error {
	type result struct {
		l   *link
		err error
	}
	results := make(chan result, len(links)) // never blocks a worker
	sent := 0
	for _, l := range links {
		op := func() { results <- result{l, fn(l)} }
		select {
		case l.ops <- op:
			sent++
		case <-ctx.Done():
			return fmt.Errorf("%d of %d proxies not updated: %w", len(links)-sent, len(links), context.Cause(ctx))
		}
	}
	var errs []error
	for i := range sent {
		select {
		case r := <-results:
			if r.err != nil {
				errs = append(errs, fmt.Errorf("proxy %s: %w", r.l.name, r.err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("%d of %d proxies not updated: %w", sent-i, len(links), context.Cause(ctx)))
			return joinErrors(errs...)
		}
	}
	return joinErrors(errs...)
}

// links returns every client link.
func (c *Cluster) links() []*link {
	var out []*link
	for _, n := range c.nodes {
		if n.link != nil {
			out = append(out, n.link)
		}
	}
	return out
}

// toxicSpec is the JSON form toxiproxy's ToxicCollection reads.
type toxicSpec struct {
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	Stream     string  `json:"stream"`
	Toxicity   float32 `json:"toxicity"`
	Attributes any     `json:"attributes"`
}

// setLatencyToxic delays the given directions of l by latency ± jitter
// (millisecond resolution) and removes the latency toxic from the others.
func setLatencyToxic(l *link, latency, jitter time.Duration, streams ...string) error {
	attrs := map[string]int64{"latency": ceilMillis(latency), "jitter": ceilMillis(jitter)}
	for _, s := range []string{streamUp, streamDown} {
		name := toxicLatency + "-" + s
		if !contains(streams, s) {
			if err := removeToxic(l, name); err != nil {
				return err
			}
			continue
		}
		spec := toxicSpec{Name: name, Type: "latency", Stream: s, Toxicity: 1, Attributes: attrs}
		b, err := json.Marshal(spec)
		if err != nil {
			return err
		}
		if l.proxy.Toxics.GetToxic(name) != nil {
			_, err = l.proxy.Toxics.UpdateToxicJson(name, bytes.NewReader(b))
		} else {
			_, err = l.proxy.Toxics.AddToxicJson(bytes.NewReader(b))
		}
		if err != nil {
			return fmt.Errorf("set %s toxic: %w", name, err)
		}
	}
	return nil
}

// clearLatencyToxic removes the latency toxics from both directions of l.
func clearLatencyToxic(l *link) error {
	for _, s := range []string{streamUp, streamDown} {
		if err := removeToxic(l, toxicLatency+"-"+s); err != nil {
			return err
		}
	}
	return nil
}

// removeToxic removes the toxic called name from l; one that is not there
// is not an error.
func removeToxic(l *link, name string) error {
	err := l.proxy.Toxics.RemoveToxic(context.Background(), name)
	if err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("remove %s toxic: %w", name, err)
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// linkProblem reports what keeps l from carrying traffic: the proxy
// stopped, a toxic still installed, or the published port or the proxy's
// own listener not accepting connections. It returns "" for a clean link.
func linkProblem(ctx context.Context, l *link, upstream string) string {
	l.proxy.Lock()
	enabled := l.proxy.Enabled
	l.proxy.Unlock()
	if !enabled {
		return "proxy stopped"
	}
	if ts := l.proxy.Toxics.GetToxicArray(); len(ts) > 0 {
		var names []string
		for _, t := range ts {
			if w, ok := t.(*toxics.ToxicWrapper); ok {
				names = append(names, w.Name)
			}
		}
		return "toxics still installed: " + strings.Join(names, ", ")
	}
	var d net.Dialer
	for _, addr := range []string{upstream, l.addr} {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			if addr == upstream {
				return fmt.Sprintf("published port %s not accepting: %v", addr, err)
			}
			return fmt.Sprintf("proxy %s not accepting: %v", addr, err)
		}
		conn.Close()
	}
	return ""
}
