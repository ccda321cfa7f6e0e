// Package core holds faultline's vocabulary: operations, events, histories,
// the Client interface and verdicts. It imports nothing but the standard
// library, so a program that only reads, writes or judges histories pulls
// in no engine (no Docker client, no proxies, no raft). The root package
// faultline re-exports every name here.
package core

import (
	"context"
	"errors"
	"fmt"
)

// Type says what an event records: an invocation or one of the three
// possible completions.
type Type string

// The four event types of a history.
const (
	// Invoke is recorded just before a client calls the system.
	Invoke Type = "invoke"
	// OK means the operation took effect.
	OK Type = "ok"
	// Fail means the operation certainly did not take effect.
	Fail Type = "fail"
	// Info means the outcome is unknown: the operation may or may not have
	// taken effect, now or at any later time.
	Info Type = "info"
)

// Valid reports whether t is one of the four event types.
func (t Type) Valid() bool {
	switch t {
	case Invoke, OK, Fail, Info:
		return true
	}
	return false
}

// NemesisProcess is the process id of the nemesis in a history.
const NemesisProcess = -1

// Op is one operation as a client sees it. Value is the workload's typed
// value (for the register workload: int64 for write, [2]int64 for cas, nil or
// int64 for a read's result). On invocation Type is Invoke; a Client returns
// the same Op with Type set to OK, Fail or Info and Value, Node and Error
// filled in where known.
type Op struct {
	Type  Type
	F     string
	Key   string
	Value any
	Node  string
	Error string
}

// Event is one line of a history: an operation as recorded, with its dense
// index, its time in nanoseconds since the run started (monotonic), and the
// process that performed it (NemesisProcess for the nemesis).
type Event struct {
	Index   int
	Time    int64
	Process int
	Op
}

// History is a sequence of events in index order.
type History []Event

// Client performs operations against one target system on behalf of one
// process. Invoke must return within the context's deadline; a timeout or
// an error whose effect is unclear is reported as Info, a definite refusal
// as Fail. Close releases the client's connections; the controller calls it
// once, when the process retires.
type Client interface {
	Invoke(ctx context.Context, op Op) Op
	Close() error
}

// Verdict is the three-way answer of a checker.
type Verdict string

// The three verdicts. Invalid beats Unknown beats Valid when verdicts are
// combined.
const (
	Valid   Verdict = "valid"
	Invalid Verdict = "invalid"
	Unknown Verdict = "unknown"
)

// Combine returns the verdict of a composition: invalid beats unknown beats
// valid. The verdict of nothing is valid.
func Combine(vs ...Verdict) Verdict {
	out := Valid
	for _, v := range vs {
		switch v {
		case Invalid:
			return Invalid
		case Valid:
		default:
			out = Unknown
		}
	}
	return out
}

// ExitCode maps a verdict to the process exit code of docs/formats.md: 0 valid,
// 1 invalid, 2 unknown.
func (v Verdict) ExitCode() int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 1
	}
	return 2
}

// ErrBadInput marks errors caused by the user's input (flags, test files,
// history files). The CLI maps it to exit code 3 like every other error that
// stops a run, but callers can branch on it with errors.Is.
var ErrBadInput = errors.New("bad input")

// BadInput returns an error wrapping ErrBadInput with a formatted message.
// Its text is the message alone, so it prints as one clear line.
func BadInput(format string, args ...any) error {
	return badInput{msg: fmt.Sprintf(format, args...)}
}

type badInput struct{ msg string }

func (b badInput) Error() string        { return b.msg }
func (b badInput) Is(target error) bool { return target == ErrBadInput }

// Anomaly is one thing a checker found wrong, in plain words, with the
// history indices of the events involved.
type Anomaly struct {
	Kind        string `json:"kind"`
	Key         string `json:"key,omitempty"`
	Description string `json:"description"`
	Events      []int  `json:"events,omitempty"`
}

// CheckResult is what one checker says about a history. Summary is one
// readable line; Files names files the checker wrote into the run folder,
// relative to it.
type CheckResult struct {
	Checker   string    `json:"checker"`
	Verdict   Verdict   `json:"verdict"`
	Summary   string    `json:"summary"`
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	Files     []string  `json:"files,omitempty"`
	Details   any       `json:"details,omitempty"`
}
