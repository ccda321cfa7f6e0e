package generic

import (
	"fmt"
	"slices"
	"strings"
)

// The placeholders a template may name. Which of them an operation has is
// listed by Placeholders.
const (
	// PKey is the operation's key (a register, or an account), prefixed
	// with the run's namespace (see Namespace).
	PKey = "key"
	// PValue is a write's value.
	PValue = "value"
	// POld and PNew are a compare-and-set's expected and new values.
	POld = "old"
	PNew = "new"
	// PRequestID is a charge's request id, prefixed with the run's
	// namespace.
	PRequestID = "request_id"
	// PAmount is a charge's amount.
	PAmount = "amount"
	// PNode is the name of the node the operation goes to: its Compose
	// service, or service-N for a service with several containers.
	PNode = "node"
	// PHost is the address of the node the operation goes to: its IP
	// address on the Compose project's network (in brackets when IPv6).
	PHost = "host"
)

// Placeholders returns the placeholders an operation's templates may name:
// {node} and {host} always, and the operation's own values: {key} for
// read and ledger, {key} {value} for write, {key} {old} {new} for cas,
// {key} {request_id} {amount} for charge. The operation "" (templates
// shared by every operation, such as a client's headers or a connection
// address) has {node} and {host} only.
func Placeholders(op string) []string {
	common := []string{PNode, PHost}
	switch op {
	case OpRead, OpLedger:
		return append(common, PKey)
	case OpWrite:
		return append(common, PKey, PValue)
	case OpCAS:
		return append(common, PKey, POld, PNew)
	case OpCharge:
		return append(common, PKey, PRequestID, PAmount)
	}
	return common
}

// allPlaceholders lists every placeholder of any operation.
var allPlaceholders = []string{PKey, PValue, POld, PNew, PRequestID, PAmount, PNode, PHost}

// Template is a text with placeholders such as {key} in it. A placeholder
// is a name of letters, digits and '_' in braces; every other brace is
// literal. Expand fills the placeholders in; nothing is escaped (every
// value faultline fills in is made of letters, digits, '-', '.', ':' and
// brackets). The zero Template is empty.
type Template struct {
	raw   string
	parts []part
}

// part is a literal text, or a placeholder when name is set.
type part struct {
	text string
	name string
}

// ParseTemplate parses s, allowing the placeholders in allowed. With
// literalBraces the text may hold braces of its own (a JSON body), which
// must balance outside double-quoted strings; without it every brace must
// belong to a placeholder (a URL, an address, a key). A placeholder that
// is not allowed, or a brace that is out of place, is an error naming the
// position (from 1).
func ParseTemplate(s string, allowed []string, literalBraces bool) (Template, error) {
	t := Template{raw: s}
	var lit strings.Builder
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '{' {
			if name, ok := placeholderAt(s, i); ok {
				if !slices.Contains(allowed, name) {
					if slices.Contains(allPlaceholders, name) {
						return Template{}, fmt.Errorf("placeholder {%s} at position %d: this operation has no %s (it has %s)", name, i+1, name, braced(allowed))
					}
					return Template{}, fmt.Errorf("unknown placeholder {%s} at position %d (this operation has %s)", name, i+1, braced(allowed))
				}
				if lit.Len() > 0 {
					t.parts = append(t.parts, part{text: lit.String()})
					lit.Reset()
				}
				t.parts = append(t.parts, part{name: name})
				i += len(name) + 1
				continue
			}
		}
		lit.WriteByte(c)
		switch {
		case !literalBraces && (c == '{' || c == '}'):
			return Template{}, fmt.Errorf("%q at position %d is not part of a placeholder such as {%s}", string(c), i+1, allowed[len(allowed)-1])
		case !literalBraces:
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return Template{}, fmt.Errorf("unbalanced braces: the '}' at position %d closes nothing", i+1)
			}
			depth--
		}
	}
	if depth > 0 {
		return Template{}, fmt.Errorf("unbalanced braces: %d '{' left open", depth)
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, part{text: lit.String()})
	}
	return t, nil
}

// placeholderAt returns the name of the placeholder whose '{' is at s[i],
// when one is there.
func placeholderAt(s string, i int) (string, bool) {
	j := i + 1
	for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_') {
		j++
	}
	if j == i+1 || j >= len(s) || s[j] != '}' || s[i+1] >= '0' && s[i+1] <= '9' {
		return "", false
	}
	return s[i+1 : j], true
}

// braced writes names as "{a}, {b}".
func braced(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{" + n + "}"
	}
	return strings.Join(out, ", ")
}

// Expand returns the text with each placeholder replaced by its value in
// vars; a placeholder without a value becomes empty.
func (t Template) Expand(vars map[string]string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.name != "" {
			b.WriteString(vars[p.name])
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// Uses reports whether the template names the placeholder name.
func (t Template) Uses(name string) bool {
	return slices.ContainsFunc(t.parts, func(p part) bool { return p.name == name })
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// IsZero reports whether the template is empty.
func (t Template) IsZero() bool { return t.raw == "" }
