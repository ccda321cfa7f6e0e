// Package jepsen reads Jepsen's histories of the cas-register model into
// faultline histories, so that a stored Jepsen run is judged by the same
// checkers as faultline's own register runs.
//
// Two formats are read (Read tells them apart by their first byte that is
// not blank or a comment; docs/formats.md describes both):
//
//   - EDN, as in Jepsen's history.edn: a vector or a list of operation
//     maps, or the maps one after another with nothing around them (one a
//     line, as Jepsen writes the file). Comments, commas, sets, tagged
//     literals (records such as #jepsen.history.Op{…}, #inst, #object[…])
//     and #_ discards are read wherever they appear; fields other than
//     :process, :type, :f, :value, :time, :error and :node are ignored.
//   - Jepsen's textual log of operations, as history.txt and jepsen.log
//     hold it and as porcupine's test data has it: one operation a line,
//     `process type f value [error]` separated by tabs or spaces,
//     optionally after a logger's prefix ending in "jepsen.util - " or
//     "jepsen.util: ". Lines that hold no operation are skipped.
//
// Operations become events as follows. :process is a client process (an
// integer, 0 or more) or :nemesis. Client operations are :read, :write and
// :cas of the cas-register model, with the register workload's typed
// values (workloads/register): a write's int64, a cas's [2]int64{old,
// new}, a read's nil or int64 on :ok; a read of nil found the register
// empty (Knossos's cas-register takes it for an unknown value instead).
// :fail means the operation did not take effect and :info that it may
// have, as in faultline's own histories;
// a process's events must alternate invocation and completion. Values that
// are [key value] tuples (jepsen.independent) put each operation on its
// key (the key's integer in decimal, a string as it is, a keyword or
// symbol by its name); otherwise every operation is on the one key
// SingleKey. Every nemesis operation becomes a nemesis info event whose
// value is the operation's value as plain Go values; see NemesisF for its
// f. Times come from :time (nanoseconds) when every operation has one,
// each raised where needed to 1 ns after the event before it so that the
// history's order is kept; without :time at all, events are
// EventSpacing apart in history order.
package jepsen

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
)

// SingleKey is the key of every operation of a history whose values are
// not [key value] tuples: a single register.
const SingleKey = "k0"

// EventSpacing is the time between consecutive events of a history
// without :time.
const EventSpacing = time.Millisecond

// The formats Read tells apart, as Info.Format names them.
const (
	FormatEDN = "edn"
	FormatLog = "log"
)

// HistoryFiles are the files of a Jepsen run's store folder that hold its
// history, in the order a reader given the folder should prefer them.
var HistoryFiles = []string{"history.edn", "history.txt"}

// Info says what Read found besides the events.
type Info struct {
	// Format is FormatEDN or FormatLog.
	Format string
	// Ops counts the operations read (client and nemesis), one per event.
	Ops int
	// Independent is true when values were [key value] tuples.
	Independent bool
	// Timed is true when times came from :time; false when events are
	// EventSpacing apart.
	Timed bool
	// Raised counts the events whose :time was not after the previous
	// event's and was raised to 1 ns after it.
	Raised int
	// Skipped counts the non-blank lines of a log that hold no operation.
	Skipped int
}

// Notes phrases what a reader of the verdict should know about how the
// history was read: synthetic times, raised times, skipped log lines.
// name is the file's name.
func (i Info) Notes(name string) []string {
	var notes []string
	if !i.Timed && i.Ops > 0 {
		notes = append(notes, fmt.Sprintf("%s has no :time: its events are placed %v apart in history order, so its durations and rates are not real", name, EventSpacing))
	}
	if i.Raised > 0 {
		notes = append(notes, fmt.Sprintf("%s: %s a :time not after the previous event's, moved to 1 ns after it to keep the history's order", name, plural(i.Raised, "event has", "events have")))
	}
	if i.Skipped > 0 {
		notes = append(notes, fmt.Sprintf("%s: skipped %s holding no operation", name, plural(i.Skipped, "line", "lines")))
	}
	return notes
}

// plural renders n with the singular or plural words.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// ReadFile reads the Jepsen history file at path, as Read does. It
// refuses anything but a regular file, without blocking on a named pipe.
func ReadFile(path string) (core.History, Info, error) {
	f, err := history.Open(path)
	if err != nil {
		return nil, Info{}, err
	}
	defer f.Close()
	return Read(f, path)
}

// Read reads a whole Jepsen history from r, in either format; name (the
// file's path) is used in error messages. A history that cannot be read
// gives an error wrapping core.ErrBadInput: a *history.LineError naming
// name and the line that is wrong and what is wrong with it, or, for a
// file without operations, one line saying so. The events are in the
// file's order, their indices dense from 0, and they pass faultline's
// history validation (checkers.Pair).
func Read(r io.Reader, name string) (core.History, Info, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, Info{}, fmt.Errorf("read %s: %w", name, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		what := "the file is empty"
		if len(data) > 0 {
			what = "it holds only blank lines"
		}
		return nil, Info{}, core.BadInput("%s is not a history: %s", name, what)
	}
	b := &builder{name: name}
	src := string(data)
	if isEDN(src) {
		b.info.Format = FormatEDN
		err = b.readEDN(src)
	} else {
		b.info.Format = FormatLog
		err = b.readLog(src)
	}
	if err != nil {
		return nil, b.info, err
	}
	if len(b.h) == 0 {
		if b.info.Format == FormatLog {
			return nil, b.info, core.BadInput("%s is not a Jepsen history: none of its lines holds an operation (process, type, f and value, as in \"3 :invoke :read nil\")", name)
		}
		return nil, b.info, core.BadInput("%s is not a history: it holds no operations", name)
	}
	b.finish()
	return b.h, b.info, nil
}

// isEDN reports whether src reads as EDN: its first byte that is not
// blank or in a ; comment opens a collection or a tagged literal, or
// there is no such byte. A log's first line starts with a process, a date
// or a log level instead.
func isEDN(src string) bool {
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case ' ', '\t', '\r', '\n', ',', '\f', '\v':
		case ';':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case '[', '(', '{', '#':
			return true
		default:
			return false
		}
	}
	// Nothing but blanks and comments: EDN without operations.
	return true
}

// rawOp is one Jepsen operation's fields as read, before they are
// checked; has says which are present.
type rawOp struct {
	line                               int
	process, typ, f, value, time, node value
	hasProcess, hasType, hasF, hasTime bool
	errText                            string
}

// openInvocation is the invocation a client process has open.
type openInvocation struct {
	line  int
	f     string
	key   string
	value any
}

// Independence of a history's values, decided by its first client
// invocation.
const (
	modeUnknown = iota
	modePlain
	modeIndependent
)

// builder turns operations into events, checking them as it goes.
type builder struct {
	name string
	h    core.History
	info Info
	// times are the raw :time of each event, -1 when absent.
	times          []int64
	timedLine      int // line of the first op with :time, 0 if none
	untimedLine    int // line of the first op without, 0 if none
	open           map[int]openInvocation
	mode, modeLine int
	nemesis        []int // positions in h of the nemesis events
}

// fail returns an error naming the file and line.
func (b *builder) fail(line int, format string, args ...any) error {
	return &history.LineError{File: b.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// add checks one operation and appends its event.
func (b *builder) add(op rawOp) error {
	if !op.hasProcess {
		return b.fail(op.line, "the operation has no :process")
	}
	process := 0
	switch p := op.process; {
	case p.kind == kInt && p.i >= 0 && p.i <= math.MaxInt32:
		process = int(p.i)
	case p.kind == kKeyword && p.s == "nemesis":
		process = core.NemesisProcess
	default:
		return b.fail(op.process.line, ":process %s: want a client process (an integer, 0 or more) or :nemesis", op.process.what())
	}
	if !op.hasType {
		return b.fail(op.line, "the operation has no :type")
	}
	var t core.Type
	if op.typ.kind == kKeyword {
		t = core.Type(op.typ.s)
	}
	if !t.Valid() {
		return b.fail(op.typ.line, "unknown :type %s (want :invoke, :ok, :fail or :info)", op.typ.what())
	}
	raw := int64(-1)
	if op.hasTime {
		if op.time.kind != kInt || op.time.i < 0 {
			return b.fail(op.time.line, ":time %s: want an integer, 0 or more (nanoseconds)", op.time.what())
		}
		raw = op.time.i
		if b.timedLine == 0 {
			b.timedLine = op.line
		}
	} else if b.untimedLine == 0 {
		b.untimedLine = op.line
	}
	if b.timedLine != 0 && b.untimedLine != 0 {
		if op.hasTime {
			return b.fail(op.line, "the operation has a :time, but the one at line %d has none (either every operation has a :time or none has)", b.untimedLine)
		}
		return b.fail(op.line, "the operation has no :time, but the one at line %d has one (either every operation has a :time or none has)", b.timedLine)
	}
	e := core.Event{Index: len(b.h), Process: process, Op: core.Op{Type: t, Error: op.errText}}
	if op.node.kind == kString {
		e.Node = op.node.s
	}
	if process == core.NemesisProcess {
		e.Type = core.Info
		e.F = "nemesis"
		if n, ok := op.f.name(); ok && n != "" {
			e.F = n
		}
		e.Value = op.value.goValue()
		b.nemesis = append(b.nemesis, len(b.h))
	} else if err := b.client(op, &e); err != nil {
		return err
	}
	b.h = append(b.h, e)
	b.times = append(b.times, raw)
	b.info.Ops++
	return nil
}

// The operations of the cas-register model, named as the register
// workload names them.
const (
	fRead  = "read"
	fWrite = "write"
	fCAS   = "cas"
)

// client fills e from a client operation: its f, key and typed value,
// pairing completions with invocations.
func (b *builder) client(op rawOp, e *core.Event) error {
	if !op.hasF {
		return b.fail(op.line, "the operation has no :f")
	}
	f := ""
	if op.f.kind == kKeyword {
		f = op.f.s
	}
	if f != fRead && f != fWrite && f != fCAS {
		return b.fail(op.f.line, "unknown :f %s: a cas-register history has :read, :write and :cas", op.f.what())
	}
	e.F = f
	if b.open == nil {
		b.open = make(map[int]openInvocation)
	}
	cur, busy := b.open[e.Process]
	if e.Type == core.Invoke {
		if busy {
			return b.fail(op.line, "process %d invokes :%s while its :%s invoked at line %d has not completed", e.Process, f, cur.f, cur.line)
		}
		key, v, err := b.invocation(f, op)
		if err != nil {
			return err
		}
		e.Key, e.Value = key, v
		b.open[e.Process] = openInvocation{line: op.line, f: f, key: key, value: v}
		return nil
	}
	if !busy {
		return b.fail(op.line, "process %d completes :%s (:%s) without an invocation before it", e.Process, f, e.Type)
	}
	if cur.f != f {
		return b.fail(op.line, "process %d completes :%s, but its invocation at line %d is a :%s", e.Process, f, cur.line, cur.f)
	}
	delete(b.open, e.Process)
	e.Key = cur.key
	switch {
	case f != fRead:
		// A write or cas completion repeats its invocation's value.
		e.Value = cur.value
	case e.Type == core.OK:
		v, err := b.readResult(op, cur.key)
		if err != nil {
			return err
		}
		e.Value = v
	}
	if e.Type != core.OK && e.Error == "" {
		// Jepsen's clients often put the reason in the value, as in
		// `:info :cas :timed-out`.
		if n, ok := op.value.name(); ok && op.value.kind != kSymbol {
			e.Error = n
		}
	}
	return nil
}

// invocation decodes an invocation's value into its key and typed value,
// deciding or following the history's independence.
func (b *builder) invocation(f string, op rawOp) (string, any, error) {
	v := op.value
	k, inner, tuple := tupleOf(v)
	independent := tuple
	switch f {
	case fRead:
		if !tuple && v.kind != kNil {
			return "", nil, b.fail(v.line, "the :value %s of a :read invocation: want nil, or [key nil] for independent keys", v.what())
		}
	case fWrite:
		if !tuple && v.kind != kInt {
			return "", nil, b.fail(v.line, "the :value %s of a :write invocation: want an integer, or [key integer] for independent keys", v.what())
		}
	case fCAS:
		if !tuple {
			return "", nil, b.fail(v.line, "the :value %s of a :cas invocation: want [old new], or [key [old new]] for independent keys", v.what())
		}
		// [old new], unless its second element is itself a pair.
		if u := v.untagged(); u.kind != kMap && inner.kind != kVector && inner.kind != kList {
			independent, inner = false, v
		}
	}
	if err := b.follow(independent, v.line); err != nil {
		return "", nil, err
	}
	key := SingleKey
	if independent {
		key = keyName(k)
	} else {
		inner = v
	}
	switch f {
	case fWrite:
		if inner.kind != kInt {
			return "", nil, b.fail(v.line, "the :value %s of a :write invocation: the value written must be an integer", v.what())
		}
		return key, inner.i, nil
	case fCAS:
		pair := inner.items
		if (inner.kind != kVector && inner.kind != kList) || len(pair) != 2 || pair[0].kind != kInt || pair[1].kind != kInt {
			return "", nil, b.fail(v.line, "the :value %s of a :cas invocation: want [old new] integers", v.what())
		}
		return key, [2]int64{pair[0].i, pair[1].i}, nil
	}
	return key, nil, nil
}

// tupleOf returns the key and value of a jepsen.independent tuple: a
// vector or list of two elements (a map entry, as Jepsen prints it), or a
// map or tagged record with :key and :value.
func tupleOf(v value) (key, val value, ok bool) {
	u := v.untagged()
	switch u.kind {
	case kVector, kList:
		if len(u.items) == 2 {
			return u.items[0], u.items[1], true
		}
	case kMap:
		k, ok1 := u.get("key")
		x, ok2 := u.get("value")
		if ok1 && ok2 {
			return k, x, true
		}
	}
	return value{}, value{}, false
}

// follow decides the history's independence at its first client
// invocation and holds every later one to it.
func (b *builder) follow(independent bool, line int) error {
	want := modePlain
	if independent {
		want = modeIndependent
	}
	switch b.mode {
	case modeUnknown:
		b.mode, b.modeLine = want, line
		b.info.Independent = independent
	case want:
	case modeIndependent:
		return b.fail(line, "this value is not a [key value] tuple, but the history's values are, since line %d (jepsen.independent)", b.modeLine)
	default:
		return b.fail(line, "this value is a [key value] tuple (jepsen.independent), but the history's values are not, since line %d", b.modeLine)
	}
	return nil
}

// readResult decodes an :ok read's value: nil or an integer, inside a
// [key value] tuple on key for independent keys.
func (b *builder) readResult(op rawOp, key string) (any, error) {
	v := op.value
	if b.mode == modeIndependent {
		k, x, ok := tupleOf(v)
		if !ok {
			return nil, b.fail(v.line, "the :value %s of an :ok :read: want [key value] (jepsen.independent)", v.what())
		}
		if name := keyName(k); name != key {
			return nil, b.fail(v.line, "the :ok :read %s answers key %s, but its invocation read key %s", v.what(), printable(cut(name)), printable(cut(key)))
		}
		v = x
	}
	switch v.kind {
	case kNil:
		return nil, nil
	case kInt:
		return v.i, nil
	}
	return nil, b.fail(v.line, "the :value %s of an :ok :read: want nil or an integer", op.value.what())
}

// keyName names an independent key: an integer in decimal, a string as it
// is, a keyword or symbol by its name, anything else by its EDN text.
func keyName(v value) string {
	switch v.kind {
	case kInt:
		return strconv.FormatInt(v.i, 10)
	case kString, kKeyword, kSymbol:
		return v.s
	}
	return strings.Join(strings.Fields(v.text), " ")
}

// finish sets the events' times and the nemesis events' f.
func (b *builder) finish() {
	if b.untimedLine == 0 {
		b.info.Timed = true
		for i := range b.h {
			t := b.times[i]
			if i > 0 && t <= b.h[i-1].Time {
				t = b.h[i-1].Time + 1
				b.info.Raised++
			}
			b.h[i].Time = t
		}
	} else {
		for i := range b.h {
			b.h[i].Time = int64(i) * int64(EventSpacing)
		}
	}
	b.nameNemesis()
}

// nameNemesis gives each nemesis event its f (see NemesisF).
func (b *builder) nameNemesis() {
	names := make([]string, len(b.nemesis))
	bare := true // every nemesis f is start or stop
	for i, at := range b.nemesis {
		names[i] = b.h[at].F
		if names[i] != "start" && names[i] != "stop" {
			bare = false
		}
	}
	answers := make([]int, len(names)) // i → its answer's position, or -1
	answered := make([]bool, len(names))
	pending := -1
	for i := range names {
		answers[i] = -1
		if pending >= 0 && names[pending] == names[i] {
			answers[pending], answered[i] = i, true
			pending = -1
			continue
		}
		pending = i
	}
	for i, at := range b.nemesis {
		b.h[at].F = NemesisF(names[i], bare, answers[i] >= 0, answered[i])
	}
}

// NemesisF is the f of the nemesis event that a Jepsen nemesis operation
// with f name becomes. Jepsen records each nemesis operation twice, both
// :info: when it begins (invoked) and when it is done (answer, with what
// it did as its value); Read takes two consecutive nemesis operations with
// the same f for such a pair. A fault's window runs from the beginning of
// its start to the end of its stop:
//
//   - "start-X" begun: start-X; done: started-X;
//   - "stop-X" begun: stopping-X; done: stop-X;
//   - an operation recorded once: start-X or stop-X;
//   - in a history whose nemesis operations are all "start" and "stop"
//     (Jepsen's classic partitioner), those are start-nemesis and
//     stop-nemesis, paired the same way;
//   - any other f (kill, pause, …) stays as it is.
func NemesisF(name string, bare, invoked, answer bool) string {
	fault, start := "", false
	switch {
	case bare && name == "start":
		fault, start = "nemesis", true
	case bare && name == "stop":
		fault = "nemesis"
	case strings.HasPrefix(name, "start-") && len(name) > len("start-"):
		fault, start = name[len("start-"):], true
	case strings.HasPrefix(name, "stop-") && len(name) > len("stop-"):
		fault = name[len("stop-"):]
	default:
		return name
	}
	switch {
	case start && answer:
		return "started-" + fault
	case start:
		return "start-" + fault
	case invoked:
		return "stopping-" + fault
	}
	return "stop-" + fault
}

// readEDN reads an EDN history: a vector or list of operation maps, or
// operation maps one after another.
func (b *builder) readEDN(src string) error {
	p := newParser(src)
	if end, err := p.atEnd(); err != nil || end {
		return b.ednErr(err)
	}
	if c := p.peek(); c == '[' || c == '(' {
		open, line := c, p.line
		p.pos++
		for {
			if err := p.skip(); err != nil {
				return b.ednErr(err)
			}
			if p.pos >= len(src) {
				return b.fail(line, "the %q that opens the history is never closed", string(open))
			}
			c := p.peek()
			if c == closer(open) {
				p.pos++
				break
			}
			if c == ')' || c == ']' || c == '}' {
				return b.fail(p.line, "%q closes the %q that opens the history at line %d", string(c), string(open), line)
			}
			v, err := p.value()
			if err != nil {
				return b.ednErr(err)
			}
			if err := b.addEDN(v); err != nil {
				return err
			}
		}
		end, err := p.atEnd()
		if err != nil {
			return b.ednErr(err)
		}
		if !end {
			rest := src[p.pos:]
			if i := strings.IndexByte(rest, '\n'); i >= 0 {
				rest = rest[:i]
			}
			return b.fail(p.line, "%s after the %q that closes the history: a history is one vector or list, or operation maps one after another", quote(rest), string(closer(open)))
		}
		return nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return b.ednErr(err)
		}
		if err := b.addEDN(v); err != nil {
			return err
		}
		end, err := p.atEnd()
		if err != nil {
			return b.ednErr(err)
		}
		if end {
			return nil
		}
	}
}

// ednErr turns a syntax error into a line error.
func (b *builder) ednErr(err error) error {
	if e, ok := err.(*ednError); ok {
		return b.fail(e.line, "%s", e.msg)
	}
	return err
}

// addEDN adds one operation map.
func (b *builder) addEDN(v value) error {
	m := v.untagged()
	if m.kind != kMap {
		return b.fail(v.line, "an operation must be a map {:process … :type … :f … :value …}, not %s", v.what())
	}
	op := rawOp{line: v.line}
	op.process, op.hasProcess = m.get("process")
	op.typ, op.hasType = m.get("type")
	op.f, op.hasF = m.get("f")
	op.value, _ = m.get("value")
	op.time, op.hasTime = m.get("time")
	op.node, _ = m.get("node")
	if e, ok := m.get("error"); ok && e.kind != kNil {
		op.errText = errorText(e)
	}
	if op.value.line == 0 {
		op.value.line = v.line
	}
	return b.addLine(op)
}

// addLine adds op, giving its fields that were absent the op's line.
func (b *builder) addLine(op rawOp) error {
	for _, f := range []*value{&op.process, &op.typ, &op.f, &op.value, &op.time, &op.node} {
		if f.line == 0 {
			f.line = op.line
		}
		if f.text == "" && f.kind == kNil {
			f.text = "nil"
		}
	}
	return b.add(op)
}

// errorText renders an :error value for Event.Error: a string or a
// keyword's name as it is, anything else as its EDN text on one line, cut
// to a readable length.
func errorText(v value) string {
	if n, ok := v.name(); ok {
		return cut(n)
	}
	return cut(strings.Join(strings.Fields(v.text), " "))
}

// readLog reads Jepsen's textual log of operations.
func (b *builder) readLog(src string) error {
	line := 0
	for len(src) > 0 {
		text := src
		if i := strings.IndexByte(src, '\n'); i >= 0 {
			text, src = src[:i], src[i+1:]
		} else {
			src = ""
		}
		line++
		text = strings.TrimRight(text, "\r")
		opText, ok := logOp(text)
		if !ok {
			if strings.TrimSpace(text) != "" {
				b.info.Skipped++
			}
			continue
		}
		op, err := parseLogOp(opText)
		if err != nil {
			return b.fail(line, "%s", err)
		}
		// Every field is on the line; the parser counted from 1.
		op.line = line
		for _, f := range []*value{&op.process, &op.typ, &op.f, &op.value} {
			f.line = line
		}
		if err := b.addLine(op); err != nil {
			return err
		}
	}
	return nil
}

// logMarker is what precedes an operation in a line of jepsen.log.
const logMarker = "jepsen.util"

// logOp returns the operation in a log line, if it holds one: the text
// after the logger's prefix (if any), when it starts with a process (an
// integer or :nemesis) followed by a keyword (the type).
func logOp(line string) (string, bool) {
	text := line
	if i := strings.Index(line, logMarker); i >= 0 {
		rest := strings.TrimLeft(line[i+len(logMarker):], " \t")
		switch {
		case strings.HasPrefix(rest, "- "), strings.HasPrefix(rest, "-\t"), strings.HasPrefix(rest, ": "), strings.HasPrefix(rest, ":\t"):
			text = rest[1:]
		}
	}
	fields := strings.Fields(text)
	if len(fields) < 2 || !strings.HasPrefix(fields[1], ":") {
		return "", false
	}
	if p := fields[0]; p != ":nemesis" {
		if _, err := strconv.ParseUint(p, 10, 31); err != nil {
			return "", false
		}
	}
	return strings.TrimSpace(text), true
}

// parseLogOp reads `process type f [value [error]]` from a log line's
// operation.
func parseLogOp(text string) (rawOp, error) {
	p := newParser(text)
	var vals [4]value
	n := 0
	for ; n < len(vals); n++ {
		end, err := p.atEnd()
		if err != nil {
			return rawOp{}, err
		}
		if end {
			break
		}
		v, err := p.value()
		if err != nil {
			return rawOp{}, err
		}
		vals[n] = v
	}
	if n < 3 {
		return rawOp{}, fmt.Errorf("%s: want a process, a type, an f and a value", quote(text))
	}
	op := rawOp{process: vals[0], typ: vals[1], f: vals[2], value: vals[3], hasProcess: true, hasType: true, hasF: true}
	if rest := strings.TrimSpace(text[p.pos:]); rest != "" {
		op.errText = cut(rest)
	}
	return op, nil
}

// ReadPath reads the Jepsen history at path: a history file, or a Jepsen
// run's store folder, from the first of HistoryFiles it holds (an error
// wrapping core.ErrBadInput when it holds neither). It returns the path
// of the file it read. Errors are those of ReadFile, and a missing path
// gives an error wrapping fs.ErrNotExist.
func ReadPath(path string) (core.History, Info, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, Info{}, path, fmt.Errorf("read Jepsen history: %w", err)
	}
	if st.IsDir() {
		file := ""
		for _, name := range HistoryFiles {
			candidate := filepath.Join(path, name)
			if _, err := os.Lstat(candidate); err == nil {
				file = candidate
				break
			}
		}
		if file == "" {
			return nil, Info{}, path, core.BadInput("%s has neither %s: not a Jepsen run folder", path, strings.Join(HistoryFiles, " nor "))
		}
		path = file
	}
	h, info, err := ReadFile(path)
	return h, info, path, err
}
