// Package lock is the lock workload: clients take a lock, read-modify-write
// the part of a protected resource the lock guards, hold the lock a while
// and release it; the checkers decide whether the lock kept its holders
// apart (mutual exclusion) and whether the resource stayed right (no lost
// update, no stale fencing token accepted). The run's verdict follows the
// resource: a lock that let two holders in while the resource rejected the
// stale one is reported, not failed.
//
// # Operations
//
// Every operation is one critical-section attempt, f = "cycle", key = the
// lock ("l0", "l1", ...), each lock guarding the resource key of the same
// name. The invocation's value is a CycleRequest. A client performs, in
// order: acquire the lock; read the resource key (with its fencing token,
// when it has one); write the value read plus one; hold; release. Its
// completion carries a Cycle telling what happened at each step, with
// times as nanoseconds after the invocation (the client's clock, the same
// monotonic clock as the controller's on the local machine); a step that
// did not happen has no time.
//
// The completion's type: ok when the lock was acquired and every later
// step has a definite outcome (a write the resource rejected counts as
// definite); fail when the lock was certainly not acquired (it was held:
// nothing else was done); info when any step's outcome is unknown (the
// Cycle says how far the client got).
//
// # Final reads
//
// After the run, operations f = "resource" read the resource's record of
// each key, page by page (ResourceRead): a ResourceState, every access the
// resource accepted or rejected, in the order it applied them.
//
// # Checkers
//
// Workload.Check runs two checkers. CheckMutualExclusion places every
// critical section on the timeline and reports each pair of holders of one
// lock that overlapped: a finding, with a valid verdict. CheckResource
// replays each key's record and cross-checks it with the cycles: lost
// updates, stale tokens accepted, a corrupted final value, acknowledged
// writes missing and refused writes accepted make it invalid. So "lock
// violated, resource safe" (a fenced lock under pauses) is a valid run
// whose results still list the overlaps, and "resource corrupted" is an
// invalid one.
package lock

// The operation names of the lock workload.
const (
	// Cycle is one critical-section attempt.
	Cycle = "cycle"
	// Resource is the final read of one resource key's record.
	Resource = "resource"
)

// Outcome is what one step of a cycle came to.
type Outcome string

// The outcomes of a step.
const (
	// Done: the step took effect (the lock was acquired, the write was
	// accepted, the lock was released).
	Done Outcome = "ok"
	// Refused: the step certainly did not take effect (the lock was held
	// by another, the resource rejected a stale token, the release found
	// the lock no longer ours).
	Refused Outcome = "fail"
	// Unknown: the step may or may not have taken effect (a timeout, a
	// connection lost with the request sent).
	Unknown Outcome = "info"
	// Skipped: the step was not attempted (an earlier one did not
	// succeed).
	Skipped Outcome = ""
)

// CycleRequest is the invocation value of a cycle: how long to hold the
// lock between reading the resource and writing it back.
type CycleRequest struct {
	HoldNS int64 `json:"hold_ns"`
}

// CycleValue is the completion value of a cycle. Times are nanoseconds
// after the invocation, on the client's monotonic clock; zero with a
// Skipped outcome.
type CycleValue struct {
	// Holder names the client: "p<process>".
	Holder string `json:"holder"`
	// Token is the fencing token the lock gave (0: none).
	Token int64 `json:"token,omitempty"`

	// Acquire is the outcome of taking the lock, AcquiredNS when the
	// client learnt it holds it.
	Acquire    Outcome `json:"acquire"`
	AcquiredNS int64   `json:"acquired_ns,omitempty"`

	// Read is the outcome of reading the resource key, ReadValue what it
	// held (0 when never written).
	Read      Outcome `json:"read"`
	ReadValue int64   `json:"read_value,omitempty"`

	// Write is the outcome of writing ReadValue+1, WriteStartNS when the
	// request was sent.
	Write        Outcome `json:"write"`
	WriteStartNS int64   `json:"write_start_ns,omitempty"`

	// Release is the outcome of releasing the lock, ReleaseStartNS when
	// the client began to release it: the end of its critical section.
	Release        Outcome `json:"release"`
	ReleaseStartNS int64   `json:"release_start_ns,omitempty"`

	// StalledNS is how long the client stalled between reading and
	// writing (the client-pause fault), 0 when it did not.
	StalledNS int64 `json:"stalled_ns,omitempty"`
}

// Access is one access to a resource key as the resource applied it.
type Access struct {
	// Seq orders the accesses of one resource across all keys, from 1.
	Seq int64 `json:"seq"`
	// Op is "read" or "write".
	Op string `json:"op"`
	// Holder and Token are what the client sent.
	Holder string `json:"holder"`
	Token  int64  `json:"token,omitempty"`
	// Value is the value read, or the value written.
	Value int64 `json:"value"`
	// Accepted is false when the resource rejected a stale token.
	Accepted bool `json:"accepted"`
}

// ResourceState is the final read of one resource key: its value and every
// access to it, in the order the resource applied them, or one page of
// them (ResourceRead).
type ResourceState struct {
	Value    int64    `json:"value"`
	Fencing  bool     `json:"fencing"`
	Accesses []Access `json:"accesses"`
	// From is the position in the whole record of Accesses[0]; Total is
	// the length of the whole record. Both zero: Accesses is the whole
	// record.
	From  int64 `json:"from,omitempty"`
	Total int64 `json:"total,omitempty"`
}

// ResourceRead is the invocation value of a final "resource" read: the
// page of the key's record to read, Count accesses from position From.
// A key's record is read in pages so that no history line grows past the
// reader's bound however long the run; a nil value reads it whole.
type ResourceRead struct {
	From  int64 `json:"from"`
	Count int64 `json:"count"`
}

// PageSize is how many accesses one final read asks for: a page's line in
// the history stays well under a megabyte.
const PageSize = 2000
