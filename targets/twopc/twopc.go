// Package twopc is the target "twopc": a two-phase commit of our own, a
// coordinator and N participants (3 by default, --nodes sets N), each its
// own process or container, serving the transfer workload. Each
// participant owns a share of the accounts (account aK lives on
// participant K mod N, counting from 0) and keeps them in memory, with
// every change in its log on disk, which it replays after a kill. A
// transfer is a transaction: the coordinator asks the participants of
// both accounts to prepare it (each locks its account, checks the debit,
// logs the prepared change durably and votes), decides, and tells them;
// a participant holds its locks from its yes vote until it learns the
// decision. A read of every balance locks every account on every
// participant at once.
//
// Variants:
//   - "correct": the coordinator logs its decision durably before it
//     tells anyone; a participant in doubt waits for the decision, asking
//     the coordinator until it answers (after a restart it answers from
//     its log, and a transaction it never decided is aborted). Atomic, but
//     it blocks: accounts held in doubt stay locked while the coordinator
//     is down.
//   - "naive": the coordinator answers the client as soon as it has
//     decided commit and leaves the commits to a sender per participant
//     (each delivering its queue every SendEvery, in turns), the decision
//     held in memory only until every participant has it; a participant
//     in doubt for longer than AloneAfter aborts on its own. A coordinator
//     killed before every sender has delivered leaves transactions
//     committed on one participant and aborted on the other, and
//     acknowledged ones aborted everywhere.
package twopc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/transfer"
)

// Name is the --target name of this target.
const Name = "twopc"

// The variants; VariantNaive is the default.
const (
	// VariantNaive commits before its decision is durable and lets
	// participants abort alone.
	VariantNaive = "naive"
	// VariantCorrect logs the decision first and blocks participants in
	// doubt until they learn it.
	VariantCorrect = "correct"
)

// The roles, in layout order.
const (
	// RoleCoordinator is the one node that runs transactions for clients.
	RoleCoordinator = "coordinator"
	// RoleParticipant is a node that owns a share of the accounts.
	RoleParticipant = "participant"
)

// DefaultParticipants is the --nodes default.
const DefaultParticipants = 3

// MaxParticipants bounds --nodes.
const MaxParticipants = 9

// Target is the twopc target. Its zero value is ready to use.
type Target struct{}

var (
	_ targets.Target    = Target{}
	_ targets.Defaulter = Target{}
)

// Name returns "twopc".
func (Target) Name() string { return Name }

// Description is one line for `faultline list`.
func (Target) Description() string {
	return "two-phase commit of our own: a coordinator and participants that own accounts, each with its log on disk"
}

// Variants lists naive (the default) and correct.
func (Target) Variants() []targets.Choice {
	return []targets.Choice{
		{Name: VariantNaive, Description: "the coordinator answers once it has decided and leaves the commits to a sender per participant, the decision in memory only, and a participant in doubt aborts alone after a timeout: a coordinator crash splits transactions and loses acknowledged ones"},
		{Name: VariantCorrect, Description: "the decision is logged durably before anyone hears it, and participants in doubt wait for it: atomic, but accounts stay locked while the coordinator is down"},
	}
}

// Workloads lists "transfer".
func (Target) Workloads() []string { return []string{transfer.Name} }

// Defaults: three participants, kills of the coordinator, operations of
// up to 5 s, and a load that keeps transactions in flight whenever a
// fault strikes: 10 clients, up to 1000 operations a second, over 32
// accounts (fewer accounts, more lock conflicts).
func (Target) Defaults(string) targets.Defaults {
	return targets.Defaults{Nodes: DefaultParticipants, OpTimeout: 5 * time.Second, Nemesis: []string{"kill=role:" + RoleCoordinator},
		Concurrency: 10, Rate: 1000, Keys: 32}
}

// Layout returns the coordinator and spec.Nodes participants (2 to
// MaxParticipants), each node listening on one port for clients and peers.
func (Target) Layout(spec targets.Spec) (targets.Layout, error) {
	if _, err := checkVariant(spec.Variant); err != nil {
		return targets.Layout{}, err
	}
	if spec.Nodes < 2 || spec.Nodes > MaxParticipants {
		return targets.Layout{}, core.BadInput("twopc needs 2 to %d participants (--nodes), got %d", MaxParticipants, spec.Nodes)
	}
	return targets.Layout{Roles: []targets.Role{
		{Name: RoleCoordinator, Count: 1, Program: targets.GoProgram{Run: runCoordinator}, Ready: Ready, OnePort: true},
		{Name: RoleParticipant, Count: spec.Nodes, Program: targets.GoProgram{Run: runParticipant}, Ready: Ready, OnePort: true},
	}}, nil
}

func checkVariant(v string) (string, error) {
	switch v {
	case "":
		return VariantNaive, nil
	case VariantNaive, VariantCorrect:
		return v, nil
	}
	return "", core.BadInput("twopc has no variant %q (it has: %s, %s)", v, VariantNaive, VariantCorrect)
}

// Ready returns nil when the node at addr answers its health check (a
// participant once it has replayed its log). It makes one request.
func Ready(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var r Reply
	status, err := newPeers(nil).call(ctx, addr, http.MethodGet, RouteHealth, nil, &r)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("twopc node %s: health %d: %s", addr, status, r.Error)
	}
	return nil
}

// Owner returns the position (from 0) among n participants of the one
// that owns account (bank.AccountName's "aK": K mod n), or an error for a
// name of another shape.
func Owner(account string, n int) (int, error) {
	k, err := strconv.Atoi(strings.TrimPrefix(account, "a"))
	if !strings.HasPrefix(account, "a") || err != nil || k < 0 || n < 1 {
		return 0, fmt.Errorf("account %q: want a0, a1, ...", account)
	}
	return k % n, nil
}

// The routes of every node (HTTP+JSON, one port).
const (
	// RouteHealth (GET) answers 200 once the node serves.
	RouteHealth = "/health"
	// RouteTransfer (POST, coordinator, body a bank.Transfer): run the
	// transaction. 200: committed; 409: aborted (Error says why); 503:
	// refused before anything was prepared; anything else: unknown.
	RouteTransfer = "/transfer"
	// RouteRead (POST, coordinator, body ReadBody): read every balance at
	// once. 200 with Balances, anything else: no read.
	RouteRead = "/read"
	// RouteDecision (GET /decision/{tx}, coordinator): the decision on a
	// transaction, for a participant in doubt: Decision "commit",
	// "abort" or "pending".
	RouteDecision = "/decision/"
	// RoutePrepare (POST, participant, body PrepareBody): prepare a
	// transaction; Vote "yes" or "no" (Error says why).
	RoutePrepare = "/prepare"
	// RouteCommit and RouteAbort (POST /commit/{tx}, /abort/{tx},
	// participant): apply the decision. 200 once it is durable; 409 when
	// the participant already decided otherwise (Error says how).
	RouteCommit = "/commit/"
	RouteAbort  = "/abort/"
	// RouteLock (POST, participant, body ReadBody): open the accounts
	// when needed, lock the participant's accounts for the read and
	// return their balances. RouteRelease (POST /release/{id}) unlocks
	// them; Held says whether the read still held them.
	RouteLock    = "/lock"
	RouteRelease = "/release/"
	// RouteRecords (GET /records?from=F&count=C&settle=D, participant):
	// records F..F+C-1 in the order prepared, after waiting up to D
	// (a duration) for no transaction to be in doubt.
	RouteRecords = "/records"
)

// The decisions.
const (
	decCommit  = "commit"
	decAbort   = "abort"
	decPending = "pending"
)

// Reply is the JSON body of every answer.
type Reply struct {
	Node     string            `json:"node,omitempty"`
	Error    string            `json:"error,omitempty"`
	Vote     string            `json:"vote,omitempty"`
	Decision string            `json:"decision,omitempty"`
	Balances map[string]int64  `json:"balances,omitempty"`
	Held     bool              `json:"held,omitempty"`
	Records  []transfer.Record `json:"records,omitempty"`
	InDoubt  int               `json:"in_doubt,omitempty"`
}

// PrepareBody asks a participant to prepare a transaction's changes.
type PrepareBody struct {
	Tx     string           `json:"tx"`
	Deltas map[string]int64 `json:"deltas"`
}

// ReadBody asks for a read of accounts a0..a{Accounts-1}, each opened
// with Balance when it does not exist yet; ID names the read's locks.
type ReadBody struct {
	ID       string `json:"id"`
	Accounts int    `json:"accounts"`
	Balance  int64  `json:"balance"`
}

// maxBody bounds every body read.
const maxBody = 4 << 20

// peers makes HTTP calls to other nodes.
type peers struct {
	hc *http.Client
	tr *http.Transport
}

func newPeers(tr *http.Transport) *peers {
	if tr == nil {
		tr = &http.Transport{DisableKeepAlives: true}
	}
	return &peers{hc: &http.Client{Transport: tr}, tr: tr}
}

func (p *peers) close() { p.tr.CloseIdleConnections() }

// errDial marks an error of a call that never reached the node.
var errDial = errors.New("could not connect")

// call sends one request to addr and decodes the reply into out; it
// returns the status. A connection that was never made wraps errDial.
func (p *peers) call(ctx context.Context, addr, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, rd)
	if err != nil {
		return 0, err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		if isDial(err) {
			return 0, fmt.Errorf("%w: %v", errDial, err)
		}
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("bad reply (%d): %v", resp.StatusCode, err)
		}
	}
	return resp.StatusCode, nil
}

// reply writes r with status.
func reply(w http.ResponseWriter, node string, status int, r Reply) {
	r.Node = node
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(r)
}

// decode reads a JSON body into v; false (with a 400 written) when it
// cannot.
func decode(w http.ResponseWriter, req *http.Request, node string, v any) bool {
	d := json.NewDecoder(io.LimitReader(req.Body, maxBody))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		reply(w, node, http.StatusBadRequest, Reply{Error: "bad request body: " + err.Error()})
		return false
	}
	return true
}

// participantsOf returns the participants' names in cluster order.
func participantsOf(roles map[string][]string) []string {
	return slices.Clone(roles[RoleParticipant])
}
