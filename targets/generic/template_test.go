package generic_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/generic"
)

func TestTemplateExpands(t *testing.T) {
	vars := map[string]string{"key": "r9-k0", "value": "17", "old": "3", "new": "4", "host": "127.0.0.1", "node": "primary"}
	for _, tc := range []struct {
		op, tmpl string
		braces   bool
		want     string
	}{
		{generic.OpRead, "http://{host}:8080/{node}/kv/{key}", false, "http://127.0.0.1:8080/primary/kv/r9-k0"},
		{generic.OpWrite, `{"value": {value}, "key": "{key}"}`, true, `{"value": 17, "key": "r9-k0"}`},
		{generic.OpCAS, `{"old": {old}, "new": {new}, "note": "a } in a string { is literal"}`, true,
			`{"old": 3, "new": 4, "note": "a } in a string { is literal"}`},
		{generic.OpWrite, `{"escaped": "\"}", "v": [{value}, {}]}`, true, `{"escaped": "\"}", "v": [17, {}]}`},
		{generic.OpRead, "no placeholders", false, "no placeholders"},
	} {
		tp, err := generic.ParseTemplate(tc.tmpl, generic.Placeholders(tc.op), tc.braces)
		if err != nil {
			t.Errorf("%q: %v", tc.tmpl, err)
			continue
		}
		if got := tp.Expand(vars); got != tc.want {
			t.Errorf("%q expands to %q, want %q", tc.tmpl, got, tc.want)
		}
	}
}

func TestTemplateRefuses(t *testing.T) {
	for _, tc := range []struct {
		op, tmpl string
		braces   bool
		want     string
	}{
		{generic.OpRead, "http://{host}/{colour}", false, "unknown placeholder {colour} at position 15 (this operation has {node}, {host}, {key})"},
		{generic.OpRead, "http://{host}/{value}", false, "placeholder {value} at position 15: this operation has no value"},
		{generic.OpWrite, "/kv/{key}/{old}", false, "this operation has no old"},
		{generic.OpRead, "/kv/{host:8080/", false, `"{" at position 5 is not part of a placeholder`},
		{generic.OpRead, "/kv/host}/", false, `"}" at position 9 is not part of a placeholder`},
		{generic.OpWrite, `{"value": {value}`, true, "unbalanced braces: 1 '{' left open"},
		{generic.OpWrite, `{"value": {value}}}`, true, "unbalanced braces: the '}' at position 19 closes nothing"},
		{generic.OpCharge, `{"id": "{request}"}`, true, "unknown placeholder {request}"},
		{"", "redis://{host}:6379/{key}", false, "this operation has no key"},
	} {
		_, err := generic.ParseTemplate(tc.tmpl, generic.Placeholders(tc.op), tc.braces)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.tmpl, err, tc.want)
		}
	}
}

func TestCodeRanges(t *testing.T) {
	for in, want := range map[string]generic.CodeRange{
		"409": {409, 409}, "500-504": {500, 504}, "5xx": {500, 599}, "2XX": {200, 299}, " 201 ": {201, 201},
	} {
		var r generic.CodeRange
		if err := r.UnmarshalText([]byte(in)); err != nil || r != want {
			t.Errorf("%q: %v, %v; want %v", in, r, err, want)
		}
	}
	for in, want := range map[string]string{
		"700":     "status code 700 is out of range (HTTP status codes are 100 to 599)",
		"99":      "status code 99 is out of range",
		"6xx":     "status code 6xx is out of range",
		"504-500": "status range 504-500 ends below its start",
		"abc":     `"abc" is not a status code`,
		"2yy":     `"2yy" is not a status code`,
		"200-":    `"200-" is not a status code`,
	} {
		var r generic.CodeRange
		if err := r.UnmarshalText([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func TestStatusClassifies(t *testing.T) {
	s := generic.Status{Fail: []generic.CodeRange{{409, 409}, {412, 412}}, Info: []generic.CodeRange{{500, 599}}}
	for code, want := range map[int]generic.Outcome{
		200: generic.OutcomeOK, 204: generic.OutcomeOK, 299: generic.OutcomeOK, // OK left empty: 2xx
		409: generic.OutcomeFail, 412: generic.OutcomeFail, 503: generic.OutcomeInfo,
		404: generic.Unmapped, 302: generic.Unmapped, 100: generic.Unmapped,
	} {
		if got := s.Classify(code); got != want {
			t.Errorf("status %d: %v, want %v", code, got, want)
		}
	}
	// An explicit OK replaces the default; a 2xx it leaves out is unmapped.
	s = generic.Status{OK: []generic.CodeRange{{200, 200}}, Absent: []generic.CodeRange{{404, 404}}, Fail: []generic.CodeRange{{204, 204}}}
	for code, want := range map[int]generic.Outcome{200: generic.OutcomeOK, 201: generic.Unmapped, 204: generic.OutcomeFail, 404: generic.OutcomeAbsent} {
		if got := s.Classify(code); got != want {
			t.Errorf("explicit ok: status %d: %v, want %v", code, got, want)
		}
	}
}

func TestPointers(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a": {"b/c": [10, {"~x": 7}]}, "n": null, "": 5}`), &doc); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]any{
		"/a/b~1c/0": 10.0, "/a/b~1c/1/~0x": 7.0, "/n": nil, "/": 5.0,
	} {
		ptr, err := generic.ParsePointer(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if got, ok := ptr.Lookup(doc); !ok || got != want {
			t.Errorf("%q: %v, %v; want %v", p, got, ok, want)
		}
	}
	for _, p := range []string{"/missing", "/a/b~1c/2", "/a/b~1c/01", "/a/b~1c/-1", "/n/x"} {
		ptr, _ := generic.ParsePointer(p)
		if got, ok := ptr.Lookup(doc); ok {
			t.Errorf("%q found %v; want nothing", p, got)
		}
	}
	whole, _ := generic.ParsePointer("")
	if got, ok := whole.Lookup(doc); !ok || got == nil {
		t.Errorf("the empty pointer: %v, %v; want the document", got, ok)
	}
	for p, want := range map[string]string{"value": "starts with '/'", "/a~2": "'~' must be followed by 0 or 1", "/a~": "'~' must be followed"} {
		if _, err := generic.ParsePointer(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", p, err, want)
		}
	}
}

// httpRegister returns a valid HTTP register config over services primary
// and replica, for tests to change.
func httpRegister() generic.Config {
	value := "/value"
	return generic.Config{Name: "kv", Services: []string{"primary", "replica"}, HTTP: &generic.HTTP{
		Read:  &generic.HTTPRead{HTTPRequest: generic.HTTPRequest{URL: "http://{host}:8080/kv/{key}"}, Value: &value},
		Write: &generic.HTTPRequest{Node: "primary", Method: "PUT", URL: "http://{host}:8080/kv/{key}", Body: `{"value": {value}}`},
		CAS:   &generic.HTTPRequest{Node: "primary", URL: "http://{host}:8080/kv/{key}/cas", Body: `{"old": {old}, "new": {new}}`},
	}}
}

func TestNewRefuses(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name       string
		mut        func(c *generic.Config)
		field, msg string
	}{
		{"no kind", func(c *generic.Config) { c.HTTP = nil }, "client", "give exactly one of http, redis or sql; got none"},
		{"two kinds", func(c *generic.Config) { c.Redis = &generic.Redis{URL: "redis://{host}:6379"} }, "client", "got http and redis"},
		{"cas missing", func(c *generic.Config) { c.HTTP.CAS = nil }, "http", "the register workload needs read, write, cas; cas missing"},
		{"nothing", func(c *generic.Config) { c.HTTP = &generic.HTTP{} }, "http", "no operations"},
		{"ledger missing", func(c *generic.Config) {
			c.HTTP.Charge = &generic.HTTPRequest{URL: "http://{host}/c/{key}", Body: `{"id": "{request_id}", "amount": {amount}}`}
		}, "http", "the idempotency workload needs charge, ledger; ledger missing"},
		{"bad node", func(c *generic.Config) { c.HTTP.Write.Node = "primry" }, "http.write.node", `"primry" is not a service of compose.services (primary, replica) nor "any"`},
		{"no url", func(c *generic.Config) { c.HTTP.CAS.URL = "" }, "http.cas", "url is required"},
		{"bad scheme", func(c *generic.Config) { c.HTTP.CAS.URL = "ftp://{host}/x" }, "http.cas.url", "the scheme must be http or https"},
		{"bad method", func(c *generic.Config) { c.HTTP.Write.Method = "put" }, "http.write.method", "is not an HTTP method"},
		{"placeholder", func(c *generic.Config) { c.HTTP.Read.URL = "http://{host}/{value}" }, "http.read.url", "this operation has no value"},
		{"body not JSON", func(c *generic.Config) { c.HTTP.Write.Body = `{"key": {key}}` }, "http.write.body", "not JSON once filled in"},
		{"unbalanced body", func(c *generic.Config) { c.HTTP.Write.Body = `{"value": {value}` }, "http.write.body", "unbalanced braces"},
		{"no value pointer", func(c *generic.Config) { c.HTTP.Read.Value = nil }, "http.read", "value is required"},
		{"bad pointer", func(c *generic.Config) { c.HTTP.Read.Value = str("value") }, "http.read.value", "is not a JSON pointer"},
		{"overlap", func(c *generic.Config) {
			c.HTTP.Status = &generic.Status{Fail: []generic.CodeRange{{400, 499}}, Info: []generic.CodeRange{{404, 404}}}
		}, "http.status.info[0]", "404 overlaps 4xx of fail"},
		{"absent on a write", func(c *generic.Config) {
			c.HTTP.Write.Status = &generic.Status{Absent: []generic.CodeRange{{404, 404}}}
		}, "http.write.status.absent", "absent applies to read only"},
		{"fail on a read", func(c *generic.Config) {
			c.HTTP.Read.Status = &generic.Status{Fail: []generic.CodeRange{{500, 500}}}
		}, "http.read.status.fail", "a read changes nothing"},
		{"code out of range", func(c *generic.Config) {
			c.HTTP.Status = &generic.Status{OK: []generic.CodeRange{{200, 700}}}
		}, "http.status.ok[0]", "out of range"},
		{"header name", func(c *generic.Config) { c.HTTP.Headers = map[string]string{"Bad Name": "x"} }, "http.headers", `"Bad Name" is not a header name`},
		{"header template", func(c *generic.Config) { c.HTTP.Headers = map[string]string{"X-Key": "{key}"} }, "http.headers.X-Key", "this operation has no key"},
	} {
		cfg := httpRegister()
		tc.mut(&cfg)
		_, err := generic.New(cfg)
		var fe *generic.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) || !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%s: New = %v; want bad input at %s saying %q", tc.name, err, tc.field, tc.msg)
		}
	}
}

func TestNewRefusesRedisAndSQL(t *testing.T) {
	services := []string{"db"}
	for _, tc := range []struct {
		name       string
		cfg        generic.Config
		field, msg string
	}{
		{"redis url", generic.Config{Services: services, Redis: &generic.Redis{}}, "redis", "url is required"},
		{"redis scheme", generic.Config{Services: services, Redis: &generic.Redis{URL: "http://{host}:6379"}}, "redis.url", "not a Redis URL"},
		{"redis key", generic.Config{Services: services, Redis: &generic.Redis{URL: "redis://{host}:6379", Key: "fixed"}}, "redis.key", "does not name {key}"},
		{"redis node", generic.Config{Services: services, Redis: &generic.Redis{URL: "redis://{host}:6379", CAS: &generic.Route{Node: "cache"}}}, "redis.cas.node", `"cache" is not a service`},
		{"sql dsn", generic.Config{Services: services, SQL: &generic.SQL{}}, "sql", "dsn is required"},
		{"sql params", generic.Config{Services: services, SQL: &generic.SQL{DSN: "postgres://u@{host}/d",
			Read: &generic.SQLStatement{Statement: "SELECT v FROM r WHERE k = $1", Params: []string{"key", "value"}}}}, "sql.read.params[1]", `"value": read has the parameters key`},
		{"sql unused", generic.Config{Services: services, SQL: &generic.SQL{DSN: "postgres://u@{host}/d",
			Write: &generic.SQLStatement{Statement: "INSERT INTO r VALUES ($1, 5)", Params: []string{"key", "value"}}}}, "sql.write.statement", "does not use $2"},
		{"sql extra", generic.Config{Services: services, SQL: &generic.SQL{DSN: "postgres://u@{host}/d",
			Write: &generic.SQLStatement{Statement: "INSERT INTO r VALUES ($1, $2, $3)", Params: []string{"key", "value"}}}}, "sql.write.statement", "uses $3 but params names 2"},
		{"sql state", generic.Config{Services: services, SQL: &generic.SQL{DSN: "postgres://u@{host}/d", InfoSQLStates: []string{"4000"}}}, "sql.info_sqlstates[0]", "not a SQLSTATE"},
	} {
		_, err := generic.New(tc.cfg)
		var fe *generic.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%s: New = %v; want an error at %s saying %q", tc.name, err, tc.field, tc.msg)
		}
	}
}

// TestTargetShape: the target's name, variant, workloads and layout
// follow its config; a client of a workload it does not serve, or whose
// node setting finds no node, is refused.
func TestTargetShape(t *testing.T) {
	cfg := httpRegister()
	cfg.Name = ""
	tg, err := generic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := tg.Layout(targets.Spec{})
	if tg.Name() != generic.DefaultName || tg.Kind() != "http" || targets.VariantNames(tg)[0] != "http" ||
		strings.Join(tg.Workloads(), ",") != "register" || len(l.Roles) != 2 || l.Roles[0].Name != "primary" || l.Roles[1].Program != nil {
		t.Fatalf("name %s kind %s workloads %v layout %+v", tg.Name(), tg.Kind(), tg.Workloads(), l)
	}
	nodes := []targets.Endpoint{{Name: "primary", Role: "primary", Addr: "10.0.0.2"}}
	if _, err := tg.NewClient(targets.ClientConfig{Workload: "idempotency", Nodes: nodes}); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("idempotency client: %v; want bad input", err)
	}
	if _, err := tg.NewClient(targets.ClientConfig{Workload: "register", Nodes: nodes}); err != nil {
		t.Errorf("register client: %v", err)
	}
	// Reads go to any node, writes to primary: without a primary there is
	// no client.
	if _, err := tg.NewClient(targets.ClientConfig{Workload: "register", Nodes: []targets.Endpoint{{Name: "replica", Role: "replica", Addr: "10.0.0.3"}}}); err == nil ||
		!strings.Contains(err.Error(), "no node of service primary") {
		t.Errorf("client without a primary: %v", err)
	}
}

func TestNamespace(t *testing.T) {
	if got := generic.Namespace("20260101T000000.123Z"); got != "20260101T000000123Z" {
		t.Fatalf("Namespace = %q", got)
	}
	if got := generic.Namespace(""); got != "" {
		t.Fatalf("Namespace of nothing = %q", got)
	}
}
