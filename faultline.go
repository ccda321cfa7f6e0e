// Package faultline is a Jepsen-style test harness for distributed systems.
// A run drives concurrent clients against a target system while nemeses
// inject faults, records every operation in a history, and lets checkers
// decide whether that history could have happened on a correct system.
//
// The CLI is a thin layer over this package: a Go test can call Run with a
// Test and assert on the Result. Because the local provider starts nodes by
// re-executing the running binary, a program or test binary that runs
// tests on the local provider calls NodeMain first (in main or TestMain).
package faultline

import (
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/node"
	"github.com/faultline/faultline/internal/provider/docker"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/targets"
)

// Type says what an event records: an invocation or a completion.
type Type = core.Type

// The four event types of a history.
const (
	Invoke = core.Invoke
	OK     = core.OK
	Fail   = core.Fail
	Info   = core.Info
)

// Op is one operation as a client sees it.
type Op = core.Op

// Event is one line of a history.
type Event = core.Event

// History is a sequence of events in index order.
type History = core.History

// Client performs operations against a target system for one process.
type Client = core.Client

// Verdict is the three-way answer of a checker: valid, invalid or unknown.
type Verdict = core.Verdict

// The three verdicts.
const (
	Valid   = core.Valid
	Invalid = core.Invalid
	Unknown = core.Unknown
)

// CheckResult is what one checker says about a history.
type CheckResult = core.CheckResult

// Anomaly is one thing a checker found wrong.
type Anomaly = core.Anomaly

// NemesisProcess is the process id of the nemesis in a history.
const NemesisProcess = core.NemesisProcess

// ErrBadInput marks errors caused by bad flags, test files or history files.
var ErrBadInput = core.ErrBadInput

// Version is faultline's version, recorded in every test.json.
const Version = "0.1.0"

// NodeMain returns at once unless this process was started as a faultline
// node by the local provider (or as a docker run's reaper); then it runs
// the node until it is told to stop and exits the process. Call it first in
// main, and in TestMain of tests that call Run on the local provider,
// passing the targets the program defines itself (those outside the CLI's
// registry) so that their nodes can be found.
func NodeMain(own ...targets.Target) {
	docker.MainIfReaper()
	node.MainIfNode(func(name string) (targets.Target, bool) {
		for _, t := range own {
			if t.Name() == name {
				return t, true
			}
		}
		return registry.Target(name)
	})
}
