// Package runfolder owns a run folder, <root>/<target>-<workload>/<UTC
// timestamp>/: creating it, writing test.json and results.json atomically,
// the <root>/latest link, and the operation counts that results.json and
// the summaries show.
package runfolder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/core"
)

// Names of the files in a run folder and of the link in the results root.
const (
	// TestFile holds everything needed to repeat the run.
	TestFile = "test.json"
	// HistoryFile is the history, one event a line.
	HistoryFile = "history.jsonl"
	// ResultsFile holds the verdict and what each checker said.
	ResultsFile = "results.json"
	// ReportFile is the HTML report.
	ReportFile = "report.html"
	// NodesDir holds one folder of logs per node.
	NodesDir = "nodes"
	// LatestLink, in the results root, points at the newest run.
	LatestLink = "latest"
)

// TimestampFormat is the layout of a run folder's name (in UTC).
const TimestampFormat = "20060102T150405.000Z"

// Run is one run folder: <root>/<target>-<workload>/<UTC timestamp>/.
// Its methods only touch files inside Dir, except UpdateLatest.
type Run struct {
	// Dir is the run folder.
	Dir string
	// Root is the results root that holds the folder; UpdateLatest links
	// Root/latest to Dir. It is empty for a run opened with Open.
	Root string
}

// New creates a new run folder, with its nodes/ subfolder, under root
// (created if missing) for the given target and workload, named after now
// in UTC. When a folder of that name exists (two runs in the same
// millisecond) it appends -2, -3, ... so that every run gets its own.
func New(root, target, workload string, now time.Time) (*Run, error) {
	if !safeName(target) || !safeName(workload) {
		return nil, core.BadInput("run folder: target %q and workload %q must be plain names", target, workload)
	}
	parent := filepath.Join(root, target+"-"+workload)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	base := now.UTC().Format(TimestampFormat)
	for n := 1; n <= 1000; n++ {
		name := base
		if n > 1 {
			name += "-" + strconv.Itoa(n)
		}
		dir := filepath.Join(parent, name)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create run folder: %w", err)
		}
		if err := os.Mkdir(filepath.Join(dir, NodesDir), 0o755); err != nil {
			return nil, fmt.Errorf("create run folder: %w", err)
		}
		return &Run{Dir: dir, Root: root}, nil
	}
	return nil, fmt.Errorf("create run folder: too many runs named %s in %s", base, parent)
}

// safeName reports whether s can be one path component.
func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`) && filepath.IsLocal(s)
}

// Open opens an existing run folder, for example for `faultline check
// RUN_DIR`. It checks only that dir is a directory. Root is left empty.
func Open(dir string) (*Run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open run folder: %w", err)
	}
	if !st.IsDir() {
		return nil, core.BadInput("open run folder: %s is not a directory", dir)
	}
	return &Run{Dir: filepath.Clean(dir)}, nil
}

// Path returns the path of name inside the run folder.
func (r *Run) Path(name string) string { return filepath.Join(r.Dir, name) }

// HistoryPath returns the path of the run's history.jsonl.
func (r *Run) HistoryPath() string { return r.Path(HistoryFile) }

// NodeDir returns nodes/<node>/ inside the run folder, creating it.
func (r *Run) NodeDir(node string) (string, error) {
	if !safeName(node) {
		return "", core.BadInput("node name %q must be a plain name", node)
	}
	dir := filepath.Join(r.Dir, NodesDir, node)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create node folder: %w", err)
	}
	return dir, nil
}

// WriteJSON writes v as indented JSON (no HTML escaping, trailing newline)
// to name, a path relative to the run folder. The write is atomic: a temp
// file in the same folder is synced and renamed over name, so a reader sees
// the old file or the new one, never a part.
func (r *Run) WriteJSON(name string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return r.WriteFile(name, buf.Bytes())
}

// WriteFile writes data to name, a path relative to the run folder, with
// the same atomic replace as WriteJSON. Missing parent folders are created.
func (r *Run) WriteFile(name string, data []byte) error {
	if !filepath.IsLocal(name) {
		return fmt.Errorf("write %s: not a path inside the run folder", name)
	}
	if err := writeFileAtomic(r.Path(name), data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// ReadJSON decodes the JSON file name (relative to the run folder) into
// v. A file that is not valid JSON, or not a regular file, gives an error
// wrapping core.ErrBadInput.
func (r *Run) ReadJSON(name string, v any) error {
	b, err := ReadFile(r.Path(name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return core.BadInput("%s: %v", r.Path(name), err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable where the platform allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every platform syncs directories
		d.Close()
	}
}

// UpdateLatest points Root/latest at this run with a relative symlink; a
// run calls it when it starts, so that latest names the newest run started
// (a killed one included). The link is replaced atomically (a new link at
// a temp name renamed over the old one), so a reader always finds a link.
// It fails when Root is empty or when Root/latest exists and is not a
// symlink, which it then leaves alone.
func (r *Run) UpdateLatest() error {
	if r.Root == "" {
		return errors.New("update latest: run has no results root")
	}
	link := filepath.Join(r.Root, LatestLink)
	if st, err := os.Lstat(link); err == nil && st.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("update latest: %s is not a symbolic link; it was left alone", link)
	}
	absRoot, err := filepath.Abs(r.Root)
	if err != nil {
		return fmt.Errorf("update latest: %w", err)
	}
	absDir, err := filepath.Abs(r.Dir)
	if err != nil {
		return fmt.Errorf("update latest: %w", err)
	}
	rel, err := filepath.Rel(absRoot, absDir)
	if err != nil {
		return fmt.Errorf("update latest: %w", err)
	}
	for n := 0; ; n++ {
		tmp := filepath.Join(r.Root, "."+LatestLink+".tmp-"+strconv.Itoa(os.Getpid())+"-"+strconv.Itoa(n))
		err := os.Symlink(rel, tmp)
		if errors.Is(err, fs.ErrExist) && n < 100 {
			continue
		}
		if err != nil {
			return fmt.Errorf("update latest: %w", err)
		}
		if err := os.Rename(tmp, link); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("update latest: %w", err)
		}
		return nil
	}
}

// ReadFile reads the file at path, which must be a regular file: anything
// else (a named pipe, whose plain open would wait for a writer for ever, a
// device, a folder) gives an error wrapping core.ErrBadInput, without
// blocking. A missing file gives an error wrapping fs.ErrNotExist.
func ReadFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		return nil, core.BadInput("%s is not a regular file", path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPath(err))
	}
	return b, nil
}

// unwrapPath drops the operation and path of a *fs.PathError, which the
// message names already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
