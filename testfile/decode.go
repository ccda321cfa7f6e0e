package testfile

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder decodes YAML nodes into Go values strictly: every field must be
// known, every scalar of the type its field wants. It records the line of
// every field and list item it meets, by path, so that later checks can
// name the line of what they refuse.
type decoder struct {
	file  string
	lines map[string]int
}

// errAt returns the error of field path at node n's line.
func (d *decoder) errAt(line int, path, format string, args ...any) error {
	return &Error{File: d.file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)}
}

// nodeDecoder is implemented by a field type that decodes its node itself.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string) error
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	nodeDecoderType = reflect.TypeFor[nodeDecoder]()
)

// resolve follows aliases to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// what names the kind of YAML value n holds, for an error.
func what(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "nothing"
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	}
	return n.Tag + " " + n.Value
}

// decode decodes n into v (settable) at path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) error {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return d.errAt(n.Line, path, "has no value; give one or leave the field out")
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if err := d.decode(n, p.Elem(), path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	if pv := v.Addr(); pv.Type().Implements(nodeDecoderType) {
		return pv.Interface().(nodeDecoder).decodeNode(d, n, path)
	}
	if pv := v.Addr(); pv.Type().Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			return d.errAt(n.Line, path, "want a single value, got %s", what(n))
		}
		if err := pv.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			return d.errAt(n.Line, path, "%v", err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.decodeStruct(n, v, path)
	case reflect.Map:
		return d.decodeMap(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errAt(n.Line, path, "want a list (as [a, b], or one item a line under it, each starting with \"- \"), got %s", what(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			d.lines[ip] = resolve(item).Line
			if err := d.decode(item, s.Index(i), ip); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = "; quote it to make it one"
			}
			return d.errAt(n.Line, path, "want a string, got %s%s", what(n), hint)
		}
		v.SetString(n.Value)
		return nil
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return d.errAt(n.Line, path, "want a whole number, got %s", what(n))
		}
		var x int64
		if err := n.Decode(&x); err != nil || v.OverflowInt(x) {
			return d.errAt(n.Line, path, "%s is out of range", n.Value)
		}
		v.SetInt(x)
		return nil
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			return d.errAt(n.Line, path, "want a number, got %s", what(n))
		}
		var x float64
		if err := n.Decode(&x); err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return d.errAt(n.Line, path, "%s is not a finite number", n.Value)
		}
		v.SetFloat(x)
		return nil
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return d.errAt(n.Line, path, "want true or false, got %s", what(n))
		}
		b, _ := strconv.ParseBool(n.Value)
		v.SetBool(b)
		return nil
	}
	return d.errAt(n.Line, path, "cannot decode into %s", v.Type())
}

// join returns the path of field name under path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fieldsOf lists the YAML fields of struct type t, inline structs
// included, each with the index path to its Go field.
func fieldsOf(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-" || !f.IsExported():
		case opts == "inline":
			for k, idx := range fieldsOf(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
		case name != "":
			out[name] = []int{i}
		}
	}
	return out
}

// decodeStruct decodes a mapping into struct v: each key must name a
// field, once.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		return d.errAt(n.Line, path, "want a mapping (field: value lines), got %s", what(n))
	}
	fields := fieldsOf(v.Type())
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return d.errAt(k.Line, path, "a field name must be a plain name, got %s", what(k))
		}
		fp := join(path, k.Value)
		if line, dup := first[k.Value]; dup {
			return d.errAt(k.Line, fp, "given twice (first on line %d)", line)
		}
		first[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			known := make([]string, 0, len(fields))
			for name := range fields {
				known = append(known, name)
			}
			slices.Sort(known)
			where := "at the top level"
			if path != "" {
				where = "in " + path
			}
			if k.Value == "<<" {
				return d.errAt(k.Line, fp, "merge keys are not supported; repeat the fields, or refer to an anchor as a whole value")
			}
			return d.errAt(k.Line, fp, "unknown field; known fields %s: %s", where, strings.Join(known, ", "))
		}
		d.lines[fp] = k.Line
		if err := d.decode(val, v.FieldByIndex(idx), fp); err != nil {
			return err
		}
	}
	return nil
}

// decodeMap decodes a mapping of names to values into map v.
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		return d.errAt(n.Line, path, "want a mapping (name: value lines), got %s", what(n))
	}
	if v.Type().Key().Kind() != reflect.String {
		return d.errAt(n.Line, path, "cannot decode into %s", v.Type())
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			return d.errAt(k.Line, path, "a name must be a plain name, got %s", what(k))
		}
		fp := join(path, k.Value)
		if line, dup := first[k.Value]; dup {
			return d.errAt(k.Line, fp, "given twice (first on line %d)", line)
		}
		first[k.Value] = k.Line
		d.lines[fp] = k.Line
		ev := reflect.New(v.Type().Elem()).Elem()
		if err := d.decode(n.Content[i+1], ev, fp); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
	return nil
}

// lineOf returns the line of path, or of the nearest enclosing field
// that was given, or 1.
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

// reflectValue returns the settable value p points at.
func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
