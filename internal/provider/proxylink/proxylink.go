// Package proxylink is one in-process toxiproxy proxy in front of a node
// listener, with the toxics the providers install on it. Changes to a Link
// run in order on its own worker goroutine: toxiproxy applies a change to
// every live connection and can block while a connection's destination
// does not read, and the worker lets a caller give up at its deadline
// without reordering later changes.
package proxylink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"

	"github.com/faultline/faultline/internal/provider/lifecycle"
)

// Toxic kinds. Each fault owns one toxic per direction of a link, named
// kind + "-" + direction, so that healing one fault never touches
// another's toxics.
const (
	ToxicPartition = "partition"
	ToxicLatency   = "latency"
)

// The directions of a link: Upstream is from the client side to the
// listener the link forwards to, Downstream is back.
const (
	Upstream   = "upstream"
	Downstream = "downstream"
)

// Link is one proxy from From to To. Its fields are fixed by New; the
// upstream address changes only through Retarget.
type Link struct {
	Name     string // From + "->" + To
	From, To string // From is nemesis.Clients ("clients") for a client proxy
	Addr     string // the proxy's listen address
	// Proxy is the toxiproxy proxy. Changes to it go through Apply so that
	// they run on the worker, in order.
	Proxy *toxiproxy.Proxy

	upstream string
	ops      chan func()
}

// New starts a proxy called from->to on a free 127.0.0.1 port forwarding
// to upstream, and its worker, counted in workers. The caller ends the
// worker with Close and then waits for workers.
func New(server *toxiproxy.ApiServer, workers *sync.WaitGroup, from, to, upstream string) (*Link, error) {
	name := from + "->" + to
	p := toxiproxy.NewProxy(server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start proxy %s: %w", name, err)
	}
	l := &Link{Name: name, From: from, To: to, Addr: p.Listen, Proxy: p, upstream: upstream, ops: make(chan func(), 16)}
	workers.Go(func() {
		for op := range l.ops {
			op()
		}
	})
	return l, nil
}

// Upstream returns the address l forwards to. Reads must not race with
// Retarget: the caller serializes them (the providers hold their mutex).
func (l *Link) Upstream() string { return l.upstream }

// Close stops the proxy, closing its listener and connections, and ends
// the worker once the changes already queued have run. Call it once, after
// the last Apply; the worker's exit is seen through the WaitGroup given
// to New.
func (l *Link) Close() {
	l.Proxy.Stop()
	close(l.ops)
}

// Apply runs fn on every link's worker, all links at once, and waits for
// all of them or for ctx. Each link runs its changes in the order they
// were applied; links still pending when ctx ends finish in the
// background, in order. The error joins, on one line, each failed link's
// error, prefixed "link NAME: ", and how many links ctx cut short.
// Changes from concurrent calls run on each link in the order they reach
// its worker.
func Apply(ctx context.Context, links []*Link, fn func(*Link) error) error {
	type result struct {
		l   *Link
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
				errs = append(errs, fmt.Errorf("link %s: %w", r.l.Name, r.err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("%d of %d links not updated: %w", sent-i, len(links), context.Cause(ctx)))
			return lifecycle.JoinErrors(errs...)
		}
	}
	return lifecycle.JoinErrors(errs...)
}

// Retarget points l at a new upstream, keeping its listen address and
// toxics, on l's worker in order with its other changes. Connections
// through it are closed. The address Upstream returns changes only when
// the change succeeds; the caller serializes Retarget with Upstream.
// When ctx ends first, the change may still run later, in order, while
// Upstream keeps the old address.
func Retarget(ctx context.Context, l *Link, upstream string) error {
	err := Apply(ctx, []*Link{l}, func(l *Link) error {
		return l.Proxy.Update(&toxiproxy.Proxy{Listen: l.Addr, Upstream: upstream, Enabled: true})
	})
	if err != nil {
		return err
	}
	l.upstream = upstream
	return nil
}

// toxicSpec is the JSON form toxiproxy's ToxicCollection reads.
type toxicSpec struct {
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	Stream     string  `json:"stream"`
	Toxicity   float32 `json:"toxicity"`
	Attributes any     `json:"attributes"`
}

// SetToxic installs (or updates in place) toxic kind of toxiproxy type typ
// with attrs in the named directions of l, and removes kind from the
// other direction, upstream first. It is idempotent. Run it through Apply.
func SetToxic(l *Link, kind, typ string, attrs any, streams ...string) error {
	for _, s := range []string{Upstream, Downstream} {
		name := kind + "-" + s
		if !slices.Contains(streams, s) {
			if err := removeToxic(l, name); err != nil {
				return err
			}
			continue
		}
		spec := toxicSpec{Name: name, Type: typ, Stream: s, Toxicity: 1, Attributes: attrs}
		b, err := json.Marshal(spec)
		if err != nil {
			return err
		}
		if l.Proxy.Toxics.GetToxic(name) != nil {
			_, err = l.Proxy.Toxics.UpdateToxicJson(name, bytes.NewReader(b))
		} else {
			_, err = l.Proxy.Toxics.AddToxicJson(bytes.NewReader(b))
		}
		if err != nil {
			return fmt.Errorf("set %s toxic: %w", name, err)
		}
	}
	return nil
}

// RemoveToxic removes toxic kind from both directions of l, upstream
// first; a toxic that is not there is not an error, so it is idempotent.
// Run it through Apply.
func RemoveToxic(l *Link, kind string) error {
	for _, s := range []string{Upstream, Downstream} {
		if err := removeToxic(l, kind+"-"+s); err != nil {
			return err
		}
	}
	return nil
}

func removeToxic(l *Link, name string) error {
	err := l.Proxy.Toxics.RemoveToxic(context.Background(), name)
	if err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("remove %s toxic: %w", name, err)
	}
	return nil
}

// Blackhole cuts l in both directions with toxic ToxicPartition. A timeout
// toxic with timeout 0 drops every byte and never closes the connection,
// on live connections as well as new ones. Removing it (RemoveToxic with
// ToxicPartition) closes every connection it held, so no connection
// resumes with bytes missing from its middle. It is idempotent. Run it
// through Apply.
func Blackhole(l *Link) error {
	return SetToxic(l, ToxicPartition, "timeout", map[string]int64{"timeout": 0}, Upstream, Downstream)
}

// Delay returns a change, for Apply, that delays the named directions of a
// link by latency ± jitter (rounded up to the millisecond) with toxic
// ToxicLatency and removes that toxic from the other direction. The
// change is idempotent.
func Delay(latency, jitter time.Duration, streams ...string) func(*Link) error {
	attrs := map[string]int64{"latency": ceilMillis(latency), "jitter": ceilMillis(jitter)}
	return func(l *Link) error { return SetToxic(l, ToxicLatency, "latency", attrs, streams...) }
}

func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Problem reports what keeps l from carrying traffic: the proxy stopped, a
// toxic still installed, or upstream or l's own listener not accepting
// connections. what names upstream in the report ("upstream", "published
// port"). It returns "" for a clean link. Each dial gets its own second,
// even past ctx's deadline, so that a refused connection is reported as
// such. It changes nothing, and may run on or off the worker.
func Problem(ctx context.Context, l *Link, what, upstream string) string {
	l.Proxy.Lock()
	enabled := l.Proxy.Enabled
	l.Proxy.Unlock()
	if !enabled {
		return "proxy stopped"
	}
	if ts := l.Proxy.Toxics.GetToxicArray(); len(ts) > 0 {
		var names []string
		for _, t := range ts {
			if w, ok := t.(*toxics.ToxicWrapper); ok {
				names = append(names, w.Name)
			}
		}
		return "toxics still installed: " + strings.Join(names, ", ")
	}
	var d net.Dialer
	for _, addr := range []string{upstream, l.Addr} {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			if addr == upstream {
				return fmt.Sprintf("%s %s not accepting: %v", what, addr, err)
			}
			return fmt.Sprintf("proxy %s not accepting: %v", addr, err)
		}
		conn.Close()
	}
	return ""
}

// Cut blackholes the links of links that want names and restores those
// that cut marks and want does not, keeping cut in step: a link counts as
// cut from the moment Cut tries (so a failure leaves it to a heal) and as
// restored once its toxic is gone. New links are cut before old ones are
// restored, so that no pair is connected in between that neither the old
// nor the new partition connects. Links both name stay cut undisturbed.
func Cut(ctx context.Context, links []*Link, want, cut map[*Link]bool) error {
	var add, remove []*Link
	for _, l := range links {
		switch {
		case want[l] && !cut[l]:
			add = append(add, l)
		case !want[l] && cut[l]:
			remove = append(remove, l)
		}
	}
	for _, l := range add {
		cut[l] = true
	}
	if err := Apply(ctx, add, Blackhole); err != nil {
		return err
	}
	if err := Apply(ctx, remove, func(l *Link) error { return RemoveToxic(l, ToxicPartition) }); err != nil {
		return err
	}
	for _, l := range remove {
		delete(cut, l)
	}
	return nil
}
