// Package effects checks that requests took effect at most once: the
// duplicate-side-effects checker shared by workloads whose clients send
// requests named by client-chosen ids (a payment, a transaction of a
// two-phase commit, a step of a saga) and whose target keeps one record of
// each request it applied (a ledger row, a committed transaction, a
// completed step).
//
// The caller lists the requests the clients sent, each with every attempt
// to deliver it and that attempt's outcome, and the effects read back at
// the end, each naming the request it belongs to. Check then applies, per
// request id:
//
//   - at most one effect, ever (a second is a Duplicate);
//   - an acknowledged request (any attempt ok) has exactly one (none is
//     Missing);
//   - a request whose every attempt failed has none (one is Unexpected);
//   - a request with an attempt of unknown outcome (info) and none ok has
//     zero or one;
//   - an effect naming an id no request was sent with is a Phantom;
//   - an effect whose key or content differs from its request's is a
//     Mismatch.
//
// Anomalies name the request id and the history indices of the attempts
// and of the reads of the effects involved, and describe the finding in
// one plain sentence.
package effects

import (
	"fmt"
	"sort"
	"strings"

	"github.com/faultline/faultline/core"
)

// Kind names one kind of anomaly.
type Kind string

// The kinds of anomaly Check reports, in the order it lists them.
const (
	// Duplicate: a request took effect more than once.
	Duplicate Kind = "duplicate-effect"
	// Missing: a request was acknowledged but took no effect.
	Missing Kind = "missing-effect"
	// Unexpected: a request failed on every attempt, yet took effect.
	Unexpected Kind = "unexpected-effect"
	// Phantom: an effect names a request id that was never sent.
	Phantom Kind = "phantom-effect"
	// Mismatch: an effect's key or content differs from its request's.
	Mismatch Kind = "effect-mismatch"
)

// Kinds lists every kind, in the order Check lists anomalies.
var Kinds = []Kind{Duplicate, Missing, Unexpected, Phantom, Mismatch}

// Attempt is one delivery of a request to the system: its outcome and
// where it is in the history.
type Attempt struct {
	// Type is core.OK (acknowledged: it took effect), core.Fail (it
	// certainly did not take effect) or core.Info (unknown: it may or may
	// not have, now or later).
	Type core.Type
	// Events are the history indices of the attempt (its invocation and
	// completion).
	Events []int
}

// Request is what the clients sent under one request id.
type Request struct {
	// ID is the client-chosen request id; it must not be empty.
	ID string
	// Key is where the request's effect belongs (an account); empty means
	// anywhere. An effect in another key is a Mismatch.
	Key string
	// Content is a short phrase for what the request asks, compared as
	// text with its effects' ("amount 42"); empty means it is not
	// compared.
	Content string
	// Attempts lists every delivery of the request: a client's retries
	// and duplicate deliveries by several clients alike.
	Attempts []Attempt
	// Unread is true when the request's effects could not all be read
	// back (its key's record was not read whole): having fewer effects
	// than it should is then not an anomaly, and the request is counted
	// in Counts.Unread instead of by its outcome. Too many effects, or
	// wrong ones, still are anomalies.
	Unread bool
}

// Effect is one effect read back at the end.
type Effect struct {
	// ID is the request id the effect names.
	ID string
	// Key is where the effect was found; Content what it records, in the
	// terms of Request.Content. Either is compared only when both the
	// effect's and its request's are set.
	Key     string
	Content string
	// Where names the effect in descriptions ("row 3 of a0's ledger");
	// empty means "effect <its position in the effects given to Check>".
	Where string
	// Events are the history indices of the read that returned the
	// effect.
	Events []int
}

// Anomaly is one finding of Check.
type Anomaly struct {
	Kind Kind
	// ID is the request id involved; Key the request's key or, for a
	// Phantom, the key of its first effect.
	ID  string
	Key string
	// Description is one plain sentence.
	Description string
	// AttemptEvents are the history indices of the request's attempts, in
	// order (none for a Phantom).
	AttemptEvents []int
	// Effects are the positions, in the effects given to Check, of the
	// effects involved; EffectEvents the history indices of their reads,
	// in order.
	Effects      []int
	EffectEvents []int
}

// Events returns the history indices of every event involved, in order,
// each once.
func (a Anomaly) Events() []int {
	all := append(append([]int(nil), a.AttemptEvents...), a.EffectEvents...)
	sort.Ints(all)
	return compact(all)
}

// Core returns a as a core.Anomaly.
func (a Anomaly) Core() core.Anomaly {
	return core.Anomaly{Kind: string(a.Kind), Key: a.Key, Description: a.Description, Events: a.Events()}
}

// Counts sums up the requests and effects Check saw.
type Counts struct {
	// IDs counts the distinct request ids; Attempts every attempt.
	IDs      int `json:"ids"`
	Attempts int `json:"attempts"`
	// Acknowledged counts the ids with an ok attempt; Failed those whose
	// every attempt failed; Indeterminate those with an info attempt and
	// none ok, of which IndeterminateApplied have an effect and
	// IndeterminateNotApplied none. Unread counts the ids whose effects
	// could not all be read back (Request.Unread), which are in none of
	// those.
	Acknowledged            int `json:"acknowledged"`
	Failed                  int `json:"failed"`
	Indeterminate           int `json:"indeterminate"`
	IndeterminateApplied    int `json:"indeterminate_applied"`
	IndeterminateNotApplied int `json:"indeterminate_not_applied"`
	Unread                  int `json:"unread,omitempty"`
	// Effects counts the effects read back.
	Effects int `json:"effects"`
}

// Result is what Check found.
type Result struct {
	// Anomalies lists the findings, kind by kind in the order of Kinds,
	// then in the order the requests were first given (for Phantom: the
	// order of their first effects).
	Anomalies []Anomaly
	Counts    Counts
	// ByKind counts the anomalies by kind (absent kinds are left out).
	ByKind map[Kind]int
}

// Valid reports whether Check found no anomaly.
func (r Result) Valid() bool { return len(r.Anomalies) == 0 }

// request is the merged state of one request id.
type request struct {
	Request
	effects []int // positions in the effects
}

// Check judges the effects against the requests by the rules of the
// package documentation. Requests with the same ID are merged: their
// attempts are joined, and Unread is true if any of them says so.
//
// It returns an error wrapping core.ErrBadInput when a request has an
// empty ID, an attempt's Type is not ok, fail or info, or two requests of
// one ID disagree on Key or Content (the clients sent two different
// requests under one id, and the effects cannot be told apart).
func Check(reqs []Request, effects []Effect) (Result, error) {
	byID := make(map[string]int, len(reqs)) // position in order
	order := make([]request, 0, len(reqs))
	res := Result{ByKind: map[Kind]int{}}
	for _, r := range reqs {
		if r.ID == "" {
			return Result{}, core.BadInput("a request without an id (attempts at %s)", attemptEvents(r.Attempts))
		}
		for _, a := range r.Attempts {
			if a.Type != core.OK && a.Type != core.Fail && a.Type != core.Info {
				return Result{}, core.BadInput("request %s: attempt at %s has outcome %q, not ok, fail or info", r.ID, eventList(a.Events), a.Type)
			}
		}
		res.Counts.Attempts += len(r.Attempts)
		at, seen := byID[r.ID]
		if !seen {
			// Capped, so that merging copies instead of writing into the
			// caller's array.
			r.Attempts = r.Attempts[:len(r.Attempts):len(r.Attempts)]
			byID[r.ID] = len(order)
			order = append(order, request{Request: r})
			continue
		}
		m := &order[at]
		if r.Key != m.Key || r.Content != m.Content {
			return Result{}, core.BadInput("request %s was sent as %s (attempts at %s) and as %s (attempts at %s)",
				r.ID, sentAs(m.Key, m.Content), attemptEvents(m.Attempts), sentAs(r.Key, r.Content), attemptEvents(r.Attempts))
		}
		m.Attempts = append(m.Attempts, r.Attempts...)
		m.Unread = m.Unread || r.Unread
	}
	res.Counts.IDs = len(order)
	res.Counts.Effects = len(effects)

	var phantomOrder []string
	phantoms := map[string][]int{}
	for i, e := range effects {
		if at, ok := byID[e.ID]; ok {
			order[at].effects = append(order[at].effects, i)
			continue
		}
		if phantoms[e.ID] == nil {
			phantomOrder = append(phantomOrder, e.ID)
		}
		phantoms[e.ID] = append(phantoms[e.ID], i)
	}

	found := map[Kind][]Anomaly{}
	add := func(a Anomaly) { found[a.Kind] = append(found[a.Kind], a) }
	for at := range order {
		m := &order[at]
		ok, info := 0, 0
		for _, a := range m.Attempts {
			switch a.Type {
			case core.OK:
				ok++
			case core.Info:
				info++
			}
		}
		n := len(m.effects)
		switch {
		case m.Unread:
			res.Counts.Unread++
		case ok > 0:
			res.Counts.Acknowledged++
		case info > 0:
			res.Counts.Indeterminate++
			if n > 0 {
				res.Counts.IndeterminateApplied++
			} else {
				res.Counts.IndeterminateNotApplied++
			}
		default:
			res.Counts.Failed++
		}
		anomaly := func(k Kind) Anomaly {
			return Anomaly{Kind: k, ID: m.ID, Key: m.Key, AttemptEvents: attemptEventList(m.Attempts)}
		}
		if n > 1 {
			a := anomaly(Duplicate)
			a.setEffects(effects, m.effects)
			a.Description = fmt.Sprintf("request %s took effect %d times, at most once allowed: %s; %s",
				m.ID, n, describeEffects(effects, m.effects), describeAttempts(m.Attempts))
			add(a)
		}
		if n == 0 && ok > 0 && !m.Unread {
			a := anomaly(Missing)
			a.Description = fmt.Sprintf("request %s was acknowledged but took no effect: no effect read back names it; %s",
				m.ID, describeAttempts(m.Attempts))
			add(a)
		}
		if n > 0 && ok == 0 && info == 0 {
			a := anomaly(Unexpected)
			a.setEffects(effects, m.effects)
			a.Description = fmt.Sprintf("request %s failed on every attempt, yet took effect: %s; %s",
				m.ID, describeEffects(effects, m.effects), describeAttempts(m.Attempts))
			add(a)
		}
		for _, i := range m.effects {
			e := effects[i]
			var diffs []string
			if m.Key != "" && e.Key != "" && e.Key != m.Key {
				diffs = append(diffs, fmt.Sprintf("for %s, but %s is in %s", m.Key, describeEffect(effects, i), e.Key))
			}
			if m.Content != "" && e.Content != "" && e.Content != m.Content {
				diffs = append(diffs, fmt.Sprintf("as %s, but %s records %s", m.Content, describeEffect(effects, i), e.Content))
			}
			if len(diffs) == 0 {
				continue
			}
			a := anomaly(Mismatch)
			a.setEffects(effects, []int{i})
			a.Description = fmt.Sprintf("request %s was sent %s", m.ID, strings.Join(diffs, "; and sent "))
			add(a)
		}
	}
	for _, id := range phantomOrder {
		at := phantoms[id]
		a := Anomaly{Kind: Phantom, ID: id, Key: effects[at[0]].Key}
		a.setEffects(effects, at)
		name := "request " + id
		if id == "" {
			name = "no request id"
		}
		if len(at) == 1 {
			a.Description = fmt.Sprintf("%s names %s, which was never sent", describeEffect(effects, at[0]), name)
		} else {
			a.Description = fmt.Sprintf("%d effects name %s, which was never sent: %s", len(at), name, describeEffects(effects, at))
		}
		add(a)
	}
	for _, k := range Kinds {
		res.Anomalies = append(res.Anomalies, found[k]...)
		if n := len(found[k]); n > 0 {
			res.ByKind[k] = n
		}
	}
	return res, nil
}

// setEffects records the effects at positions at, and their reads'
// events, in a.
func (a *Anomaly) setEffects(effects []Effect, at []int) {
	a.Effects = append([]int(nil), at...)
	var ev []int
	for _, i := range at {
		ev = append(ev, effects[i].Events...)
	}
	sort.Ints(ev)
	a.EffectEvents = compact(ev)
}

// sentAs phrases a request's key and content for a conflict.
func sentAs(key, content string) string {
	var parts []string
	if content != "" {
		parts = append(parts, content)
	}
	if key != "" {
		parts = append(parts, "for "+key)
	}
	if len(parts) == 0 {
		return "nothing in particular"
	}
	return strings.Join(parts, " ")
}

// describeEffect names the effect at position i: its Where, or "effect
// i", and the read that returned it: "row 3 of a0's ledger (read at event
// 41)".
func describeEffect(effects []Effect, i int) string {
	e := effects[i]
	s := e.Where
	if s == "" {
		s = fmt.Sprintf("effect %d", i)
	}
	if len(e.Events) > 0 {
		s += fmt.Sprintf(" (read at event %d)", e.Events[len(e.Events)-1])
	}
	return s
}

// describeEffects names the effects at positions at, up to five, then
// how many more.
func describeEffects(effects []Effect, at []int) string {
	var parts []string
	for n, i := range at {
		if n == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(at)-5))
			break
		}
		parts = append(parts, describeEffect(effects, i))
	}
	return strings.Join(parts, ", ")
}

// describeAttempts phrases a request's attempts: "attempts: ok at events
// 3, 8; info at events 10, 15", up to five, then how many more.
func describeAttempts(as []Attempt) string {
	if len(as) == 0 {
		return "no attempt recorded"
	}
	var parts []string
	for n, a := range as {
		if n == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(as)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%s at %s", a.Type, eventList(a.Events)))
	}
	noun := "attempts"
	if len(as) == 1 {
		noun = "attempt"
	}
	return noun + ": " + strings.Join(parts, "; ")
}

// attemptEvents phrases the events of attempts for an error message.
func attemptEvents(as []Attempt) string { return eventList(attemptEventList(as)) }

// attemptEventList returns the history indices of attempts, in order,
// each once.
func attemptEventList(as []Attempt) []int {
	var ev []int
	for _, a := range as {
		ev = append(ev, a.Events...)
	}
	sort.Ints(ev)
	return compact(ev)
}

// eventList phrases event indices: "event 4", "events 4, 9", "no event".
func eventList(ev []int) string {
	switch len(ev) {
	case 0:
		return "no event"
	case 1:
		return fmt.Sprintf("event %d", ev[0])
	}
	s := make([]string, len(ev))
	for i, e := range ev {
		s[i] = fmt.Sprint(e)
	}
	return "events " + strings.Join(s, ", ")
}

// compact removes adjacent duplicates from a sorted slice.
func compact(s []int) []int {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
