package demokv

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
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/faultline/faultline/internal/nodehttp"
	"github.com/faultline/faultline/targets"
)

// Raft settings of the safe variant, tuned for tests that last seconds to
// minutes on one machine.
const (
	raftHeartbeat   = 500 * time.Millisecond // follower: no contact this long → candidate
	raftElection    = 500 * time.Millisecond // candidate: no winner this long → new election
	raftLeaderLease = 300 * time.Millisecond // leader: no quorum contact this long → step down
	raftCommit      = 10 * time.Millisecond  // idle leader: send commit index this often
	raftRPCTimeout  = 2 * time.Second        // I/O deadline of one transport RPC
	raftSnapshotInt = 5 * time.Second        // how often to check whether to snapshot
	raftSnapshotMin = 1024                   // snapshot once this many entries are new
	raftTrailing    = 1024                   // entries kept in the log after a snapshot
	raftSnapRetain  = 2                      // snapshots kept on disk

	// applyEnqueue bounds the wait to hand a command to Raft; past it the
	// command was not enqueued (a definite fail).
	applyEnqueue = 500 * time.Millisecond
	// applyWait bounds the wait for an enqueued command; past it the
	// outcome is unknown.
	applyWait = 5 * time.Second
	// stopWait bounds Raft's shutdown so that a node never hangs on stop.
	stopWait = 5 * time.Second
)

// safeNode serves the client API on top of Raft: a non-leader refuses, the
// leader applies every operation, reads included, through the log.
type safeNode struct {
	raft *raft.Raft
}

func runSafe(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	apiLn, peerLn, err := listen(cfg)
	if err != nil {
		return err
	}
	defer apiLn.Close()
	hlog := hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Info,
		Output:      &slogWriter{log: log},
		DisableTime: true,
	})

	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(cfg.DataDir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 5 * time.Second},
	})
	if err != nil {
		peerLn.Close()
		return fmt.Errorf("open raft store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, raftSnapRetain, hlog)
	if err != nil {
		peerLn.Close()
		store.Close()
		return fmt.Errorf("open snapshot store: %w", err)
	}
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		peerLn.Close()
		store.Close()
		return err
	}
	// The configuration names every server by its id; each node maps an
	// id to its own link address for that peer when it dials.
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		ServerAddressProvider: linkAddrs{self: cfg.Name, peers: cfg.Peers},
		Logger:                hlog,
		Stream:                &streamLayer{Listener: peerLn, name: cfg.Name},
		MaxPool:               3,
		Timeout:               raftRPCTimeout,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Name)
	rc.Logger = hlog
	rc.HeartbeatTimeout = raftHeartbeat
	rc.ElectionTimeout = raftElection
	rc.LeaderLeaseTimeout = raftLeaderLease
	rc.CommitTimeout = raftCommit
	rc.SnapshotInterval = raftSnapshotInt
	rc.SnapshotThreshold = raftSnapshotMin
	rc.TrailingLogs = raftTrailing
	r, err := raft.NewRaft(rc, &fsm{data: map[string]int64{}}, logs, store, snaps, trans)
	if err != nil {
		trans.Close()
		store.Close()
		return fmt.Errorf("start raft: %w", err)
	}
	err = bootstrap(r, cfg.Nodes)
	if err == nil {
		log.Info("safe node serving")
		err = nodehttp.Serve(ctx, apiLn, apiHandler(cfg.Name, &safeNode{raft: r}))
	}
	// Stop Raft (and with it the transport and peer listener) before
	// closing the store it writes to. If Raft does not stop in time, the
	// store stays open: the process is about to exit anyway.
	if serr := shutdownRaft(r); serr != nil {
		return errors.Join(err, serr)
	}
	return errors.Join(err, store.Close())
}

// bootstrap gives a new cluster its configuration: every node, named by its
// id. Every node bootstraps the same configuration at its first start; on a
// restart Raft refuses, which is expected.
func bootstrap(r *raft.Raft, nodes []string) error {
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(n), Address: raft.ServerAddress(n)})
	}
	err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("bootstrap raft: %w", err)
	}
	return nil
}

// shutdownRaft stops r, its transport included, waiting at most stopWait.
func shutdownRaft(r *raft.Raft) error {
	done := make(chan error, 1)
	go func() { done <- r.Shutdown().Error() }()
	select {
	case err := <-done:
		return err
	case <-time.After(stopWait):
		return errors.New("raft shutdown timed out")
	}
}

func (n *safeNode) leader() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

func (n *safeNode) health() (int, Reply) {
	if l := n.leader(); l != "" {
		return http.StatusOK, Reply{Leader: l}
	}
	return http.StatusServiceUnavailable, Reply{Error: "no leader"}
}

func (n *safeNode) exec(ctx context.Context, c command) (int, Reply) {
	if n.raft.State() != raft.Leader {
		return http.StatusMisdirectedRequest, Reply{Error: "not leader", Leader: n.leader()}
	}
	b, _ := json.Marshal(c)
	f := n.raft.Apply(b, applyEnqueue)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return http.StatusInternalServerError, Reply{Error: "request cancelled"}
	case <-time.After(applyWait):
		return http.StatusInternalServerError, Reply{Error: "apply timed out"}
	}
	switch {
	case err == nil:
	case errors.Is(err, raft.ErrNotLeader):
		// Raft answers this only for commands it did not append.
		return http.StatusMisdirectedRequest, Reply{Error: "not leader", Leader: n.leader()}
	case errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return http.StatusServiceUnavailable, Reply{Error: err.Error()}
	default:
		// ErrLeadershipLost, ErrRaftShutdown, storage errors: the command
		// may be in the log and may yet commit.
		return http.StatusInternalServerError, Reply{Error: err.Error()}
	}
	res, ok := f.Response().(result)
	switch {
	case !ok:
		return http.StatusInternalServerError, Reply{Error: "bad fsm response"}
	case res.Err != "":
		return http.StatusBadRequest, Reply{Error: res.Err}
	case c.Op == opCAS && !res.OK:
		return http.StatusConflict, Reply{Error: "cas mismatch"}
	}
	return http.StatusOK, Reply{Value: res.Value}
}

// result is what the FSM returns for one command.
type result struct {
	Value *int64 // read: the value, nil if unset
	OK    bool   // cas: whether it matched and set
	Err   string // a command the FSM cannot decode
}

// fsm is the replicated map.
type fsm struct {
	mu   sync.Mutex
	data map[string]int64
}

// Apply applies one committed command.
func (f *fsm) Apply(l *raft.Log) any {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return result{Err: "bad command"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, found := f.data[c.Key]
	switch c.Op {
	case opRead:
		if found {
			return result{Value: &cur}
		}
		return result{}
	case opWrite:
		f.data[c.Key] = c.Value
		return result{OK: true}
	case opCAS:
		if !found || cur != c.Old {
			return result{}
		}
		f.data[c.Key] = c.New
		return result{OK: true}
	}
	return result{Err: "unknown operation"}
}

// Snapshot copies the map; Raft persists the copy in the background.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := make(map[string]int64, len(f.data))
	for k, v := range f.data {
		cp[k] = v
	}
	return fsmSnapshot(cp), nil
}

// Restore replaces the map with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data := map[string]int64{}
	if err := json.NewDecoder(rc).Decode(&data); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	f.data = data
	f.mu.Unlock()
	return nil
}

type fsmSnapshot map[string]int64

// Persist writes the snapshot as one JSON object.
func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(map[string]int64(s)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release does nothing: the snapshot holds a private copy.
func (s fsmSnapshot) Release() {}

// linkAddrs maps a server id to the address this node dials for it: its own
// link to that peer. The node's own id maps to itself, which is also its
// transport's local address, so Raft sees one consistent name per server.
type linkAddrs struct {
	self  string
	peers map[string]string
}

// ServerAddr returns the link address for id.
func (l linkAddrs) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if string(id) == l.self {
		return raft.ServerAddress(l.self), nil
	}
	if a, ok := l.peers[string(id)]; ok {
		return raft.ServerAddress(a), nil
	}
	return "", fmt.Errorf("no link to %s", id)
}

// streamLayer is Raft's transport over the node's peer listener. It dials
// the addresses linkAddrs gives, and names itself by the node's id.
type streamLayer struct {
	net.Listener
	name string
}

// Addr returns the node's name, which Raft uses as its local address.
func (s *streamLayer) Addr() net.Addr { return nameAddr(s.name) }

// Dial connects to a peer's link address.
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

type nameAddr string

func (a nameAddr) Network() string { return "raft" }
func (a nameAddr) String() string  { return string(a) }

// slogWriter turns hclog's lines into slog records.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		level := slog.LevelInfo
		switch {
		case strings.HasPrefix(line, "[ERROR]"):
			level = slog.LevelError
		case strings.HasPrefix(line, "[WARN]"):
			level = slog.LevelWarn
		}
		w.log.Log(context.Background(), level, line, "component", "raft")
	}
	return len(p), nil
}
