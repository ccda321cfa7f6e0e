package demokv

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// The node's client API, HTTP+JSON on NodeConfig.APIAddr. Every answer is a
// Reply. The status code says what happened:
//
//	200 OK                   the operation took effect (a read: Value is the value, absent if the key is unset)
//	409 Conflict             cas: the current value differs from old; nothing changed
//	421 Misdirected Request  this node is not the leader (Leader names it when known); nothing applied
//	503 Service Unavailable  refused before anything was applied (for example: enqueue timeout, leadership transfer)
//	500 and anything else    the outcome is unknown (leadership lost after enqueueing, timeout, storage error)
const (
	// RouteHealth (GET) answers 200 when the node serves operations (safe:
	// it knows a leader), else 503. Reply.Leader names the leader if known.
	RouteHealth = "/health"
	// RouteKV (GET /kv/{key}) reads a key; (PUT /kv/{key}, body
	// {"value":n}) writes it.
	RouteKV = "/kv/"
	// RouteCASSuffix ends the cas route: POST /kv/{key}/cas with body
	// {"old":a,"new":b} sets the key to b if its value is a.
	RouteCASSuffix = "/cas"
)

// Reply is the JSON body of every answer of the client API.
type Reply struct {
	// Node is the name of the node that answered.
	Node string `json:"node"`
	// Value is a read's result; nil when the key is unset.
	Value *int64 `json:"value,omitempty"`
	// Leader is the name of the leader, where known (safe variant).
	Leader string `json:"leader,omitempty"`
	// Error is a short reason when the status is not 200.
	Error string `json:"error,omitempty"`
}

// Request bodies of the client API.
type writeBody struct {
	Value int64 `json:"value"`
}

type casBody struct {
	Old int64 `json:"old"`
	New int64 `json:"new"`
}

// Operation names in commands.
const (
	opRead  = "read"
	opWrite = "write"
	opCAS   = "cas"
)

// command is one operation; the safe variant stores it, JSON encoded, in the
// Raft log.
type command struct {
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value int64  `json:"value,omitempty"`
	Old   int64  `json:"old,omitempty"`
	New   int64  `json:"new,omitempty"`
}

// backend is what a variant provides to the client API.
type backend interface {
	// exec performs c and returns the status and reply (Node is filled in
	// by the caller).
	exec(ctx context.Context, c command) (int, Reply)
	// health returns 200 when the node serves operations.
	health() (int, Reply)
}

// maxBody bounds every request and reply body read.
const maxBody = 1 << 20

// apiHandler serves the client API of node name on top of b.
func apiHandler(name string, b backend) http.Handler {
	reply := func(w http.ResponseWriter, status int, r Reply) {
		r.Node = name
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(r)
	}
	decode := func(w http.ResponseWriter, req *http.Request, v any) bool {
		if err := json.NewDecoder(io.LimitReader(req.Body, maxBody)).Decode(v); err != nil {
			reply(w, http.StatusBadRequest, Reply{Error: "bad request body"})
			return false
		}
		return true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+RouteHealth, func(w http.ResponseWriter, req *http.Request) {
		status, r := b.health()
		reply(w, status, r)
	})
	mux.HandleFunc("GET "+RouteKV+"{key}", func(w http.ResponseWriter, req *http.Request) {
		status, r := b.exec(req.Context(), command{Op: opRead, Key: req.PathValue("key")})
		reply(w, status, r)
	})
	mux.HandleFunc("PUT "+RouteKV+"{key}", func(w http.ResponseWriter, req *http.Request) {
		var body writeBody
		if !decode(w, req, &body) {
			return
		}
		status, r := b.exec(req.Context(), command{Op: opWrite, Key: req.PathValue("key"), Value: body.Value})
		reply(w, status, r)
	})
	mux.HandleFunc("POST "+RouteKV+"{key}"+RouteCASSuffix, func(w http.ResponseWriter, req *http.Request) {
		var body casBody
		if !decode(w, req, &body) {
			return
		}
		status, r := b.exec(req.Context(), command{Op: opCAS, Key: req.PathValue("key"), Old: body.Old, New: body.New})
		reply(w, status, r)
	})
	return mux
}
