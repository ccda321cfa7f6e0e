package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"unicode/utf8"

	"github.com/faultline/faultline/core"
)

// DecodeFunc turns the raw JSON value of a client event into the typed value the
// workload's checkers expect. It has the signature of
// workloads.Workload.DecodeValue. Nemesis events are never passed to it:
// their values stay json.RawMessage. raw is never empty (an absent value is
// passed as null) and stays valid after the call, so it may be retained.
type DecodeFunc func(f string, t core.Type, raw json.RawMessage) (any, error)

// Info says how a history file ended.
type Info struct {
	// Events is the number of events read.
	Events int
	// Lines is the number of lines read, a torn last line included.
	Lines int
	// Torn is true when the last line had no newline and did not parse:
	// the writer was stopped in the middle of it. That line was ignored.
	Torn bool
	// TornLine is the line number of the torn line, when Torn.
	TornLine int
	// TornBytes is the length of the torn line, when Torn.
	TornBytes int
}

// LineError says what is wrong with one line of a history file. It wraps
// core.ErrBadInput (errors.Is(err, core.ErrBadInput) is true) and, when
// the value decoder failed, the decoder's error too.
type LineError struct {
	// File names the history (its path, or "history" for a bare reader).
	File string
	// Line is the 1-based line number.
	Line int
	// Msg says what is wrong.
	Msg string
	// Err is the decoder's error, if that is what failed.
	Err error
}

// Error returns one line: "FILE line N: MSG[: ERR]". The decoder's
// error is cut to MaxQuote bytes, as every value the message quotes.
func (e *LineError) Error() string {
	s := e.File + " line " + strconv.Itoa(e.Line) + ": " + e.Msg
	if e.Err != nil {
		s += ": " + cutText(e.Err.Error(), MaxQuote)
	}
	return s
}

// Is reports whether target is core.ErrBadInput.
func (e *LineError) Is(target error) bool { return target == core.ErrBadInput }

// Unwrap returns the decoder's error, if any.
func (e *LineError) Unwrap() error { return e.Err }

// Read reads a whole history from r. decode turns each event's raw
// JSON value into a typed value; when decode is nil, Value is the raw
// json.RawMessage, or nil for a JSON null. A torn last line is ignored;
// use ReadInfo to learn about it. Any other line that is not a
// valid event makes it return a *LineError.
func Read(r io.Reader, decode DecodeFunc) (core.History, error) {
	h, _, err := readHistory(r, "history", decode, 0)
	return h, err
}

// ReadInfo is Read that also says how the history ended.
// name is used in error messages, usually the file's path.
func ReadInfo(r io.Reader, name string, decode DecodeFunc) (core.History, Info, error) {
	return readHistory(r, name, decode, 0)
}

// Open opens the history file at path for reading. It refuses, with an
// error wrapping core.ErrBadInput, anything but a regular file (a folder,
// a named pipe, a device, a socket), and it never blocks: a named pipe is
// opened without waiting for a writer. A missing file gives an error
// wrapping fs.ErrNotExist.
func Open(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	if err := regular(path, st); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	// The path may have been replaced since the Stat.
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, fmt.Errorf("open history: %w", err)
	}
	if err := regular(path, st); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// regular refuses what is not a regular file, naming what it is.
func regular(path string, st fs.FileInfo) error {
	m := st.Mode()
	var what string
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		what = "a folder"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	default:
		what = "a special file"
	}
	return core.BadInput("%s is %s, not a history file", path, what)
}

// ReadFile reads the history file at path, as Read does.
func ReadFile(path string, decode DecodeFunc) (core.History, error) {
	h, _, err := ReadFileInfo(path, decode)
	return h, err
}

// ReadFileInfo reads the history file at path, as ReadInfo
// does.
func ReadFileInfo(path string, decode DecodeFunc) (core.History, Info, error) {
	f, err := Open(path)
	if err != nil {
		return nil, Info{}, err
	}
	defer f.Close()
	hint := 0
	if st, err := f.Stat(); err == nil {
		// Typical lines are 80 to 120 bytes.
		hint = int(min(st.Size()/96, 1<<26)) + 16
	}
	return readHistory(f, path, decode, hint)
}

func readHistory(r io.Reader, name string, decode DecodeFunc, hint int) (core.History, Info, error) {
	h := make(core.History, 0, hint)
	info, err := Scan(r, name, decode, func(e core.Event) error {
		h = append(h, e)
		return nil
	})
	if err != nil {
		return nil, info, err
	}
	return h, info, nil
}

// Scan reads a history from r and calls fn with each event in
// order, without keeping the history in memory. It validates what
// Read validates and stops at the first bad line with a
// *LineError, or at the first error from fn, which it returns as is.
// Events already passed to fn stay valid.
func Scan(r io.Reader, name string, decode DecodeFunc, fn func(core.Event) error) (Info, error) {
	s := newScanner(name, decode)
	// A line and its newline fit the buffer, or the line is over the cap.
	br := bufio.NewReaderSize(r, MaxLineBytes+1)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return s.info, &LineError{File: name, Line: s.info.Lines + 1,
				Msg: fmt.Sprintf("line is longer than %d bytes (1 MiB), the limit of a history line", MaxLineBytes)}
		}
		if err != nil && err != io.EOF {
			return s.info, fmt.Errorf("read %s: %w", name, err)
		}
		if len(line) == 0 {
			return s.info, nil // end of input
		}
		terminated := err == nil
		if terminated {
			line = line[:len(line)-1]
		}
		e, ok, lerr := s.line(line, terminated)
		if lerr != nil {
			return s.info, lerr
		}
		if ok {
			if err := fn(e); err != nil {
				return s.info, err
			}
		}
		if !terminated {
			return s.info, nil
		}
	}
}

// openOp is the invocation a process has open.
type openOp struct {
	index int // -1 when none is open
	f     string
	key   string
}

// scanner validates a history line by line.
type scanner struct {
	name   string
	decode DecodeFunc
	p      *lineParser
	ev     rawEvent
	info   Info
	// lastTime and lastLine are the time and line of the last event.
	lastTime int64
	lastLine int
	arena    []byte
	open     []openOp       // by process, for small process ids
	openHi   map[int]openOp // for large ones
}

func newScanner(name string, decode DecodeFunc) *scanner {
	return &scanner{name: name, decode: decode, p: newLineParser()}
}

func (s *scanner) fail(format string, args ...any) *LineError {
	return &LineError{File: s.name, Line: s.info.Lines, Msg: fmt.Sprintf(format, args...)}
}

// line handles one line (without its newline). ok is false for a line that
// holds no event: a blank line or a torn last line.
func (s *scanner) line(b []byte, terminated bool) (e core.Event, ok bool, err error) {
	s.info.Lines++
	if skipSpace(b, 0) == len(b) {
		return e, false, nil
	}
	ev := &s.ev
	if serr := s.p.parse(b, ev); serr != nil {
		if !terminated && s.info.Events > 0 {
			// The writer was stopped in the middle of this line.
			s.info.Torn = true
			s.info.TornLine = s.info.Lines
			s.info.TornBytes = len(b)
			return e, false, nil
		}
		cut := ""
		if !terminated {
			cut = " (the line is cut off, and no complete event comes before it)"
		}
		if serr.msg == "not a JSON object" {
			return e, false, s.fail("not a JSON object%s: %s", cut, clip(string(b[skipSpace(b, 0):])))
		}
		return e, false, s.fail("invalid JSON at column %d: %s%s", serr.off+1, serr.msg, cut)
	}
	for _, req := range [...]struct {
		bit  int
		name string
	}{{seenIndex, "index"}, {seenTime, "time"}, {seenProcess, "process"}, {seenType, "type"}, {seenF, "f"}} {
		if ev.seen&req.bit == 0 {
			return e, false, s.fail("missing field %q", req.name)
		}
	}
	if want := int64(s.info.Events); ev.index != want {
		return e, false, s.fail("index %d, want %d (indices are dense from 0)", ev.index, want)
	}
	t := core.Type(ev.typ)
	if !t.Valid() {
		return e, false, s.fail("type %s is not invoke, ok, fail or info", clip(ev.typ))
	}
	if ev.process < core.NemesisProcess || ev.process > 1<<31 {
		return e, false, s.fail("process %d is out of range (-1 for the nemesis, 0 or more for clients)", ev.process)
	}
	if ev.time < 0 {
		return e, false, s.fail("time %d is negative (times count nanoseconds from the start of the run)", ev.time)
	}
	if s.info.Events > 0 && ev.time < s.lastTime {
		return e, false, s.fail("time %d is before the time %d of line %d (times never go backwards in index order)", ev.time, s.lastTime, s.lastLine)
	}
	if err := s.pair(int(ev.process), int(ev.index), t, ev.f, ev.key); err != nil {
		return e, false, err
	}
	e = core.Event{
		Index:   int(ev.index),
		Time:    ev.time,
		Process: int(ev.process),
		Op: core.Op{
			Type:  t,
			F:     ev.f,
			Key:   ev.key,
			Node:  ev.node,
			Error: ev.err,
		},
	}
	raw := ev.value
	if raw == nil {
		raw = nullJSON
	}
	if s.decode == nil || e.Process == core.NemesisProcess {
		// Nemesis values are the fault's own JSON, not the workload's.
		if string(raw) != "null" {
			e.Value = json.RawMessage(s.keep(raw))
		}
	} else {
		v, err := s.decode(ev.f, t, s.keep(raw))
		if err != nil {
			return e, false, &LineError{File: s.name, Line: s.info.Lines, Msg: fmt.Sprintf("value of %s %s", clip(ev.f), t), Err: err}
		}
		e.Value = v
	}
	s.lastTime, s.lastLine = ev.time, s.info.Lines
	s.info.Events++
	return e, true, nil
}

var nullJSON = []byte("null")

// keep copies raw into an append-only arena so that it outlives the line
// buffer; the returned slice has no spare capacity.
func (s *scanner) keep(raw []byte) []byte {
	if len(raw) > 4096 {
		return append([]byte(nil), raw...)
	}
	if cap(s.arena)-len(s.arena) < len(raw) {
		s.arena = make([]byte, 0, 256<<10)
	}
	start := len(s.arena)
	s.arena = append(s.arena, raw...)
	return s.arena[start:len(s.arena):len(s.arena)]
}

// pair checks that client processes alternate invocations and completions
// and that a completion repeats its invocation's f and key. The nemesis
// (process -1) is not checked.
func (s *scanner) pair(process, index int, t core.Type, f, key string) *LineError {
	if process < 0 {
		return nil
	}
	cur := s.getOpen(process)
	if t == core.Invoke {
		if cur.index >= 0 {
			return s.fail("process %d invokes %s while its invocation at index %d is still open", process, clip(f), cur.index)
		}
		s.setOpen(process, openOp{index: index, f: f, key: key})
		return nil
	}
	if cur.index < 0 {
		return s.fail("process %d completes %s (%s) without an open invocation", process, clip(f), t)
	}
	if cur.f != f || cur.key != key {
		return s.fail("process %d completes f %s key %s, but its invocation at index %d has f %s key %s", process, clip(f), clip(key), cur.index, clip(cur.f), clip(cur.key))
	}
	s.setOpen(process, openOp{index: -1})
	return nil
}

const maxDenseProcess = 1 << 16

func (s *scanner) getOpen(p int) openOp {
	if p < maxDenseProcess {
		if p < len(s.open) {
			return s.open[p]
		}
		return openOp{index: -1}
	}
	if o, ok := s.openHi[p]; ok {
		return o
	}
	return openOp{index: -1}
}

func (s *scanner) setOpen(p int, o openOp) {
	if p < maxDenseProcess {
		for len(s.open) <= p {
			s.open = append(s.open, openOp{index: -1})
		}
		s.open[p] = o
		return
	}
	if s.openHi == nil {
		s.openHi = make(map[int]openOp)
	}
	if o.index < 0 {
		delete(s.openHi, p)
		return
	}
	s.openHi[p] = o
}

// MaxQuote is the most bytes of a value from the file that an error
// message quotes.
const MaxQuote = 200

// clip quotes s for an error message: at most MaxQuote bytes of the
// quoted text, cut at a character boundary and marked with its full
// length when cut.
func clip(s string) string {
	q := strconv.Quote(s)
	if len(q) <= MaxQuote {
		return q
	}
	n := min(len(s), MaxQuote)
	for n > 0 && (len(strconv.Quote(s[:n])) > MaxQuote-2 || !utf8.RuneStart(s[n])) {
		n--
	}
	return strconv.Quote(s[:n]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// cutText cuts s to at most n bytes at a character boundary, marking the
// cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}
