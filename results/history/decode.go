package history

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small JSON decoder for history lines. It knows the
// event fields, validates everything it reads (the value is checked to be
// well-formed JSON and kept as raw bytes), and follows encoding/json in the
// details: strings are unescaped with the same rules, invalid UTF-8 turns
// into U+FFFD, nesting deeper than 10000 levels is rejected.

// maxNestingDepth is encoding/json's limit.
const maxNestingDepth = 10000

// syntaxError says what is wrong with a line and where (a byte offset).
type syntaxError struct {
	msg string
	off int
}

// field bits of rawEvent.seen.
const (
	seenIndex = 1 << iota
	seenTime
	seenProcess
	seenType
	seenF
	seenValue
)

// rawEvent is one parsed line before validation.
type rawEvent struct {
	index, time, process int64
	typ, f, key, node    string
	err                  string
	value                []byte // the raw JSON value, aliasing the line; nil when absent
	seen                 int
}

// lineParser parses history lines. It interns short repeated strings (f,
// type, key, node, error) so that a large history does not hold a million
// copies of "write".
type lineParser struct {
	intern  map[string]string
	scratch []byte
}

const (
	maxInterned    = 8192
	maxInternedLen = 64
)

func newLineParser() *lineParser {
	return &lineParser{intern: make(map[string]string, 64)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// parse fills ev from line. It returns nil on success.
func (p *lineParser) parse(b []byte, ev *rawEvent) *syntaxError {
	*ev = rawEvent{}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return &syntaxError{"not a JSON object", i}
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return &syntaxError{"want a field name", i}
			}
			end, esc, serr := scanString(b, i)
			if serr != nil {
				return serr
			}
			name := b[i+1 : end-1]
			if esc {
				name = unquote(nil, name)
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return &syntaxError{"want ':' after a field name", i}
			}
			i = skipSpace(b, i+1)
			var err *syntaxError
			switch string(name) {
			case "index":
				ev.index, i, err = parseInt(b, i, "index")
				ev.seen |= seenIndex
			case "time":
				ev.time, i, err = parseInt(b, i, "time")
				ev.seen |= seenTime
			case "process":
				ev.process, i, err = parseInt(b, i, "process")
				ev.seen |= seenProcess
			case "type":
				var null bool
				ev.typ, null, i, err = p.parseString(b, i, "type")
				if !null {
					ev.seen |= seenType
				}
			case "f":
				var null bool
				ev.f, null, i, err = p.parseString(b, i, "f")
				if !null {
					ev.seen |= seenF
				}
			case "key":
				ev.key, _, i, err = p.parseString(b, i, "key")
			case "node":
				ev.node, _, i, err = p.parseString(b, i, "node")
			case "error":
				ev.err, _, i, err = p.parseString(b, i, "error")
			case "value":
				start := i
				if i, err = skipValue(b, i, 2); err == nil {
					ev.value = b[start:i]
					ev.seen |= seenValue
				}
			default:
				i, err = skipValue(b, i, 2)
			}
			if err != nil {
				return err
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return &syntaxError{"want ',' or '}' after a field", i}
		}
	}
	if i = skipSpace(b, i); i != len(b) {
		return &syntaxError{"unexpected data after the JSON object", i}
	}
	return nil
}

// parseInt reads a JSON number that must be an integer fitting int64.
func parseInt(b []byte, i int, field string) (int64, int, *syntaxError) {
	start := i
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		return 0, start, &syntaxError{"field " + strconv.Quote(field) + ": want an integer", start}
	}
	var n uint64
	const cutoff = 1 << 63
	if b[i] == '0' {
		i++
	} else {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			d := uint64(b[i] - '0')
			if n > (cutoff-d)/10 {
				return 0, start, &syntaxError{"field " + strconv.Quote(field) + ": integer out of range", start}
			}
			n = n*10 + d
			i++
		}
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E' || (b[i] >= '0' && b[i] <= '9')) {
		return 0, start, &syntaxError{"field " + strconv.Quote(field) + ": want an integer", start}
	}
	if !neg && n == cutoff {
		return 0, start, &syntaxError{"field " + strconv.Quote(field) + ": integer out of range", start}
	}
	if neg {
		return -int64(n), i, nil // -(1<<63) wraps to itself, which is right
	}
	return int64(n), i, nil
}

// parseString reads a JSON string (or null, reported as null) and returns
// it unescaped and interned when short.
func (p *lineParser) parseString(b []byte, i int, field string) (s string, null bool, next int, err *syntaxError) {
	if i < len(b) && b[i] == 'n' {
		if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
			return "", true, i + 4, nil
		}
	}
	if i >= len(b) || b[i] != '"' {
		return "", false, i, &syntaxError{"field " + strconv.Quote(field) + ": want a string", i}
	}
	end, esc, serr := scanString(b, i)
	if serr != nil {
		return "", false, i, serr
	}
	content := b[i+1 : end-1]
	if esc {
		p.scratch = unquote(p.scratch[:0], content)
		content = p.scratch
	}
	if len(content) > maxInternedLen {
		return string(content), false, end, nil
	}
	if s, ok := p.intern[string(content)]; ok {
		return s, false, end, nil
	}
	s = string(content)
	if len(p.intern) < maxInterned {
		p.intern[s] = s
	}
	return s, false, end, nil
}

// scanString checks the JSON string starting at b[i] (a quote). It returns
// the offset just past the closing quote and whether the content needs
// unquote (escapes or bytes that are not valid UTF-8).
func scanString(b []byte, i int) (end int, needsUnquote bool, err *syntaxError) {
	j := i + 1
	nonASCII := false
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			if nonASCII && !needsUnquote && !utf8.Valid(b[i+1:j]) {
				needsUnquote = true
			}
			return j + 1, needsUnquote, nil
		case c == '\\':
			needsUnquote = true
			if j+1 >= len(b) {
				return 0, false, &syntaxError{"unterminated string", i}
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) {
					return 0, false, &syntaxError{"unterminated string", i}
				}
				for k := j + 2; k < j+6; k++ {
					if unhex(b[k]) < 0 {
						return 0, false, &syntaxError{"invalid \\u escape in string", j}
					}
				}
				j += 6
			default:
				return 0, false, &syntaxError{"invalid escape in string", j}
			}
		case c < 0x20:
			return 0, false, &syntaxError{"control character in string", j}
		case c >= utf8.RuneSelf:
			nonASCII = true
			j++
		default:
			j++
		}
	}
	return 0, false, &syntaxError{"unterminated string", i}
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r*16 + h
	}
	return r
}

// unquote appends the unescaped content of a string already checked by
// scanString, with encoding/json's rules: a lone surrogate and invalid
// UTF-8 become U+FFFD.
func unquote(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch s[r+1] {
			case '"', '\\', '/':
				dst = append(dst, s[r+1])
				r += 2
			case 'b':
				dst = append(dst, '\b')
				r += 2
			case 'f':
				dst = append(dst, '\f')
				r += 2
			case 'n':
				dst = append(dst, '\n')
				r += 2
			case 'r':
				dst = append(dst, '\r')
				r += 2
			case 't':
				dst = append(dst, '\t')
				r += 2
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != utf8.RuneError {
						r += 6
						dst = utf8.AppendRune(dst, dec)
						break
					}
					rr = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, rr)
			}
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			dst = utf8.AppendRune(dst, rr)
		}
	}
	return dst
}

// skipValue checks the JSON value starting at b[i] and returns the offset
// just past it. depth is the nesting level of the value (1 for a value at
// the top).
func skipValue(b []byte, i, depth int) (int, *syntaxError) {
	if i >= len(b) {
		return i, &syntaxError{"want a value", i}
	}
	switch c := b[i]; c {
	case '{', '[':
		if depth > maxNestingDepth {
			return i, &syntaxError{"value nested too deeply", i}
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, &syntaxError{"want an object key", i}
				}
				end, _, err := scanString(b, i)
				if err != nil {
					return i, err
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return i, &syntaxError{"want ':' after an object key", i}
				}
				i = skipSpace(b, i+1)
			}
			var err *syntaxError
			if i, err = skipValue(b, i, depth+1); err != nil {
				return i, err
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == closer {
				return i + 1, nil
			}
			return i, &syntaxError{"want ',' or '" + string(closer) + "'", i}
		}
	case '"':
		end, _, err := scanString(b, i)
		if err != nil {
			return i, err
		}
		return end, nil
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return skipNumber(b, i)
		}
		return i, &syntaxError{"want a value", i}
	}
}

func literal(b []byte, i int, lit string) (int, *syntaxError) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return i, &syntaxError{"invalid literal", i}
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skipNumber checks a number against the JSON grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(b []byte, i int) (int, *syntaxError) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return start, &syntaxError{"invalid number", start}
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return start, &syntaxError{"invalid number", start}
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return start, &syntaxError{"invalid number", start}
		}
		i = j
	}
	return i, nil
}

// validJSON reports whether b is one JSON value with optional surrounding
// space, with the rules of json.Valid.
func validJSON(b []byte) bool {
	i, err := skipValue(b, skipSpace(b, 0), 1)
	return err == nil && skipSpace(b, i) == len(b)
}
