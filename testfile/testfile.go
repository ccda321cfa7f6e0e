// Package testfile reads a test file: a YAML document that describes a
// whole run against a user's running Docker Compose stack (the services
// that are its nodes, the workload, the faults, the limits) and how to
// talk to it (a generic client of package targets/generic: HTTP+JSON,
// the Redis protocol or SQL over PostgreSQL's protocol). `faultline run
// -f FILE` runs one; a Go test can Load one and pass the Test to
// faultline.Run. docs/testfile.md documents every field.
//
// Reading is strict: an unknown field, a value of the wrong type, an empty
// required value, a bad duration, template or status code, a workload the
// client cannot serve, a node that names no service... is an *Error of one
// line, "FILE:LINE: FIELD: message", that wraps core.ErrBadInput.
package testfile

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/generic"
)

// DefaultName is the file name `faultline init` writes by default.
const DefaultName = "faultline.yaml"

// Provider is the provider a test file's run takes: the user's running
// Compose stack.
const Provider = "compose"

// Example is a commented test file that Parse accepts: what `faultline
// init` writes, and the example of docs/testfile.md.
//
//go:embed example.yaml
var Example string

// Error is a problem with a test file: where it is and what it is. It
// wraps core.ErrBadInput.
type Error struct {
	// File is the file's name as given to Load (or Parse).
	File string
	// Line is the line of the field at fault, from 1.
	Line int
	// Field is the field's path, such as client.http.cas.status.fail[0];
	// empty for a problem of the file as a whole (a YAML syntax error).
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error returns "FILE:LINE: FIELD: MSG" (without FIELD when there is
// none), on one line.
func (e *Error) Error() string {
	msg := strings.Join(strings.Fields(e.Msg), " ")
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, msg)
}

// Is makes the error match core.ErrBadInput.
func (e *Error) Is(target error) bool { return target == core.ErrBadInput }

// file is a test file as written: every field it may hold.
type file struct {
	Name            string          `yaml:"name"`
	Workload        string          `yaml:"workload"`
	Nemesis         *nemesisList    `yaml:"nemesis"`
	NemesisInterval *duration       `yaml:"nemesis_interval"`
	TimeLimit       *duration       `yaml:"time_limit"`
	Concurrency     *int            `yaml:"concurrency"`
	Rate            *float64        `yaml:"rate"`
	Keys            *int            `yaml:"keys"`
	Seed            *int64          `yaml:"seed"`
	OpTimeout       *duration       `yaml:"op_timeout"`
	OpLimit         *int            `yaml:"op_limit"`
	Loss            *float64        `yaml:"loss"`
	Results         *string         `yaml:"results"`
	CheckTimeout    *duration       `yaml:"check_timeout"`
	CheckMemory     *memory         `yaml:"check_memory"`
	StartTimeout    *duration       `yaml:"start_timeout"`
	RecoveryTimeout *duration       `yaml:"recovery_timeout"`
	Compose         *compose        `yaml:"compose"`
	Client          *generic.Config `yaml:"client"`
}

// compose is the compose section.
type compose struct {
	Project  string   `yaml:"project"`
	Services []string `yaml:"services"`
}

// duration is a Go duration string.
type duration struct{ d time.Duration }

// UnmarshalText reads a Go duration.
func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (such as 500ms, 30s or 1m30s)", b)
	}
	d.d = v
	return nil
}

// memory is a memory size as faultline.ParseBytes reads it.
type memory struct{ b int64 }

// UnmarshalText reads a memory size.
func (m *memory) UnmarshalText(b []byte) error {
	v, err := faultline.ParseBytes(string(b))
	if err != nil {
		return err
	}
	m.b = v
	return nil
}

// nemesisList is the nemesis field: a list of faults, or one string (a
// comma list, or none), with the line of each fault.
type nemesisList struct {
	items []string
	lines []int
}

func (l *nemesisList) decodeNode(d *decoder, n *yaml.Node, path string) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		if strings.TrimSpace(n.Value) == nemesis.None {
			return nil
		}
		for i, item := range strings.Split(n.Value, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				return d.errAt(n.Line, path, "item %d of %q is empty", i+1, n.Value)
			}
			l.items, l.lines = append(l.items, item), append(l.lines, n.Line)
		}
		return nil
	case n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			c = resolve(c)
			ip := fmt.Sprintf("%s[%d]", path, i)
			d.lines[ip] = c.Line
			if c.Kind != yaml.ScalarNode || c.Tag != "!!str" || strings.TrimSpace(c.Value) == "" {
				return d.errAt(c.Line, ip, "want a fault such as partition or kill=role:db, got %s", what(c))
			}
			l.items, l.lines = append(l.items, strings.TrimSpace(c.Value)), append(l.lines, c.Line)
		}
		if len(l.items) == 1 && l.items[0] == nemesis.None {
			l.items, l.lines = nil, nil
		}
		return nil
	}
	return d.errAt(n.Line, path, "want a list of faults (as [partition, kill]) or none, got %s", what(n))
}

var (
	// nameRe is what a test file's name may be: it names the run folder.
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	// projectRe is Compose's rule for a project name.
	projectRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	// serviceRe is Compose's rule for a service name.
	serviceRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	// lineRe finds the line in a YAML syntax error.
	lineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// Load reads the test file at path and returns the test it describes, or
// an *Error naming the file, the line and the field of the first
// problem. A file that cannot be read is an error wrapping
// core.ErrBadInput too.
func Load(path string) (faultline.Test, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return faultline.Test{}, core.BadInput("test file %s: %v", path, err)
	}
	return Parse(path, b)
}

// Parse reads a test file's content (name is what errors call the file)
// and returns the test it describes: faultline.DefaultTest with every
// setting the file gives, the compose provider, the file's Compose stack
// (Test.Compose) and the generic target its client section describes
// (Test.System, named after the file's name, of the one variant named
// after the client kind). Test.Nodes is the number of services. What
// Parse checks is the file's own: the run checks the rest (Test.Validate:
// a fault on a service the stack lacks, say).
func Parse(name string, data []byte) (faultline.Test, error) {
	d := &decoder{file: name, lines: map[string]int{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return faultline.Test{}, d.errAt(1, "", "the file is empty; it needs at least compose and client (faultline init writes an example)")
		}
		return faultline.Test{}, syntaxError(name, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		return faultline.Test{}, d.errAt(max(more.Line, 1), "", "a second YAML document; a test file holds one")
	} else if !errors.Is(err, io.EOF) {
		return faultline.Test{}, syntaxError(name, err)
	}
	if len(doc.Content) == 0 {
		return faultline.Test{}, d.errAt(1, "", "the file is empty; it needs at least compose and client (faultline init writes an example)")
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return faultline.Test{}, d.errAt(root.Line, "", "a test file is a mapping of fields (name: value lines), not %s", what(root))
	}
	var f file
	if err := d.decodeStruct(root, reflectValue(&f), ""); err != nil {
		return faultline.Test{}, err
	}
	return d.test(f, root.Line)
}

// syntaxError turns a YAML parser's error into an *Error at its line.
func syntaxError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := lineRe.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	return &Error{File: name, Line: line, Msg: "not valid YAML: " + msg}
}

// test checks f and builds its test; top is the line of the file's first
// field.
func (d *decoder) test(f file, top int) (faultline.Test, error) {
	bad := func(path, format string, args ...any) error {
		return d.errAt(d.lineOf(path), path, format, args...)
	}
	t := faultline.DefaultTest()
	if f.Compose == nil {
		return t, d.errAt(top, "compose", "is required: the Compose project and the services that are the nodes")
	}
	if f.Client == nil {
		return t, d.errAt(top, "client", "is required: how to talk to the system (http, redis or sql)")
	}
	if _, set := d.lines["name"]; set {
		switch {
		case !nameRe.MatchString(f.Name):
			return t, bad("name", "%q: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 (it names the run folder)", f.Name)
		case slices.Contains(registry.TargetNames(), f.Name):
			return t, bad("name", "%q is the name of one of faultline's own targets; name your system", f.Name)
		}
	}
	c := f.Compose
	switch {
	case c.Project == "":
		return t, bad("compose.project", "is required: the Compose project's name (docker compose ls lists them)")
	case !projectRe.MatchString(c.Project):
		return t, bad("compose.project", "%q is not a Compose project name (lower-case letters, digits, '_' and '-', starting with a letter or digit)", c.Project)
	case len(c.Services) == 0:
		return t, bad("compose.services", "is required: the services whose containers are the nodes, as [db, cache]")
	}
	for i, s := range c.Services {
		p := fmt.Sprintf("compose.services[%d]", i)
		switch {
		case !serviceRe.MatchString(s):
			return t, bad(p, "%q is not a Compose service name (letters, digits, '_', '.' and '-')", s)
		case s == targets.Clients:
			return t, bad(p, "%q is reserved: it stands for the clients in partitions", s)
		case slices.Index(c.Services, s) < i:
			return t, bad(p, "%q is listed twice", s)
		}
	}
	cfg := *f.Client
	cfg.Name, cfg.Services = f.Name, c.Services
	target, err := generic.New(cfg)
	if err != nil {
		var fe *generic.FieldError
		if errors.As(err, &fe) {
			path := "client"
			if fe.Field != "client" {
				path += "." + fe.Field
			}
			return t, bad(path, "%s", fe.Msg)
		}
		return t, bad("client", "%v", err)
	}
	// Unset, the workload is the client's first: register, or
	// idempotency for a client that describes only charge and ledger.
	t.Workload = target.Workloads()[0]
	if _, set := d.lines["workload"]; set {
		t.Workload = f.Workload
	}
	switch {
	case t.Workload != generic.WorkloadRegister && t.Workload != generic.WorkloadIdempotency:
		return t, bad("workload", "%q: a test file's client serves register or idempotency", t.Workload)
	case !slices.Contains(target.Workloads(), t.Workload) && target.Kind() == generic.KindRedis:
		return t, bad("workload", "%s: the redis client serves register only (the idempotency workload reads a ledger back, which Redis keeps no one way); use http or sql", t.Workload)
	case !slices.Contains(target.Workloads(), t.Workload):
		return t, bad("workload", "%s: client.%s describes %s only (the idempotency workload needs charge and ledger; register needs read, write and cas)", t.Workload, target.Kind(), strings.Join(target.Workloads(), " and "))
	}
	t.Target, t.System, t.Variant = target.Name(), target, target.Kind()
	t.Provider = Provider
	t.Compose = &faultline.ComposeStack{Project: c.Project, Services: slices.Clone(c.Services)}
	t.Nodes = len(c.Services)
	if err := d.scalars(f, &t); err != nil {
		return t, err
	}
	return t, nil
}

// scalars checks the file's numbers, durations and faults and sets them
// in t, with the bounds the run takes.
func (d *decoder) scalars(f file, t *faultline.Test) error {
	bad := func(path, format string, args ...any) error {
		return d.errAt(d.lineOf(path), path, format, args...)
	}
	if l := f.Nemesis; l != nil {
		for i := range l.items {
			if _, err := nemesis.Parse(strings.Join(l.items[:i+1], ",")); err != nil {
				return d.errAt(l.lines[i], "nemesis", "%s: %v", l.items[i], err)
			}
		}
		t.Nemesis = l.items
	}
	for _, x := range []struct {
		field string
		v     *duration
		min   time.Duration
		into  *time.Duration
	}{
		{"time_limit", f.TimeLimit, 0, &t.TimeLimit}, {"op_timeout", f.OpTimeout, 0, &t.OpTimeout},
		{"nemesis_interval", f.NemesisInterval, faultline.MinNemesisInterval, &t.NemesisInterval},
		{"check_timeout", f.CheckTimeout, 0, &t.CheckTimeout}, {"start_timeout", f.StartTimeout, 0, &t.StartTimeout},
		{"recovery_timeout", f.RecoveryTimeout, 0, &t.RecoveryTimeout},
	} {
		if x.v == nil {
			continue
		}
		switch {
		case x.v.d <= 0 || x.v.d > faultline.MaxDuration:
			return bad(x.field, "must be positive and at most %dh (a year), got %s", faultline.MaxDuration/time.Hour, x.v.d)
		case x.v.d < x.min:
			return bad(x.field, "must be at least %s, got %s", x.min, x.v.d)
		}
		*x.into = x.v.d
	}
	if v := f.Concurrency; v != nil {
		if *v < 1 || *v > faultline.MaxConcurrency {
			return bad("concurrency", "must be between 1 and %d, got %d", faultline.MaxConcurrency, *v)
		}
		t.Concurrency = *v
	}
	if v := f.Keys; v != nil {
		if *v < 1 || *v > faultline.MaxKeys {
			return bad("keys", "must be between 1 and %d, got %d", faultline.MaxKeys, *v)
		}
		t.Keys = *v
	}
	if v := f.Rate; v != nil {
		if *v < 0 || (*v > 0 && *v < faultline.MinRate) {
			return bad("rate", "must be 0 (unlimited) or a number of operations per second from %g, got %g", faultline.MinRate, *v)
		}
		t.Rate = *v
	}
	if v := f.OpLimit; v != nil {
		if *v < 0 {
			return bad("op_limit", "must not be negative (0: no limit), got %d", *v)
		}
		t.OpLimit = *v
	}
	if v := f.Loss; v != nil {
		if *v <= 0 || *v > 1 || math.IsNaN(*v) {
			return bad("loss", "must be a share above 0 and at most 1, got %g", *v)
		}
		t.Loss = *v
	}
	if v := f.Seed; v != nil {
		t.Seed = *v
	}
	if v := f.Results; v != nil {
		if *v == "" || strings.ContainsRune(*v, 0) {
			return bad("results", "must name a folder")
		}
		t.Results = *v
	}
	if v := f.CheckMemory; v != nil {
		if v.b < faultline.MinCheckMemory {
			return bad("check_memory", "must be at least %s, got %s", faultline.FormatBytes(faultline.MinCheckMemory), faultline.FormatBytes(v.b))
		}
		t.CheckMemory = v.b
	}
	return nil
}
