package local

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

// Toxic names. Each fault owns one toxic per direction of a link, so that
// healing one fault never touches another's toxics.
const (
	toxicPartition = "partition"
	toxicLatency   = "latency"
)

var streams = [...]string{"upstream", "downstream"}

// link is one proxy: from a node (or "client") to a node's peer (or API)
// listener. Toxic changes on a link run in order on its own worker
// goroutine: toxiproxy applies a change to every live connection and can
// block while a connection's destination does not read, and the worker
// lets a fault method give up at its deadline without reordering later
// changes.
type link struct {
	name     string // "n1->n2" or "client->n1"
	from, to string // from is "client" for a client proxy
	addr     string // the proxy's listen address
	upstream string
	proxy    *toxiproxy.Proxy
	ops      chan func()
}

// newLink starts a proxy on a free 127.0.0.1 port forwarding to upstream,
// and its worker.
func (c *Cluster) newLink(from, to, upstream string) (*link, error) {
	name := from + "->" + to
	p := toxiproxy.NewProxy(c.server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start proxy %s: %w", name, err)
	}
	l := &link{name: name, from: from, to: to, addr: p.Listen, upstream: upstream, proxy: p, ops: make(chan func(), 16)}
	c.workers.Go(func() {
		for op := range l.ops {
			op()
		}
	})
	c.log.Debug("proxy started", "link", name, "listen", l.addr, "upstream", upstream)
	return l, nil
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
			return fmt.Errorf("%d of %d links not updated: %w", len(links)-sent, len(links), context.Cause(ctx))
		}
	}
	var errs []error
	for i := range sent {
		select {
		case r := <-results:
			if r.err != nil {
				errs = append(errs, fmt.Errorf("link %s: %w", r.l.name, r.err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("%d of %d links not updated: %w", sent-i, len(links), context.Cause(ctx)))
			return joinErrors(errs...)
		}
	}
	return joinErrors(errs...)
}

// toxicSpec is the JSON form toxiproxy's ToxicCollection reads.
type toxicSpec struct {
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	Stream     string  `json:"stream"`
	Toxicity   float32 `json:"toxicity"`
	Attributes any     `json:"attributes"`
}

// setToxic installs (or updates in place) toxic kind of type typ with
// attrs in both directions of l.
func setToxic(l *link, kind, typ string, attrs any) error {
	for _, s := range streams {
		spec := toxicSpec{Name: kind + "-" + s, Type: typ, Stream: s, Toxicity: 1, Attributes: attrs}
		b, err := json.Marshal(spec)
		if err != nil {
			return err
		}
		if l.proxy.Toxics.GetToxic(spec.Name) != nil {
			_, err = l.proxy.Toxics.UpdateToxicJson(spec.Name, bytes.NewReader(b))
		} else {
			_, err = l.proxy.Toxics.AddToxicJson(bytes.NewReader(b))
		}
		if err != nil {
			return fmt.Errorf("set %s toxic: %w", spec.Name, err)
		}
	}
	return nil
}

// removeToxic removes toxic kind from both directions of l; a toxic that
// is not there is not an error.
func removeToxic(l *link, kind string) error {
	for _, s := range streams {
		err := l.proxy.Toxics.RemoveToxic(context.Background(), kind+"-"+s)
		if err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
			return fmt.Errorf("remove %s-%s toxic: %w", kind, s, err)
		}
	}
	return nil
}

// blackhole cuts l in both directions. A timeout toxic with timeout 0
// drops every byte and never closes the connection, on live connections
// as well as new ones. Removing it closes every connection it held (its
// Cleanup closes the link), so no connection resumes with bytes missing
// from its middle.
func blackhole(l *link) error {
	return setToxic(l, toxicPartition, "timeout", map[string]int64{"timeout": 0})
}

// delay adds latency ± jitter to each direction of l, at millisecond
// resolution.
func delay(latency, jitter time.Duration) func(*link) error {
	attrs := map[string]int64{"latency": ceilMillis(latency), "jitter": ceilMillis(jitter)}
	return func(l *link) error { return setToxic(l, toxicLatency, "latency", attrs) }
}

func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// linkProblem reports what keeps l from carrying traffic: the proxy
// stopped, a toxic still installed, or its upstream or its own listener
// not accepting connections. It returns "" for a clean link.
func linkProblem(ctx context.Context, l *link) string {
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
	for _, addr := range []string{l.upstream, l.addr} {
		// Each dial gets its full second even near the caller's deadline, so
		// that a refused connection is reported as such.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			if addr == l.upstream {
				return fmt.Sprintf("upstream %s not accepting: %v", addr, err)
			}
			return fmt.Sprintf("proxy %s not accepting: %v", addr, err)
		}
		conn.Close()
	}
	return ""
}
