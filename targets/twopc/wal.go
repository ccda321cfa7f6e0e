package twopc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// logFile is the name of a node's log in its data folder.
const logFile = "twopc.log"

// entry is one line of a node's log.
type entry struct {
	// Kind: "open", "prepare", "commit", "abort" (participant);
	// "decide", "done" (coordinator).
	Kind     string           `json:"k"`
	Tx       string           `json:"tx,omitempty"`
	Deltas   map[string]int64 `json:"deltas,omitempty"`
	Accounts []string         `json:"accounts,omitempty"`
	Balance  int64            `json:"balance,omitempty"`
	Decision string           `json:"decision,omitempty"`
	Parts    []string         `json:"parts,omitempty"`
	// At is the wall-clock time of the entry in Unix nanoseconds.
	At    int64 `json:"at,omitempty"`
	Alone bool  `json:"alone,omitempty"`
}

// wal is a node's append-only log: one JSON entry per line.
type wal struct {
	mu sync.Mutex
	f  *os.File
}

// openWAL replays the log in dir (entries up to the first torn or garbled
// line: a line a kill cut short was never acknowledged), truncates what
// follows them, and opens it for appending.
func openWAL(dir string) (*wal, []entry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, logFile)
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, nil, fmt.Errorf("read log: %w", err)
	}
	var entries []entry
	good := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e entry
		if good+len(line) >= len(b) || b[good+len(line)] != '\n' || json.Unmarshal(line, &e) != nil || e.Kind == "" {
			break
		}
		entries = append(entries, e)
		good += len(line) + 1
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open log: %w", err)
	}
	if err := f.Truncate(int64(good)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("truncate log: %w", err)
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seek log: %w", err)
	}
	return &wal{f: f}, entries, nil
}

// append writes e; with sync it returns only once e is on disk.
func (w *wal) append(e entry, sync bool) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("log write: %w", err)
	}
	if sync {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("log sync: %w", err)
		}
	}
	return nil
}

func (w *wal) close() error { return w.f.Close() }
