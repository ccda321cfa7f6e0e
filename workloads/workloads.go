// Package workloads defines what a workload provides: a generator of
// operations, final reads, decoding of its history values, and the checkers
// that judge its histories. Each workload lives in its own sub-package.
package workloads

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
)

// Generator hands out the operations of one run. The controller calls Next
// from one goroutine at a time, so the sequence depends only on the seed.
type Generator interface {
	// Next returns the next operation to invoke, or false when there are no
	// more.
	Next() (core.Op, bool)
	// FinalReads returns the operations that read the final state once the
	// faults are healed.
	FinalReads() []core.Op
}

// CheckOptions configures a check.
type CheckOptions struct {
	// Dir is the run folder into which checkers write their files; empty
	// means write no files.
	Dir string
}

// Workload is one kind of client load with its checkers.
type Workload interface {
	// Name is the --workload name.
	Name() string
	// Description is one line for `faultline list`.
	Description() string
	// NewGenerator returns the generator for one run over keys keys.
	NewGenerator(keys int, rng *rand.Rand) Generator
	// DecodeValue turns the JSON value of an event read from a history
	// file into the typed value the workload's checkers expect.
	DecodeValue(f string, t core.Type, raw json.RawMessage) (any, error)
	// Check runs the workload's checkers on h. A checker that runs past
	// ctx's deadline says unknown, never valid.
	Check(ctx context.Context, h core.History, opts CheckOptions) []core.CheckResult
}

// Ruler is implemented by a workload checked against one of several
// rules (the bank workload: total or joint), chosen by --bank-rule.
type Ruler interface {
	// RuleInForce returns the rule in force.
	RuleInForce() string
	// WithRule returns the workload following rule, or an error wrapping
	// core.ErrBadInput that lists the rules.
	WithRule(rule string) (Workload, error)
}

// Holder is implemented by a workload whose operations hold something for
// a while (the lock workload's critical sections): --hold sets how long.
type Holder interface {
	// WithHold returns the workload holding for d.
	WithHold(d time.Duration) Workload
}

// Staler is implemented by a workload whose reads can be stale (the
// register workload): its histories get staleness figures.
type Staler interface {
	// Staleness returns the staleness of h's reads over the operations
	// opts covers.
	Staleness(h core.History, opts figures.Options) *figures.Staleness
}

// DecodeObject decodes one JSON object into v for a workload's
// DecodeValue, refusing anything else, unknown fields, and anything after
// the object.
func DecodeObject(raw []byte, v any) error {
	if len(raw) == 0 || raw[0] != '{' {
		return core.BadInput("not an object")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return core.BadInput("more than one value")
	}
	return nil
}
