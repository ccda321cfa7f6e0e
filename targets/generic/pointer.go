package generic

import (
	"fmt"
	"strconv"
	"strings"
)

// Pointer is a JSON pointer (RFC 6901): "" is the whole document, "/a/0/b"
// the member b of the first element of the member a; "~1" stands for '/'
// and "~0" for '~' in a name.
type Pointer struct {
	raw    string
	tokens []string
}

// ParsePointer parses s: empty, or '/' followed by tokens separated by
// '/', with no '~' but in "~0" and "~1".
func ParsePointer(s string) (Pointer, error) {
	if s == "" {
		return Pointer{}, nil
	}
	if !strings.HasPrefix(s, "/") {
		return Pointer{}, fmt.Errorf("%q is not a JSON pointer: it starts with '/' (as in /value), or is empty for the whole document", s)
	}
	p := Pointer{raw: s}
	for _, tok := range strings.Split(s[1:], "/") {
		for i := 0; i < len(tok); i++ {
			if tok[i] == '~' && (i+1 >= len(tok) || tok[i+1] != '0' && tok[i+1] != '1') {
				return Pointer{}, fmt.Errorf("%q is not a JSON pointer: '~' must be followed by 0 or 1", s)
			}
		}
		p.tokens = append(p.tokens, strings.NewReplacer("~1", "/", "~0", "~").Replace(tok))
	}
	return p, nil
}

// String returns the pointer as written.
func (p Pointer) String() string { return p.raw }

// Lookup returns the value p points at in doc (as encoding/json decodes
// into any), and false when there is none.
func (p Pointer) Lookup(doc any) (any, bool) {
	cur := doc
	for _, tok := range p.tokens {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) || (len(tok) > 1 && tok[0] == '0') {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
