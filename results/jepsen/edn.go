package jepsen

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// kind is the kind of an EDN value.
type kind uint8

const (
	kNil kind = iota
	kBool
	kInt     // an integer that fits in an int64
	kNumber  // any other number-like token (big integer, float, ratio, 0x…), kept as text
	kString  // s holds the decoded string
	kChar    // s holds the character's token, as in `\newline`
	kKeyword // s holds the name without the colon
	kSymbol
	kVector
	kList
	kSet
	kMap    // items alternate key, value
	kTagged // s holds the tag; items holds the one tagged value
)

// value is one parsed EDN value. Its text is src[start:end] of the
// parser that made it, kept for error messages and for values read as
// opaque text.
type value struct {
	kind  kind
	line  int // the line where the value starts, from 1
	b     bool
	i     int64
	s     string
	items []value
	text  string
}

// untagged returns the value a tagged literal tags (a record such as
// #jepsen.history.Op{…} read as its map), or v itself.
func (v value) untagged() value {
	for v.kind == kTagged && len(v.items) == 1 {
		v = v.items[0]
	}
	return v
}

// get returns the value of keyword key in map m.
func (m value) get(key string) (value, bool) {
	for i := 0; i+1 < len(m.items); i += 2 {
		if k := m.items[i]; k.kind == kKeyword && k.s == key {
			return m.items[i+1], true
		}
	}
	return value{}, false
}

// name returns the name of a keyword, symbol or string, for :f and the
// like.
func (v value) name() (string, bool) {
	switch v.kind {
	case kKeyword, kSymbol, kString:
		return v.s, true
	}
	return "", false
}

// what names v's kind in an error message, with its text.
func (v value) what() string {
	return quote(v.text)
}

// goValue converts v into plain Go values, as a nemesis event's value is
// kept: nil, bool, int64, string (numbers that do not fit an int64 as
// their text; keywords with their colon), []any for vectors, lists and
// sets, and map[string]any for maps, whose keys are strings as they are,
// keywords with their colon and anything else as its EDN text. A tagged
// literal becomes the value it tags.
func (v value) goValue() any {
	switch v.kind {
	case kNil:
		return nil
	case kBool:
		return v.b
	case kInt:
		return v.i
	case kString:
		return v.s
	case kKeyword:
		return ":" + v.s
	case kVector, kList, kSet:
		out := make([]any, len(v.items))
		for i, it := range v.items {
			out[i] = it.goValue()
		}
		return out
	case kMap:
		out := make(map[string]any, len(v.items)/2)
		for i := 0; i+1 < len(v.items); i += 2 {
			k := v.items[i]
			key := k.text
			switch k.kind {
			case kString:
				key = k.s
			case kKeyword:
				key = ":" + k.s
			}
			out[key] = v.items[i+1].goValue()
		}
		return out
	case kTagged:
		if len(v.items) == 1 {
			return v.items[0].goValue()
		}
	}
	return v.text
}

// ednError is a syntax error at a line of the input.
type ednError struct {
	line int
	msg  string
}

func (e *ednError) Error() string { return e.msg }

// parser reads EDN from src. It reads the subset Jepsen writes: nil,
// booleans, numbers, strings, characters, keywords, symbols, vectors,
// lists, maps, sets, tagged literals (#inst "…", #jepsen.history.Op{…},
// #object[…]), ##Inf-style symbolic values, #"…" patterns, #_ discards,
// ; comments and commas as whitespace.
type parser struct {
	src   string
	pos   int
	line  int
	depth int // collections and tags open around the current position
}

// maxDepth bounds how deeply values may nest, so that a hostile file
// cannot exhaust the stack.
const maxDepth = 1000

func newParser(src string) *parser { return &parser{src: src, line: 1} }

func (p *parser) errf(line int, format string, args ...any) error {
	return &ednError{line: line, msg: fmt.Sprintf(format, args...)}
}

// skip passes whitespace, commas, comments and #_ discards.
func (p *parser) skip() error {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\n':
			p.line++
			p.pos++
		case c == ' ' || c == '\t' || c == '\r' || c == ',' || c == '\f' || c == '\v':
			p.pos++
		case c == ';':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		case c == '#' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '_':
			p.pos += 2
			if err := p.skip(); err != nil {
				return err
			}
			if p.pos >= len(p.src) {
				return p.errf(p.line, "#_ discards nothing: the input ends")
			}
			if _, err := p.value(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// atEnd skips what is not a value and reports whether the input ends.
func (p *parser) atEnd() (bool, error) {
	if err := p.skip(); err != nil {
		return false, err
	}
	return p.pos >= len(p.src), nil
}

// peek returns the next byte, or 0 at the end.
func (p *parser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// delimiter reports whether c ends a token.
func delimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', ',', '(', ')', '[', ']', '{', '}', '"', ';':
		return true
	}
	return false
}

// token reads the token that starts at the current position.
func (p *parser) token() string {
	start := p.pos
	for p.pos < len(p.src) && !delimiter(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// closer returns the byte that closes a collection opened by open.
func closer(open byte) byte {
	switch open {
	case '[':
		return ']'
	case '(':
		return ')'
	}
	return '}'
}

// value reads one value; the caller has skipped what comes before it and
// checked that the input does not end.
func (p *parser) value() (value, error) {
	start, line := p.pos, p.line
	if p.depth >= maxDepth {
		return value{}, p.errf(line, "values nest deeper than %d levels", maxDepth)
	}
	p.depth++
	v, err := p.bare()
	p.depth--
	if err != nil {
		return value{}, err
	}
	v.line, v.text = line, p.src[start:p.pos]
	return v, nil
}

func (p *parser) bare() (value, error) {
	line := p.line
	c := p.src[p.pos]
	switch c {
	case '[', '(', '{':
		p.pos++
		items, err := p.items(c, line)
		if err != nil {
			return value{}, err
		}
		switch c {
		case '[':
			return value{kind: kVector, items: items}, nil
		case '(':
			return value{kind: kList, items: items}, nil
		}
		if len(items)%2 != 0 {
			return value{}, p.errf(line, "the map opened at line %d has a key without a value (%d forms)", line, len(items))
		}
		return value{kind: kMap, items: items}, nil
	case ')', ']', '}':
		return value{}, p.errf(line, "unexpected %q: nothing open to close", string(c))
	case '"':
		s, err := p.str()
		if err != nil {
			return value{}, err
		}
		return value{kind: kString, s: s}, nil
	case '\\':
		p.pos++
		if p.pos >= len(p.src) {
			return value{}, p.errf(line, "a character literal \\ ends the input")
		}
		// One character at least, then the rest of a name like newline.
		_, n := utf8.DecodeRuneInString(p.src[p.pos:])
		p.pos += n
		p.token()
		return value{kind: kChar}, nil
	case ':':
		tok := p.token()
		if len(tok) < 2 {
			return value{}, p.errf(line, "a lone ':' is not a keyword")
		}
		return value{kind: kKeyword, s: strings.TrimPrefix(tok[1:], ":")}, nil
	case '#':
		return p.dispatch(line)
	}
	tok := p.token()
	if tok == "" {
		// A byte that is no delimiter and starts no token cannot happen;
		// keep the parser moving all the same.
		p.pos++
		return value{}, p.errf(line, "unexpected %q", string(c))
	}
	return atom(tok), nil
}

// items reads the values of a collection up to its closing byte.
func (p *parser) items(open byte, line int) ([]value, error) {
	want := closer(open)
	var items []value
	for {
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) {
			return nil, p.errf(line, "the %q opened at line %d is never closed", string(open), line)
		}
		c := p.src[p.pos]
		if c == want {
			p.pos++
			return items, nil
		}
		if c == ')' || c == ']' || c == '}' {
			return nil, p.errf(p.line, "%q closes the %q opened at line %d", string(c), string(open), line)
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
}

// dispatch reads what follows a '#': a set, a pattern, a symbolic value
// or a tagged literal.
func (p *parser) dispatch(line int) (value, error) {
	p.pos++ // '#'
	switch p.peek() {
	case '{':
		p.pos++
		items, err := p.items('{', line)
		if err != nil {
			return value{}, err
		}
		return value{kind: kSet, items: items}, nil
	case '"':
		s, err := p.str()
		if err != nil {
			return value{}, err
		}
		return value{kind: kString, s: s}, nil
	case '#':
		p.pos++
		return value{kind: kNumber, s: "##" + p.token()}, nil
	}
	tag := p.token()
	if tag == "" {
		return value{}, p.errf(line, "'#' is followed by neither a tag nor a set")
	}
	if err := p.skip(); err != nil {
		return value{}, err
	}
	if p.pos >= len(p.src) {
		return value{}, p.errf(line, "the tag #%s tags nothing: the input ends", printable(cut(tag)))
	}
	v, err := p.value()
	if err != nil {
		return value{}, err
	}
	return value{kind: kTagged, s: tag, items: []value{v}}, nil
}

// str reads a string literal; the current byte is its opening quote.
func (p *parser) str() (string, error) {
	line := p.line
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch c {
		case '"':
			p.pos++
			return b.String(), nil
		case '\n':
			p.line++
		case '\\':
			p.pos++
			if p.pos >= len(p.src) {
				break
			}
			e := p.src[p.pos]
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if p.pos+5 <= len(p.src) {
					if r, err := strconv.ParseUint(p.src[p.pos+1:p.pos+5], 16, 32); err == nil {
						b.WriteRune(rune(r))
						p.pos += 5
						continue
					}
				}
				b.WriteByte(e)
			default:
				if e == '\n' {
					p.line++
				}
				b.WriteByte(e)
			}
			p.pos++
			continue
		}
		b.WriteByte(c)
		p.pos++
	}
	return "", p.errf(line, "the string opened at line %d is never closed", line)
}

// atom reads a token that is not a collection, string, keyword or
// dispatch: nil, true, false, a number or a symbol.
func atom(tok string) value {
	switch tok {
	case "nil":
		return value{kind: kNil}
	case "true":
		return value{kind: kBool, b: true}
	case "false":
		return value{kind: kBool}
	}
	c := tok[0]
	if c >= '0' && c <= '9' || (c == '-' || c == '+') && len(tok) > 1 && tok[1] >= '0' && tok[1] <= '9' {
		if i, ok := parseInt(tok); ok {
			return value{kind: kInt, i: i}
		}
		return value{kind: kNumber, s: tok}
	}
	return value{kind: kSymbol, s: tok}
}

// parseInt parses a decimal integer, with Clojure's N suffix allowed,
// that fits in an int64.
func parseInt(tok string) (int64, bool) {
	tok = strings.TrimSuffix(tok, "N")
	if strings.HasPrefix(tok, "+") {
		tok = tok[1:]
	}
	digits := strings.TrimPrefix(tok, "-")
	if digits == "" || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	i, err := strconv.ParseInt(tok, 10, 64)
	return i, err == nil
}

// maxQuote bounds how much of the input an error message quotes.
const maxQuote = 200

// cut shortens s to about maxQuote bytes at a character boundary, saying
// how long it was.
func cut(s string) string {
	if len(s) <= maxQuote {
		return s
	}
	n := maxQuote
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// quote quotes s for an error message: on one line, control characters
// and invalid UTF-8 escaped, cut to about maxQuote bytes.
func quote(s string) string {
	return "`" + cut(printable(strings.Join(strings.Fields(s), " "))) + "`"
}

// printable escapes what a terminal should not receive from a file:
// control characters and bytes that are not UTF-8, as Go escapes them.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unicode.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
