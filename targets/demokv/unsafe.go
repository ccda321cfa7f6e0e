package demokv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/faultline/faultline/internal/nodehttp"
	"github.com/faultline/faultline/targets"
)

// Replication of the unsafe variant: fire and forget.
const (
	// replQueue bounds each peer's queue of updates; when it is full, new
	// updates for that peer are dropped.
	replQueue = 1024
	// replBatch is the most updates sent in one request.
	replBatch = 64
	// replTimeout bounds one replication request.
	replTimeout = 500 * time.Millisecond
	// routeReplicate (POST, body replBody) applies a peer's updates; it is
	// served on the peer listener only.
	routeReplicate = "/replicate"
	// logFile is the append-only log of updates in the data directory.
	logFile = "kv.log"
)

// update sets Key to Value; it is both a line of the log file and the unit of
// replication.
type update struct {
	Key   string `json:"k"`
	Value int64  `json:"v"`
}

type replBody struct {
	From    string   `json:"from"`
	Updates []update `json:"updates"`
}

// unsafeNode keeps the map in memory, appends every update to its log file
// before applying it, and queues every local update for every peer.
type unsafeNode struct {
	name string
	log  *slog.Logger

	mu     sync.Mutex
	data   map[string]int64
	file   *os.File
	queues map[string]chan update // peer name → its queue
}

func runUnsafe(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	data, err := loadLog(cfg.DataDir)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(cfg.DataDir, logFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	n := &unsafeNode{name: cfg.Name, log: log, data: data, file: f, queues: map[string]chan update{}}
	for peer := range cfg.Peers {
		n.queues[peer] = make(chan update, replQueue)
	}
	apiLn, peerLn, err := listen(cfg)
	if err != nil {
		return err
	}
	log.Info("unsafe node serving", "keys", len(data))
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return nodehttp.Serve(ctx, apiLn, apiHandler(cfg.Name, n)) })
	g.Go(func() error { return nodehttp.Serve(ctx, peerLn, n.peerHandler()) })
	for peer, addr := range cfg.Peers {
		g.Go(func() error { n.replicate(ctx, peer, addr); return nil })
	}
	return g.Wait()
}

func (n *unsafeNode) health() (int, Reply) { return http.StatusOK, Reply{} }

func (n *unsafeNode) exec(_ context.Context, c command) (int, Reply) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cur, found := n.data[c.Key]
	switch c.Op {
	case opRead:
		if !found {
			return http.StatusOK, Reply{}
		}
		return http.StatusOK, Reply{Value: &cur}
	case opWrite:
		return n.applyLocked(update{Key: c.Key, Value: c.Value}, true)
	case opCAS:
		if !found || cur != c.Old {
			return http.StatusConflict, Reply{Error: "cas mismatch"}
		}
		return n.applyLocked(update{Key: c.Key, Value: c.New}, true)
	}
	return http.StatusBadRequest, Reply{Error: "unknown operation"}
}

// applyLocked persists u, applies it and, when local, queues it for every
// peer. A failed log write leaves the outcome unknown: part of the line may
// have reached the file.
func (n *unsafeNode) applyLocked(u update, local bool) (int, Reply) {
	line, _ := json.Marshal(u)
	if _, err := n.file.Write(append(line, '\n')); err != nil {
		n.log.Error("log write failed", "err", err)
		return http.StatusInternalServerError, Reply{Error: "log write failed"}
	}
	n.data[u.Key] = u.Value
	if local {
		for peer, q := range n.queues {
			select {
			case q <- u:
			default:
				n.log.Debug("replication queue full; update dropped", "peer", peer, "key", u.Key)
			}
		}
	}
	return http.StatusOK, Reply{}
}

// replicate sends the updates queued for peer to addr, in order, in batches,
// until ctx is done. A batch that fails is dropped.
func (n *unsafeNode) replicate(ctx context.Context, peer, addr string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	q := n.queues[peer]
	for {
		var batch []update
		select {
		case <-ctx.Done():
			return
		case u := <-q:
			batch = append(batch, u)
		}
	drain:
		for len(batch) < replBatch {
			select {
			case u := <-q:
				batch = append(batch, u)
			default:
				break drain
			}
		}
		if err := n.send(ctx, hc, addr, batch); err != nil && ctx.Err() == nil {
			n.log.Debug("replication failed; updates dropped", "peer", peer, "updates", len(batch), "err", err)
		}
	}
}

func (n *unsafeNode) send(ctx context.Context, hc *http.Client, addr string, batch []update) error {
	ctx, cancel := context.WithTimeout(ctx, replTimeout)
	defer cancel()
	body, _ := json.Marshal(replBody{From: n.name, Updates: batch})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+routeReplicate, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// peerHandler serves the peer listener: updates replicated from peers are
// applied as they arrive, last arrival wins.
func (n *unsafeNode) peerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+routeReplicate, func(w http.ResponseWriter, req *http.Request) {
		var body replBody
		if err := json.NewDecoder(io.LimitReader(req.Body, maxBody)).Decode(&body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, u := range body.Updates {
			if status, _ := n.applyLocked(u, false); status != http.StatusOK {
				http.Error(w, "log write failed", http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// loadLog reads the log file of dir into a map, then rewrites the file with
// one line per key (written to a temporary file, synced and renamed into
// place) so that it does not grow without bound across restarts. A torn last
// line, left by a kill during a write, is dropped: its write was never
// acknowledged.
func loadLog(dir string) (map[string]int64, error) {
	path := filepath.Join(dir, logFile)
	data := map[string]int64{}
	f, err := os.Open(path)
	switch {
	case os.IsNotExist(err):
		return data, nil
	case err != nil:
		return nil, fmt.Errorf("open log: %w", err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var u update
		if json.Unmarshal(sc.Bytes(), &u) != nil {
			break
		}
		data[u.Key] = u.Value
	}
	err = sc.Err()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	var buf bytes.Buffer
	for k, v := range data {
		line, _ := json.Marshal(update{Key: k, Value: v})
		buf.Write(append(line, '\n'))
	}
	if err := writeFileAtomic(path, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("compact log: %w", err)
	}
	return data, nil
}

// writeFileAtomic replaces path with b so that a crash leaves either the old
// or the new contents.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
