package twopc

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/internal/nodehttp"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/bank"
)

// Timings of the coordinator.
const (
	// CallTimeout bounds each call to a participant (a prepare, a
	// decision, a read's lock or release).
	CallTimeout = time.Second
	// ResendEvery is how often the coordinator sends again the decisions
	// some participant has not acknowledged.
	ResendEvery = 100 * time.Millisecond
)

// delivery is a decision not yet acknowledged by every participant.
type delivery struct {
	decision string
	left     map[string]bool
	parts    []string
}

// coordinator is the coordinator node.
type coordinator struct {
	name    string
	variant string
	parts   []string
	addrs   map[string]string // participant → address through its link
	log     *slog.Logger
	wal     *wal
	peers   *peers

	mu          sync.Mutex
	decisions   map[string]string
	active      map[string]bool
	undelivered map[string]*delivery
	// The naive variant's commits not yet delivered: per participant the
	// transactions to tell it, per transaction how many participants
	// have still to hear it and which participants it has.
	outbox  map[string][]string
	pending map[string]int
	partsOf map[string][]string
}

// SendEvery is how often a naive coordinator's sender delivers the
// commits queued for its participant.
const SendEvery = 20 * time.Millisecond

// runCoordinator runs the coordinator until ctx ends.
func runCoordinator(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	variant, err := checkVariant(cfg.Variant)
	if err != nil {
		return err
	}
	parts := participantsOf(cfg.Roles)
	addrs := map[string]string{}
	for _, p := range parts {
		if cfg.Peers[p] == "" {
			return fmt.Errorf("twopc coordinator: no address for %s", p)
		}
		addrs[p] = cfg.Peers[p]
	}
	if len(parts) < 2 {
		return fmt.Errorf("twopc coordinator: %d participants", len(parts))
	}
	w, entries, err := openWAL(cfg.DataDir)
	if err != nil {
		return err
	}
	defer w.close()
	c := &coordinator{name: cfg.Name, variant: variant, parts: parts, addrs: addrs, log: log, wal: w,
		peers:     newPeers(&http.Transport{DialContext: (&net.Dialer{Timeout: CallTimeout}).DialContext, MaxIdleConnsPerHost: 16}),
		decisions: map[string]string{}, active: map[string]bool{}, undelivered: map[string]*delivery{},
		outbox: map[string][]string{}, pending: map[string]int{}, partsOf: map[string][]string{}}
	defer c.peers.close()
	for _, e := range entries {
		switch e.Kind {
		case "decide":
			c.decisions[e.Tx] = e.Decision
			left := map[string]bool{}
			for _, p := range e.Parts {
				left[p] = true
			}
			c.undelivered[e.Tx] = &delivery{decision: e.Decision, left: left, parts: e.Parts}
		case "done":
			delete(c.undelivered, e.Tx)
		}
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("coordinator serving", "decisions", len(c.decisions), "undelivered", len(c.undelivered))
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); c.resend(ctx) }()
	if variant == VariantNaive {
		for i, p := range parts {
			wg.Add(1)
			go func() { defer wg.Done(); c.sender(ctx, p, time.Duration(i)*SendEvery/time.Duration(len(parts))) }()
		}
	}
	return nodehttp.Serve(ctx, ln, c.handler(ctx))
}

// split returns the changes of t per participant.
func (c *coordinator) split(t bank.Transfer) (map[string]map[string]int64, error) {
	out := map[string]map[string]int64{}
	for acct, d := range map[string]int64{t.From: -t.Amount, t.To: t.Amount} {
		i, err := Owner(acct, len(c.parts))
		if err != nil {
			return nil, err
		}
		p := c.parts[i]
		if out[p] == nil {
			out[p] = map[string]int64{}
		}
		out[p][acct] = d
	}
	return out, nil
}

// send tells participant p decision on tx; true once p acknowledged it
// (or had already decided otherwise, which nothing can change now).
func (c *coordinator) send(ctx context.Context, p, tx, decision string) bool {
	route := RouteCommit
	if decision == decAbort {
		route = RouteAbort
	}
	cctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	var r Reply
	status, err := c.peers.call(cctx, c.addrs[p], http.MethodPost, route+tx, nil, &r)
	if err != nil {
		return false
	}
	if status == http.StatusConflict {
		c.log.Warn("participant decided otherwise", "participant", p, "tx", tx, "decision", decision, "reply", r.Error)
	}
	return status == http.StatusOK || status == http.StatusConflict
}

// deliver sends decision on tx to parts at once and returns those that
// did not acknowledge it.
func (c *coordinator) deliver(ctx context.Context, tx, decision string, parts []string) []string {
	var mu sync.Mutex
	var left []string
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !c.send(ctx, p, tx, decision) {
				mu.Lock()
				left = append(left, p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(left)
	return left
}

// later queues the participants left for a resend of decision on tx.
func (c *coordinator) later(tx, decision string, parts, left []string) {
	if len(left) == 0 {
		if err := c.wal.append(entry{Kind: "done", Tx: tx}, false); err != nil {
			c.log.Error("log done", "tx", tx, "err", err)
		}
		return
	}
	m := map[string]bool{}
	for _, p := range left {
		m[p] = true
	}
	c.mu.Lock()
	c.undelivered[tx] = &delivery{decision: decision, left: m, parts: parts}
	c.mu.Unlock()
}

// resend sends again, every ResendEvery until ctx ends, the decisions
// some participant has not acknowledged.
func (c *coordinator) resend(ctx context.Context) {
	tick := time.NewTicker(ResendEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		type job struct {
			tx string
			d  *delivery
			p  []string
		}
		var jobs []job
		for tx, d := range c.undelivered {
			var ps []string
			for p := range d.left {
				ps = append(ps, p)
			}
			jobs = append(jobs, job{tx, d, ps})
		}
		c.mu.Unlock()
		for _, j := range jobs {
			left := c.deliver(ctx, j.tx, j.d.decision, j.p)
			c.mu.Lock()
			for _, p := range j.p {
				if !slices.Contains(left, p) {
					delete(j.d.left, p)
				}
			}
			finished := len(j.d.left) == 0
			if finished {
				delete(c.undelivered, j.tx)
			}
			c.mu.Unlock()
			if finished {
				c.wal.append(entry{Kind: "done", Tx: j.tx}, false)
			}
		}
	}
}

// run runs transaction t and returns the HTTP status and reply for the
// client: 200 committed, 409 aborted, 503 refused before any prepare, 500
// when the decision could not be made durable.
func (c *coordinator) run(ctx context.Context, t bank.Transfer) (int, Reply) {
	if err := t.Validate(); err != nil || t.ID == "" {
		return http.StatusBadRequest, Reply{Error: "a transfer needs an id, two accounts and an amount"}
	}
	byPart, err := c.split(t)
	if err != nil {
		return http.StatusBadRequest, Reply{Error: err.Error()}
	}
	c.mu.Lock()
	if d, ok := c.decisions[t.ID]; ok {
		c.mu.Unlock()
		if d == decCommit {
			return http.StatusOK, Reply{Decision: d}
		}
		return http.StatusConflict, Reply{Decision: d, Error: "already aborted"}
	}
	if c.active[t.ID] {
		c.mu.Unlock()
		return http.StatusServiceUnavailable, Reply{Error: "already running"}
	}
	c.active[t.ID] = true
	c.mu.Unlock()

	parts := make([]string, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	// Prepare one participant after another, in cluster order, as reads
	// lock them: locks are always taken in one order, so that a transfer
	// and a read never wait for each other in a cycle.
	var noes []string
	for _, p := range c.ordered(parts) {
		cctx, cancel := context.WithTimeout(ctx, CallTimeout)
		var r Reply
		status, err := c.peers.call(cctx, c.addrs[p], http.MethodPost, RoutePrepare, PrepareBody{Tx: t.ID, Deltas: byPart[p]}, &r)
		cancel()
		switch {
		case err != nil:
			noes = append(noes, p+" no vote: "+err.Error())
		case status != http.StatusOK:
			noes = append(noes, fmt.Sprintf("%s no vote: status %d: %s", p, status, r.Error))
		case r.Vote != "yes":
			noes = append(noes, p+" voted no: "+r.Error)
		}
		if len(noes) > 0 {
			break
		}
	}
	if len(noes) == 0 {
		return c.commit(ctx, t.ID, parts)
	}
	c.abort(ctx, t.ID, parts)
	return http.StatusConflict, Reply{Decision: decAbort, Error: strings.Join(noes, "; ")}
}

// commit decides commit on tx, prepared on every one of parts.
func (c *coordinator) commit(ctx context.Context, tx string, parts []string) (int, Reply) {
	if c.variant == VariantNaive {
		// Answer at once and leave the commits to each participant's
		// sender, the decision held in memory only: a crash before every
		// sender has delivered it leaves it known to some participants.
		c.settle(tx, decCommit)
		c.mu.Lock()
		for _, p := range parts {
			c.outbox[p] = append(c.outbox[p], tx)
		}
		c.pending[tx] = len(parts)
		c.partsOf[tx] = parts
		c.mu.Unlock()
		return http.StatusOK, Reply{Decision: decCommit}
	}
	if err := c.wal.append(entry{Kind: "decide", Tx: tx, Decision: decCommit, Parts: parts}, true); err != nil {
		// Not durable: nobody has heard commit, so abort instead.
		c.log.Error("log decision", "tx", tx, "err", err)
		c.abort(ctx, tx, parts)
		return http.StatusInternalServerError, Reply{Error: "decision not durable: " + err.Error()}
	}
	c.settle(tx, decCommit)
	c.later(tx, decCommit, parts, c.deliver(ctx, tx, decCommit, parts))
	return http.StatusOK, Reply{Decision: decCommit}
}

// abort decides abort on tx and tells parts.
func (c *coordinator) abort(ctx context.Context, tx string, parts []string) {
	if err := c.wal.append(entry{Kind: "decide", Tx: tx, Decision: decAbort, Parts: parts}, c.variant == VariantCorrect); err != nil {
		c.log.Error("log decision", "tx", tx, "err", err)
	}
	c.settle(tx, decAbort)
	c.later(tx, decAbort, parts, c.deliver(ctx, tx, decAbort, parts))
}

// sender delivers, every SendEvery until ctx ends (the first time after
// offset, so that the participants' senders take turns), the naive
// variant's commits queued for participant p, one after another; a
// commit p did not acknowledge stays queued. Once every participant of a
// transaction has it, the decision is written down.
func (c *coordinator) sender(ctx context.Context, p string, offset time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(offset):
	}
	tick := time.NewTicker(SendEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		queue := c.outbox[p]
		c.outbox[p] = nil
		c.mu.Unlock()
		var left []string
		for _, tx := range queue {
			if ctx.Err() != nil || !c.send(ctx, p, tx, decCommit) {
				left = append(left, tx)
				continue
			}
			c.mu.Lock()
			c.pending[tx]--
			all := c.pending[tx] == 0
			parts := c.partsOf[tx]
			if all {
				delete(c.pending, tx)
				delete(c.partsOf, tx)
			}
			c.mu.Unlock()
			if all {
				if err := c.wal.append(entry{Kind: "decide", Tx: tx, Decision: decCommit, Parts: parts}, false); err != nil {
					c.log.Error("log decision", "tx", tx, "err", err)
				}
				c.wal.append(entry{Kind: "done", Tx: tx}, false)
			}
		}
		if len(left) > 0 {
			c.mu.Lock()
			c.outbox[p] = append(left, c.outbox[p]...)
			c.mu.Unlock()
		}
	}
}

// ordered returns parts in cluster order.
func (c *coordinator) ordered(parts []string) []string {
	var out []string
	for _, p := range c.parts {
		if slices.Contains(parts, p) {
			out = append(out, p)
		}
	}
	return out
}

// settle records decision on tx in memory: from now on the coordinator
// answers it to participants that ask.
func (c *coordinator) settle(tx, decision string) {
	c.mu.Lock()
	c.decisions[tx] = decision
	delete(c.active, tx)
	c.mu.Unlock()
}

// decision answers a participant in doubt about tx: the decision when
// there is one, pending while tx runs, and otherwise abort (a
// transaction this coordinator never decided, before a restart say, was
// never committed by anyone it told; the correct variant logs that abort
// before answering).
func (c *coordinator) decision(tx string) (string, error) {
	c.mu.Lock()
	d, ok := c.decisions[tx]
	running := c.active[tx]
	c.mu.Unlock()
	switch {
	case ok:
		return d, nil
	case running:
		return decPending, nil
	}
	if err := c.wal.append(entry{Kind: "decide", Tx: tx, Decision: decAbort}, c.variant == VariantCorrect); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.decisions[tx]; ok {
		return d, nil
	}
	c.decisions[tx] = decAbort
	return decAbort, nil
}

// read locks every account on every participant, then releases them; it
// returns the balances when every participant held its locks until the
// release.
func (c *coordinator) read(ctx context.Context, b ReadBody) (int, Reply) {
	if b.ID == "" || b.Accounts < 1 || b.Accounts > bank.MaxAccounts || b.Balance < 0 {
		return http.StatusBadRequest, Reply{Error: "a read needs an id, 1 to " + fmt.Sprint(bank.MaxAccounts) + " accounts and a balance"}
	}
	var mu sync.Mutex
	balances := map[string]int64{}
	var errs []string
	// Lock one participant after another, in cluster order (see run).
	var locked []string
	for _, p := range c.parts {
		cctx, cancel := context.WithTimeout(ctx, CallTimeout)
		var r Reply
		status, err := c.peers.call(cctx, c.addrs[p], http.MethodPost, RouteLock, b, &r)
		cancel()
		locked = append(locked, p)
		if err == nil && status == http.StatusOK {
			for a, v := range r.Balances {
				balances[a] = v
			}
			continue
		}
		if err != nil {
			errs = append(errs, p+": "+err.Error())
		} else {
			errs = append(errs, p+": "+r.Error)
		}
		break
	}
	var wg sync.WaitGroup
	for _, p := range locked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, CallTimeout)
			defer cancel()
			var r Reply
			status, err := c.peers.call(cctx, c.addrs[p], http.MethodPost, RouteRelease+b.ID, nil, &r)
			if err == nil && status == http.StatusOK && r.Held {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if len(errs) == 0 {
				errs = append(errs, p+": the read's locks were not held to the end")
			}
		}()
	}
	wg.Wait()
	sort.Strings(errs)
	if len(errs) > 0 {
		return http.StatusConflict, Reply{Error: strings.Join(errs, "; ")}
	}
	return http.StatusOK, Reply{Balances: balances}
}

// handler serves the coordinator's routes; transactions run under ctx
// (the node's), not the client's request, so that a client that leaves
// does not leave a transaction half done.
func (c *coordinator) handler(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+RouteHealth, func(w http.ResponseWriter, _ *http.Request) {
		reply(w, c.name, http.StatusOK, Reply{})
	})
	mux.HandleFunc("POST "+RouteTransfer, func(w http.ResponseWriter, req *http.Request) {
		var t bank.Transfer
		if !decode(w, req, c.name, &t) {
			return
		}
		status, r := c.run(ctx, t)
		reply(w, c.name, status, r)
	})
	mux.HandleFunc("POST "+RouteRead, func(w http.ResponseWriter, req *http.Request) {
		var b ReadBody
		if !decode(w, req, c.name, &b) {
			return
		}
		status, r := c.read(ctx, b)
		reply(w, c.name, status, r)
	})
	mux.HandleFunc("GET "+RouteDecision+"{tx}", func(w http.ResponseWriter, req *http.Request) {
		d, err := c.decision(req.PathValue("tx"))
		if err != nil {
			reply(w, c.name, http.StatusInternalServerError, Reply{Error: err.Error()})
			return
		}
		reply(w, c.name, http.StatusOK, Reply{Decision: d})
	})
	return mux
}
