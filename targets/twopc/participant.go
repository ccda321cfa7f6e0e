package twopc

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/faultline/faultline/internal/nodehttp"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/transfer"
)

// Timings of the participants.
const (
	// LockWait is how long a prepare or a read waits for the locks it
	// needs before giving up (a no vote, a failed read).
	LockWait = 300 * time.Millisecond
	// AskEvery is how often a participant in doubt asks the coordinator
	// for the decision; the first time AskEvery after its yes vote.
	AskEvery = 100 * time.Millisecond
	// AloneAfter is how long a naive participant stays in doubt before it
	// aborts on its own.
	AloneAfter = time.Second
	// ReadHold is how long a read's locks are held at most: a read whose
	// coordinator never releases them is dropped (reads change nothing,
	// so that is safe; the release then says they were not held).
	ReadHold = 3 * time.Second
	// MaxSettle bounds how long a records read waits for transactions in
	// doubt to be decided.
	MaxSettle = 20 * time.Second
)

// ptx is a transaction a participant prepared.
type ptx struct {
	id       string
	deltas   map[string]int64
	state    string // transfer.InDoubt, Committed or Aborted
	prepared time.Time
	decided  time.Time
	alone    bool
	asked    bool // a resolve loop runs for it
}

// participant is one participant node.
type participant struct {
	name    string
	variant string
	index   int // position among the participants
	count   int // number of participants
	coord   string
	log     *slog.Logger
	wal     *wal
	peers   *peers

	mu       sync.Mutex
	cond     *sync.Cond
	balances map[string]int64 // open accounts this participant owns
	txs      map[string]*ptx
	order    []*ptx            // in the order prepared
	locks    map[string]string // account → holder (a tx id, or "read:" + a read id)
	reads    map[string][]string
	decided  chan struct{} // closed and replaced whenever a transaction is decided
}

// runParticipant runs a participant until ctx ends.
func runParticipant(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	variant, err := checkVariant(cfg.Variant)
	if err != nil {
		return err
	}
	parts := participantsOf(cfg.Roles)
	idx := slices.Index(parts, cfg.Name)
	coords := cfg.Roles[RoleCoordinator]
	if idx < 0 || len(coords) != 1 || cfg.Peers[coords[0]] == "" {
		return fmt.Errorf("twopc participant %s: not laid out as a participant with one reachable coordinator", cfg.Name)
	}
	w, entries, err := openWAL(cfg.DataDir)
	if err != nil {
		return err
	}
	defer w.close()
	p := &participant{name: cfg.Name, variant: variant, index: idx, count: len(parts), coord: cfg.Peers[coords[0]],
		log: log, wal: w, peers: newPeers(&http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext, MaxIdleConnsPerHost: 4}),
		balances: map[string]int64{}, txs: map[string]*ptx{}, locks: map[string]string{}, reads: map[string][]string{}, decided: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	defer p.peers.close()
	p.replay(entries)
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	p.mu.Lock()
	var doubt []*ptx
	for _, t := range p.order {
		if t.state == transfer.InDoubt {
			t.asked = true
			doubt = append(doubt, t)
		}
	}
	p.mu.Unlock()
	for _, t := range doubt {
		wg.Add(1)
		go func() { defer wg.Done(); p.resolve(ctx, t) }()
	}
	log.Info("participant serving", "accounts", len(p.balances), "transactions", len(p.order), "in_doubt", len(doubt))
	return nodehttp.Serve(ctx, ln, p.handler(ctx, &wg))
}

// replay rebuilds the state from the log: balances from the opens and the
// committed changes, locks for the transactions still in doubt.
func (p *participant) replay(entries []entry) {
	for _, e := range entries {
		switch e.Kind {
		case "open":
			for _, a := range e.Accounts {
				if _, ok := p.balances[a]; !ok {
					p.balances[a] = e.Balance
				}
			}
		case "prepare":
			if p.txs[e.Tx] != nil {
				continue
			}
			t := &ptx{id: e.Tx, deltas: e.Deltas, state: transfer.InDoubt, prepared: time.Unix(0, e.At)}
			p.txs[e.Tx] = t
			p.order = append(p.order, t)
		case "commit", "abort":
			t := p.txs[e.Tx]
			if t == nil || t.state != transfer.InDoubt {
				continue
			}
			t.state, t.decided, t.alone = transfer.Aborted, time.Unix(0, e.At), e.Alone
			if e.Kind == "commit" {
				t.state = transfer.Committed
				for a, d := range t.deltas {
					p.balances[a] += d
				}
			}
		}
	}
	for _, t := range p.order {
		if t.state == transfer.InDoubt {
			for a := range t.deltas {
				p.locks[a] = t.id
			}
		}
	}
}

// owns reports whether account lives on this participant.
func (p *participant) owns(account string) bool {
	i, err := Owner(account, p.count)
	return err == nil && i == p.index
}

// lockLocked takes the locks on accounts for holder, waiting up to
// LockWait (p.mu held; the wait releases it). It takes all or none; the
// error says which account was busy and why.
func (p *participant) lockLocked(accounts []string, holder string) error {
	deadline := time.Now().Add(LockWait)
	timer := time.AfterFunc(LockWait, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	for {
		busy := ""
		for _, a := range accounts {
			if h, ok := p.locks[a]; ok && h != holder {
				busy = a
				break
			}
		}
		if busy == "" {
			for _, a := range accounts {
				p.locks[a] = holder
			}
			return nil
		}
		if !time.Now().Before(deadline) {
			h := p.locks[busy]
			if t := p.txs[h]; t != nil && t.state == transfer.InDoubt {
				return fmt.Errorf("%s is locked by %s, %s since %v", busy, h, transfer.RefusedInDoubt, time.Since(t.prepared).Round(time.Millisecond))
			}
			return fmt.Errorf("%s is locked by %s", busy, h)
		}
		p.cond.Wait()
	}
}

// unlockLocked drops holder's locks on accounts (p.mu held).
func (p *participant) unlockLocked(accounts []string, holder string) {
	for _, a := range accounts {
		if p.locks[a] == holder {
			delete(p.locks, a)
		}
	}
	p.cond.Broadcast()
}

func keys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// prepare votes on b: yes once its changes are logged durably and their
// accounts locked, no (with the reason) otherwise. It is idempotent.
func (p *participant) prepare(b PrepareBody) (vote, why string) {
	if b.Tx == "" || len(b.Deltas) == 0 {
		return "no", "a prepare needs a transaction id and changes"
	}
	accts := keys(b.Deltas)
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.txs[b.Tx]; t != nil {
		if t.state == transfer.Aborted {
			return "no", "already aborted"
		}
		return "yes", ""
	}
	for _, a := range accts {
		if !p.owns(a) {
			return "no", fmt.Sprintf("%s does not live on %s", a, p.name)
		}
		if _, ok := p.balances[a]; !ok {
			return "no", fmt.Sprintf("account %s is not open (no read has opened the accounts)", a)
		}
	}
	if err := p.lockLocked(accts, b.Tx); err != nil {
		return "no", err.Error()
	}
	for _, a := range accts {
		if p.balances[a]+b.Deltas[a] < 0 {
			p.unlockLocked(accts, b.Tx)
			return "no", fmt.Sprintf("insufficient funds: %s holds %d", a, p.balances[a])
		}
	}
	now := time.Now()
	if err := p.wal.append(entry{Kind: "prepare", Tx: b.Tx, Deltas: b.Deltas, At: now.UnixNano()}, true); err != nil {
		p.unlockLocked(accts, b.Tx)
		return "no", err.Error()
	}
	t := &ptx{id: b.Tx, deltas: b.Deltas, state: transfer.InDoubt, prepared: now}
	p.txs[b.Tx] = t
	p.order = append(p.order, t)
	return "yes", ""
}

// decide applies decision (decCommit or decAbort) to tx; alone says the
// participant decides without the coordinator. It returns the state the
// transaction ends in, and an error when the log could not be written
// (the decision is then not applied).
func (p *participant) decide(tx, decision string, alone bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.txs[tx]
	if t == nil {
		if decision == decAbort {
			return transfer.Aborted, nil
		}
		return "", fmt.Errorf("%s never prepared %s", p.name, tx)
	}
	if t.state != transfer.InDoubt {
		return t.state, nil
	}
	now := time.Now()
	kind := "abort"
	if decision == decCommit {
		kind = "commit"
	}
	if err := p.wal.append(entry{Kind: kind, Tx: tx, At: now.UnixNano(), Alone: alone}, true); err != nil {
		return "", err
	}
	t.decided, t.alone = now, alone
	t.state = transfer.Aborted
	if decision == decCommit {
		t.state = transfer.Committed
		for a, d := range t.deltas {
			p.balances[a] += d
		}
	}
	p.unlockLocked(keys(t.deltas), tx)
	close(p.decided)
	p.decided = make(chan struct{})
	return t.state, nil
}

// resolve waits for t's decision: it asks the coordinator every AskEvery
// until t is decided (by the coordinator's word here or its message) or
// ctx ends; a naive participant aborts alone after AloneAfter.
func (p *participant) resolve(ctx context.Context, t *ptx) {
	tick := time.NewTicker(AskEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p.mu.Lock()
		state, since := t.state, time.Since(t.prepared)
		p.mu.Unlock()
		if state != transfer.InDoubt {
			return
		}
		if p.variant == VariantNaive && since >= AloneAfter {
			if _, err := p.decide(t.id, decAbort, true); err != nil {
				p.log.Error("abort alone", "tx", t.id, "err", err)
			}
			continue
		}
		actx, cancel := context.WithTimeout(ctx, AskEvery*3)
		var r Reply
		status, err := p.peers.call(actx, p.coord, http.MethodGet, RouteDecision+t.id, nil, &r)
		cancel()
		if err != nil || status != http.StatusOK {
			continue
		}
		if r.Decision == decCommit || r.Decision == decAbort {
			if _, err := p.decide(t.id, r.Decision, false); err != nil {
				p.log.Error("decide", "tx", t.id, "err", err)
			}
		}
	}
}

// open opens the accounts of b that live here and are not open yet, with
// b's balance, durably.
func (p *participant) openLocked(b ReadBody) error {
	var missing []string
	for i := range b.Accounts {
		a := "a" + strconv.Itoa(i)
		if _, ok := p.balances[a]; !ok && p.owns(a) {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := p.wal.append(entry{Kind: "open", Accounts: missing, Balance: b.Balance, At: time.Now().UnixNano()}, true); err != nil {
		return err
	}
	for _, a := range missing {
		p.balances[a] = b.Balance
	}
	return nil
}

// lockRead opens b's accounts, locks every account here for read b.ID
// (for ReadHold at most) and returns their balances.
func (p *participant) lockRead(ctx context.Context, b ReadBody, wg *sync.WaitGroup) (map[string]int64, error) {
	if b.ID == "" || b.Accounts < 1 || b.Balance < 0 {
		return nil, fmt.Errorf("a read needs an id, accounts and a balance")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.openLocked(b); err != nil {
		return nil, err
	}
	holder := "read:" + b.ID
	accts := keys(p.balances)
	if err := p.lockLocked(accts, holder); err != nil {
		return nil, err
	}
	p.reads[b.ID] = accts
	out := make(map[string]int64, len(accts))
	for _, a := range accts {
		out[a] = p.balances[a]
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(ReadHold)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
			p.release(b.ID)
		}
	}()
	return out, nil
}

// release drops read id's locks; it reports whether the read still held
// them.
func (p *participant) release(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	accts, ok := p.reads[id]
	if !ok {
		return false
	}
	delete(p.reads, id)
	p.unlockLocked(accts, "read:"+id)
	return true
}

// inDoubt counts the transactions in doubt and returns the channel closed
// at the next decision.
func (p *participant) inDoubt() (int, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, t := range p.order {
		if t.state == transfer.InDoubt {
			n++
		}
	}
	return n, p.decided
}

// records waits up to settle for no transaction to be in doubt, then
// returns records from..from+count-1 and how many are in doubt.
func (p *participant) records(ctx context.Context, from, count int, settle time.Duration) ([]transfer.Record, int) {
	deadline := time.NewTimer(min(settle, MaxSettle))
	defer deadline.Stop()
wait:
	for {
		n, ch := p.inDoubt()
		if n == 0 {
			break
		}
		select {
		case <-ch:
		case <-deadline.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	out := []transfer.Record{}
	doubt := 0
	for i, t := range p.order {
		end := t.decided
		if t.state == transfer.InDoubt {
			doubt++
			end = now
		}
		if i < from || i >= from+count {
			continue
		}
		out = append(out, transfer.Record{Tx: t.id, State: t.state, Deltas: t.deltas, InDoubtNs: max(int64(end.Sub(t.prepared)), 0), Alone: t.alone})
	}
	return out, doubt
}

// handler serves the participant's routes; wg counts the goroutines it
// starts.
func (p *participant) handler(ctx context.Context, wg *sync.WaitGroup) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+RouteHealth, func(w http.ResponseWriter, _ *http.Request) {
		reply(w, p.name, http.StatusOK, Reply{})
	})
	mux.HandleFunc("POST "+RoutePrepare, func(w http.ResponseWriter, req *http.Request) {
		var b PrepareBody
		if !decode(w, req, p.name, &b) {
			return
		}
		vote, why := p.prepare(b)
		if vote == "yes" {
			p.mu.Lock()
			t := p.txs[b.Tx]
			fresh := t != nil && t.state == transfer.InDoubt && !t.asked
			if fresh {
				t.asked = true
			}
			p.mu.Unlock()
			if fresh {
				wg.Add(1)
				go func() { defer wg.Done(); p.resolve(ctx, t) }()
			}
		}
		reply(w, p.name, http.StatusOK, Reply{Vote: vote, Error: why})
	})
	for route, decision := range map[string]string{RouteCommit: decCommit, RouteAbort: decAbort} {
		mux.HandleFunc("POST "+route+"{tx}", func(w http.ResponseWriter, req *http.Request) {
			state, err := p.decide(req.PathValue("tx"), decision, false)
			switch {
			case err != nil:
				reply(w, p.name, http.StatusInternalServerError, Reply{Error: err.Error()})
			case state == transfer.Committed && decision == decAbort, state == transfer.Aborted && decision == decCommit:
				reply(w, p.name, http.StatusConflict, Reply{Error: "already " + state})
			default:
				reply(w, p.name, http.StatusOK, Reply{})
			}
		})
	}
	mux.HandleFunc("POST "+RouteLock, func(w http.ResponseWriter, req *http.Request) {
		var b ReadBody
		if !decode(w, req, p.name, &b) {
			return
		}
		bal, err := p.lockRead(ctx, b, wg)
		if err != nil {
			reply(w, p.name, http.StatusConflict, Reply{Error: err.Error()})
			return
		}
		reply(w, p.name, http.StatusOK, Reply{Balances: bal})
	})
	mux.HandleFunc("POST "+RouteRelease+"{id}", func(w http.ResponseWriter, req *http.Request) {
		reply(w, p.name, http.StatusOK, Reply{Held: p.release(req.PathValue("id"))})
	})
	mux.HandleFunc("GET "+RouteRecords, func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		from, err1 := strconv.Atoi(q.Get("from"))
		count, err2 := strconv.Atoi(q.Get("count"))
		settle, err3 := time.ParseDuration(q.Get("settle"))
		if err1 != nil || err2 != nil || err3 != nil || from < 0 || count < 1 {
			reply(w, p.name, http.StatusBadRequest, Reply{Error: "want from, count and settle"})
			return
		}
		rs, doubt := p.records(req.Context(), from, count, settle)
		reply(w, p.name, http.StatusOK, Reply{Records: rs, InDoubt: doubt})
	})
	return mux
}
