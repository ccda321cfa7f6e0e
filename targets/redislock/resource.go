package redislock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/faultline/faultline/internal/nodehttp"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/lock"
)

// The resource node's HTTP routes. Every reply is JSON.
const (
	// RouteAccess takes a POST of an AccessRequest: one read or write of a
	// resource key. The resource records it and answers an AccessReply:
	// 200 when it accepted the access, 409 when it refused a stale fencing
	// token (recorded too, Accepted false), 400 for a malformed request
	// and 500 when it could not record the access (neither is recorded).
	RouteAccess = "/access"
	// RouteState takes a GET with the query key=K and answers K's
	// lock.ResourceState: its value and every access in apply order.
	RouteState = "/state"
	// RouteHealth answers 200 once the node serves.
	RouteHealth = "/health"
)

// The access operations.
const (
	OpRead  = "read"
	OpWrite = "write"
)

// AccessRequest is one access to the resource: read Key, or write Value to
// it, on behalf of Holder with its fencing Token (0: none).
type AccessRequest struct {
	Key    string `json:"key"`
	Op     string `json:"op"`
	Holder string `json:"holder"`
	Token  int64  `json:"token,omitempty"`
	Value  int64  `json:"value,omitempty"`
}

// AccessReply is the resource's answer to an AccessRequest: the access as
// it recorded it (a read's Value is the value read; a refused read's is
// 0), or Error alone when it recorded nothing.
type AccessReply struct {
	lock.Access
	Error string `json:"error,omitempty"`
}

// recordFile is the name of the resource's record in its data folder: one
// JSON object a line, a record, appended before each access is answered.
const recordFile = "accesses.jsonl"

// maxRequest bounds a request body.
const maxRequest = 64 << 10

// errStale is returned by access for a refused access; errBadAccess for a
// malformed one.
var (
	errStale     = errors.New("stale fencing token")
	errBadAccess = errors.New("bad access")
)

// record is one line of the record file.
type record struct {
	Key string `json:"key"`
	lock.Access
}

// keyState is one resource key.
type keyState struct {
	value    int64
	maxToken int64
	accesses []lock.Access
}

// resource is the protected resource: per key an int64 and the record of
// every access, in memory and appended to a file. Its methods are safe for
// concurrent use.
type resource struct {
	fencing bool

	mu   sync.Mutex
	seq  int64
	keys map[string]*keyState
	f    *os.File // nil: memory only
	size int64    // bytes of f holding whole records
}

// openResource loads the record at path (missing: empty; a torn last line
// is cut off) and opens it for appending; path "" keeps the record in
// memory only. With fencing, the resource refuses every access whose token
// is below the largest one it accepted on that key.
func openResource(path string, fencing bool) (*resource, error) {
	r := &resource{fencing: fencing, keys: map[string]*keyState{}}
	if path == "" {
		return r, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open record: %w", err)
	}
	if err := r.load(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("load record %s: %w", path, err)
	}
	if err := f.Truncate(r.size); err != nil {
		f.Close()
		return nil, fmt.Errorf("cut torn record: %w", err)
	}
	if _, err := f.Seek(r.size, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek record: %w", err)
	}
	r.f = f
	return r, nil
}

// load replays the records of f. A last line that is incomplete or not
// JSON (the node died while writing it) is left out of r.size; a bad line
// before the last is an error.
func (r *resource) load(f *os.File) error {
	br := bufio.NewReader(f)
	var torn bool
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		if torn {
			return fmt.Errorf("line %d: bad record before it", line)
		}
		var rec record
		if err == io.EOF || json.Unmarshal(b, &rec) != nil || rec.Seq <= r.seq || rec.Key == "" {
			torn = true // acceptable only as the last line
			continue
		}
		r.apply(rec)
		r.size += int64(len(b))
	}
}

// apply adds rec to the state.
func (r *resource) apply(rec record) {
	ks := r.key(rec.Key)
	r.seq = rec.Seq
	if rec.Accepted {
		if rec.Op == OpWrite {
			ks.value = rec.Value
		}
		ks.maxToken = max(ks.maxToken, rec.Token)
	}
	ks.accesses = append(ks.accesses, rec.Access)
}

func (r *resource) key(k string) *keyState {
	ks := r.keys[k]
	if ks == nil {
		ks = &keyState{}
		r.keys[k] = ks
	}
	return ks
}

// access performs and records req. It returns the access as recorded; the
// error is errStale for a refused access (recorded), and otherwise says
// why nothing was recorded.
func (r *resource) access(req AccessRequest) (lock.Access, error) {
	if req.Key == "" || (req.Op != OpRead && req.Op != OpWrite) {
		return lock.Access{}, fmt.Errorf("%w: key %q, op %q (want read or write)", errBadAccess, req.Key, req.Op)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ks := r.key(req.Key)
	a := lock.Access{Seq: r.seq + 1, Op: req.Op, Holder: req.Holder, Token: req.Token, Accepted: true}
	if r.fencing && req.Token < ks.maxToken {
		a.Accepted = false
	}
	switch {
	case req.Op == OpWrite:
		a.Value = req.Value
	case a.Accepted:
		a.Value = ks.value
	}
	if err := r.persist(record{Key: req.Key, Access: a}); err != nil {
		return lock.Access{}, err
	}
	r.apply(record{Key: req.Key, Access: a})
	if !a.Accepted {
		return a, fmt.Errorf("%w %d: key %s has seen %d", errStale, req.Token, req.Key, ks.maxToken)
	}
	return a, nil
}

// persist appends rec to the file, in one write; on failure it cuts the
// file back to its last whole record.
func (r *resource) persist(rec record) error {
	if r.f == nil {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := r.f.Write(b); err != nil {
		r.f.Truncate(r.size)
		r.f.Seek(r.size, io.SeekStart)
		return fmt.Errorf("record access: %w", err)
	}
	r.size += int64(len(b))
	return nil
}

// state returns key's value and a copy of its record: all of it when
// count is 0, else the page of at most count accesses from position from
// (with From and Total set).
func (r *resource) state(key string, from, count int64) lock.ResourceState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := lock.ResourceState{Fencing: r.fencing, Accesses: []lock.Access{}}
	ks := r.keys[key]
	if ks != nil {
		st.Value = ks.value
	}
	if count == 0 {
		if ks != nil {
			st.Accesses = slices.Clone(ks.accesses)
		}
		return st
	}
	var all []lock.Access
	if ks != nil {
		all = ks.accesses
	}
	st.From, st.Total = from, int64(len(all))
	if from < st.Total {
		st.Accesses = slices.Clone(all[from:min(st.Total, from+count)])
	}
	return st
}

// close closes the record file.
func (r *resource) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// handler serves the routes.
func (r *resource) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+RouteAccess, func(w http.ResponseWriter, req *http.Request) {
		var ar AccessRequest
		dec := json.NewDecoder(io.LimitReader(req.Body, maxRequest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ar); err != nil {
			reply(w, http.StatusBadRequest, AccessReply{Error: "bad request: " + err.Error()})
			return
		}
		a, err := r.access(ar)
		switch {
		case err == nil:
			reply(w, http.StatusOK, AccessReply{Access: a})
		case errors.Is(err, errStale):
			reply(w, http.StatusConflict, AccessReply{Access: a, Error: err.Error()})
		case errors.Is(err, errBadAccess):
			reply(w, http.StatusBadRequest, AccessReply{Error: err.Error()})
		default:
			reply(w, http.StatusInternalServerError, AccessReply{Error: err.Error()})
		}
	})
	mux.HandleFunc("GET "+RouteState, func(w http.ResponseWriter, req *http.Request) {
		key := req.URL.Query().Get("key")
		if key == "" {
			reply(w, http.StatusBadRequest, AccessReply{Error: "no key"})
			return
		}
		var from, count int64
		for name, p := range map[string]*int64{"from": &from, "count": &count} {
			if v := req.URL.Query().Get(name); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					reply(w, http.StatusBadRequest, AccessReply{Error: "bad " + name})
					return
				}
				*p = n
			}
		}
		reply(w, http.StatusOK, r.state(key, from, count))
	})
	mux.HandleFunc("GET "+RouteHealth, func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string]bool{"ok": true})
	})
	return mux
}

func reply(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode reply"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// RunResource runs the resource node until ctx is cancelled: it loads its
// record from its data folder (so a kill and restart keeps it), fences
// tokens in the fencing variant, and serves the routes on cfg.APIAddr.
// It returns nil after a clean stop and an error when it cannot start.
func RunResource(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	variant, err := checkVariant(cfg.Variant)
	if err != nil {
		return err
	}
	if cfg.APIAddr == "" || cfg.DataDir == "" {
		return errors.New("resource node: api_addr and data_dir are required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	r, err := openResource(filepath.Join(cfg.DataDir, recordFile), variant == VariantFencing)
	if err != nil {
		return err
	}
	defer r.close()
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("resource serving", "fencing", r.fencing, "accesses", r.seq)
	return nodehttp.Serve(ctx, ln, r.handler())
}

// ResourceReady returns nil when the resource node at addr answers its
// health check. It makes one request, bounded by ctx and two seconds.
func ResourceReady(ctx context.Context, addr string) error {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+RouteHealth, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("resource %s: health answered %d %s", addr, resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}
