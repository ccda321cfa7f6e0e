package testfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/generic"
	"github.com/faultline/faultline/testfile"
)

// write writes content to a file named name in a fresh folder and returns
// its path.
func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExampleLoads: the example `faultline init` writes is a test file
// Load accepts, and it says what its comments say.
func TestExampleLoads(t *testing.T) {
	tt, err := testfile.Load(write(t, "faultline.yaml", testfile.Example))
	if err != nil {
		t.Fatal(err)
	}
	tg, ok := tt.System.(*generic.Target)
	if !ok {
		t.Fatalf("System is %T, want a generic target", tt.System)
	}
	want := faultline.DefaultTest()
	want.Target, want.Variant, want.Workload, want.Provider, want.Nodes = "my-kv", "http", "register", "compose", 2
	want.Nemesis, want.NemesisInterval, want.TimeLimit = []string{"partition", "kill"}, 5*time.Second, time.Minute
	want.Concurrency, want.Rate, want.Keys, want.OpTimeout, want.Seed = 6, 100, 4, time.Second, 0
	want.Results = "faultline-results"
	got := tt
	got.System, got.Compose = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("example gives\n%+v\nwant\n%+v", got, want)
	}
	if tt.Compose.Project != "my-kv" || strings.Join(tt.Compose.Services, ",") != "primary,replica" {
		t.Fatalf("compose %+v", tt.Compose)
	}
	if tg.Name() != "my-kv" || strings.Join(tg.Workloads(), ",") != "register" {
		t.Fatalf("target %s serves %v", tg.Name(), tg.Workloads())
	}
	// Its commented alternatives are test files too.
	for _, kind := range []string{"redis", "sql"} {
		alt := uncomment(t, testfile.Example, kind)
		tt, err := testfile.Parse("alt.yaml", []byte(alt))
		if err != nil {
			t.Fatalf("the example's %s client, uncommented: %v\n%s", kind, err, alt)
		}
		if tt.Variant != kind {
			t.Fatalf("the example's %s client gives variant %s", kind, tt.Variant)
		}
	}
}

// uncomment returns the example with its http client replaced by the
// commented client section of kind.
func uncomment(t *testing.T, example, kind string) string {
	t.Helper()
	lines := strings.Split(example, "\n")
	var out, section []string
	in, skip := false, false
	for _, l := range lines {
		switch {
		case l == "  http:":
			skip = true
			continue
		case skip && strings.HasPrefix(l, "    "):
			continue
		case strings.HasPrefix(l, "  # "+kind+":"):
			in, skip = true, false
		case in && strings.HasPrefix(l, "  #   "):
		default:
			in, skip = false, false
		}
		if in {
			section = append(section, "  "+strings.TrimPrefix(l, "  # "))
			continue
		}
		out = append(out, l)
	}
	if len(section) == 0 {
		t.Fatalf("the example has no commented %s client", kind)
	}
	return strings.Join(out, "\n") + "\n" + strings.Join(section, "\n") + "\n"
}

// TestEveryField: each field of a test file sets its setting.
func TestEveryField(t *testing.T) {
	tt, err := testfile.Parse("all.yaml", []byte(`
name: shop
workload: idempotency
nemesis: kill=role:db,one, partition
nemesis_interval: 3s
time_limit: 2m
concurrency: 12
rate: 0
keys: 7
seed: -42
op_timeout: 750ms
op_limit: 5000
loss: 0.35
results: out/runs
check_timeout: 2m
check_memory: 512MiB
start_timeout: 45s
recovery_timeout: 20s
compose:
  project: shop_ci
  services: [db, web]
client:
  sql:
    dsn: postgres://app@{host}:5432/shop
    charge:
      node: db
      statement: INSERT INTO ledger VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
      params: [request_id, key, amount]
    ledger:
      statement: SELECT request_id, amount FROM ledger WHERE account = $1 ORDER BY seq
      params: [key]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := faultline.DefaultTest()
	want.Target, want.Variant, want.Workload, want.Provider, want.Nodes = "shop", "sql", "idempotency", "compose", 2
	want.Nemesis, want.NemesisInterval, want.TimeLimit = []string{"kill=role:db", "one", "partition"}, 3*time.Second, 2*time.Minute
	want.Concurrency, want.Rate, want.Keys, want.Seed, want.OpTimeout, want.OpLimit = 12, 0, 7, -42, 750*time.Millisecond, 5000
	want.Loss, want.Results, want.CheckTimeout, want.CheckMemory = 0.35, "out/runs", 2*time.Minute, 512<<20
	want.StartTimeout, want.RecoveryTimeout = 45*time.Second, 20*time.Second
	got := tt
	got.System, got.Compose = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("file gives\n%+v\nwant\n%+v", got, want)
	}
	if tt.Compose.Project != "shop_ci" || tt.System.Name() != "shop" || targets.VariantNames(tt.System)[0] != "sql" {
		t.Fatalf("compose %+v, system %s", tt.Compose, tt.System.Name())
	}
	// nemesis as a list, or none.
	for text, want := range map[string]string{"[partition, kill]": "partition,kill", "none": "", "[none]": "", "[]": ""} {
		tt, err := testfile.Parse("n.yaml", []byte("nemesis: "+text+"\n"+minimal))
		if err != nil || strings.Join(tt.Nemesis, ",") != want {
			t.Errorf("nemesis: %s gives %q, %v; want %q", text, tt.Nemesis, err, want)
		}
	}
	// Without the fields, the defaults; the name is compose's.
	tt, err = testfile.Parse("min.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	def := faultline.DefaultTest()
	if tt.Target != generic.DefaultName || tt.Workload != "register" || tt.TimeLimit != def.TimeLimit || strings.Join(tt.Nemesis, ",") != "partition" || tt.Nodes != 1 {
		t.Fatalf("minimal file: %+v", tt)
	}
	// A client of charges and ledgers only: the idempotency workload.
	tt, err = testfile.Parse("i.yaml", []byte(`compose: {project: shop, services: [db]}
client:
  sql:
    dsn: postgres://app@{host}/shop
    charge: {statement: "INSERT INTO l VALUES ($1, $2, $3)", params: [key, request_id, amount]}
    ledger: {statement: "SELECT id, amount FROM l WHERE account = $1", params: [key]}
`))
	if err != nil || tt.Workload != "idempotency" {
		t.Fatalf("charges only: workload %q, %v; want idempotency", tt.Workload, err)
	}
}

// minimal is the smallest test file: a Compose stack and a client.
const minimal = `compose:
  project: shop
  services: [db]
client:
  redis:
    url: redis://{host}:6379
`

// TestBadFiles: every problem is one line naming the file, the line and
// the field, and wraps core.ErrBadInput.
func TestBadFiles(t *testing.T) {
	http := `client:
  http:
    read:
      url: http://{host}:8080/kv/{key}
      value: /value
    write:
      url: http://{host}:8080/kv/{key}
      body: '{"value": {value}}'
    cas:
      url: http://{host}:8080/kv/{key}/cas
      body: '{"old": {old}, "new": {new}}'
compose:
  project: shop
  services: [db, cache]
`
	for _, tc := range []struct {
		name, content string
		line          int
		field, msg    string
	}{
		{"unknown field", "colour: red\n" + minimal, 1, "colour", "unknown field; known fields at the top level: check_memory, check_timeout, client, compose, concurrency"},
		{"unknown nested field", strings.Replace(minimal, "    url:", "    port: 6379\n    url:", 1), 6, "client.redis.port", "unknown field; known fields in client.redis: cas, key, read, url, write"},
		{"wrong type", "concurrency: many\n" + minimal, 1, "concurrency", `want a whole number, got the string "many"`},
		{"string for a number", "rate: '100'\n" + minimal, 1, "rate", `want a number, got the string "100"`},
		{"number for a string", "workload: 7\n" + minimal, 1, "workload", "want a string, got the integer 7; quote it"},
		{"bad duration", minimal + "time_limit: 10\n", 7, "time_limit", `"10" is not a duration (such as 500ms, 30s or 1m30s)`},
		{"negative duration", "op_timeout: -1s\n" + minimal, 1, "op_timeout", "must be positive and at most 8760h (a year), got -1s"},
		{"short interval", "nemesis_interval: 1ms\n" + minimal, 1, "nemesis_interval", "must be at least 10ms, got 1ms"},
		{"both client kinds", strings.Replace(minimal, "client:\n", "client:\n  sql:\n    dsn: postgres://{host}/db\n", 1), 4, "client", "give exactly one of http, redis or sql; got redis and sql"},
		{"no client kind", "client: {}\ncompose:\n  project: shop\n  services: [db]\n", 1, "client", "give exactly one of http, redis or sql; got none"},
		{"empty project", strings.Replace(minimal, "project: shop", `project: ""`, 1), 2, "compose.project", "is required"},
		{"no compose", "client:\n  redis:\n    url: redis://{host}:6379\n", 1, "compose", "is required"},
		{"services not a list", strings.Replace(minimal, "[db]", "db", 1), 3, "compose.services", "want a list"},
		{"service twice", strings.Replace(minimal, "[db]", "\n    - db\n    - db", 1), 5, "compose.services[1]", `"db" is listed twice`},
		{"unknown placeholder", strings.Replace(http, "/kv/{key}\n      value", "/kv/{colour}\n      value", 1), 4, "client.http.read.url", "unknown placeholder {colour} at position 23"},
		{"unbalanced braces", strings.Replace(http, `'{"value": {value}}'`, `'{"value": {value}'`, 1), 8, "client.http.write.body", "unbalanced braces: 1 '{' left open"},
		{"status out of range", strings.Replace(http, "  http:\n", "  http:\n    status:\n      fail: [409, 700]\n", 1), 4, "client.http.status.fail[1]", "status code 700 is out of range"},
		{"overlapping statuses", strings.Replace(http, "  http:\n", "  http:\n    status:\n      fail: [4xx]\n      info: [404]\n", 1), 5, "client.http.status.info[0]", "404 overlaps 4xx of fail"},
		{"register op missing", strings.Replace(http, "    cas:\n      url: http://{host}:8080/kv/{key}/cas\n      body: '{\"old\": {old}, \"new\": {new}}'\n", "", 1), 2, "client.http", "the register workload needs read, write, cas; cas missing"},
		{"bad pointer", strings.Replace(http, "value: /value", "value: value", 1), 5, "client.http.read.value", "is not a JSON pointer"},
		{"node not a service", strings.Replace(minimal, "    url:", "    write: {node: primary}\n    url:", 1), 6, "client.redis.write.node", `"primary" is not a service of compose.services (db)`},
		{"workload the client cannot serve", "workload: idempotency\n" + minimal, 1, "workload", "the redis client serves register only"},
		{"workload without its operations", "workload: idempotency\n" + http, 1, "workload", "client.http describes register only"},
		{"unknown workload", "workload: bank\n" + minimal, 1, "workload", `"bank": a test file's client serves register or idempotency`},
		{"bad fault", "nemesis:\n  - partition\n  - flood\n" + minimal, 3, "nemesis", `flood: unknown nemesis "flood"`},
		{"field twice", "keys: 3\nkeys: 4\n" + minimal, 2, "keys", "given twice (first on line 1)"},
		{"no value", "seed:\n" + minimal, 1, "seed", "has no value"},
		{"bad name", "name: My Shop\n" + minimal, 1, "name", `"My Shop": lower-case letters`},
		{"name of a built-in target", "name: demo-kv\n" + minimal, 1, "name", "one of faultline's own targets"},
		{"sql parameters", strings.Replace(minimal, "  redis:\n    url: redis://{host}:6379\n", "  sql:\n    dsn: postgres://{host}/db\n    read:\n      statement: SELECT v FROM r WHERE k = $1 AND x = $2\n      params: [key]\n    write:\n      statement: UPDATE r SET v = $2 WHERE k = $1\n      params: [key, value]\n    cas:\n      statement: UPDATE r SET v = $3 WHERE k = $1 AND v = $2\n      params: [key, old, new]\n", 1), 8, "client.sql.read.statement", "uses $2 but params names 1 parameters"},
		{"memory", "check_memory: 12 apples\n" + minimal, 1, "check_memory", "is not a memory size"},
		{"rate", "rate: -5\n" + minimal, 1, "rate", "must be 0 (unlimited) or a number of operations per second from 0.001, got -5"},
		{"not a mapping", "- a\n- b\n", 1, "", "a test file is a mapping of fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, "shop.yaml", tc.content)
			_, err := testfile.Load(path)
			checkError(t, err, path, tc.line, tc.field, tc.msg)
		})
	}
}

// checkError fails t unless err is an *Error of path, line and field,
// whose one-line text is "PATH:LINE: FIELD: ..." holding msg.
func checkError(t *testing.T, err error, path string, line int, field, msg string) {
	t.Helper()
	var fe *testfile.Error
	if !errors.As(err, &fe) || !errors.Is(err, core.ErrBadInput) {
		t.Fatalf("Load = %v; want a *testfile.Error wrapping ErrBadInput", err)
	}
	prefix := fmt.Sprintf("%s:%d: %s: ", path, line, field)
	if field == "" {
		prefix = fmt.Sprintf("%s:%d: ", path, line)
	}
	text := err.Error()
	if !strings.HasPrefix(text, prefix) || !strings.Contains(text, msg) || strings.Contains(text, "\n") ||
		fe.File != path || fe.Line != line || fe.Field != field {
		t.Fatalf("error %q\nwant one line starting %q and saying %q", text, prefix, msg)
	}
}

// TestBadDocuments: what is not one YAML mapping is refused with its line.
func TestBadDocuments(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		line          int
		msg           string
	}{
		{"empty", "", 1, "the file is empty"},
		{"comments only", "# nothing\n", 1, "the file is empty"},
		{"syntax", "compose:\n  project: shop\n services: [db]\n", 2, "not valid YAML: "},
		{"tab", "compose:\n\tproject: shop\n", 2, "not valid YAML: "},
		{"two documents", minimal + "---\nname: again\n", 7, "a second YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testfile.Parse("doc.yaml", []byte(tc.content))
			checkError(t, err, "doc.yaml", tc.line, "", tc.msg)
		})
	}
	_, err := testfile.Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, core.ErrBadInput) || !regexp.MustCompile(`^test file .*missing\.yaml: no such file or directory$`).MatchString(err.Error()) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestAnchors: aliases stand for what they name, so a status mapping can
// be written once.
func TestAnchors(t *testing.T) {
	tt, err := testfile.Parse("a.yaml", []byte(`compose: {project: shop, services: [db]}
client:
  http:
    write:
      url: http://{host}/kv/{key}
      body: '{"v": {value}}'
      status: &changes {ok: [200], fail: [409]}
    cas:
      url: http://{host}/cas/{key}/{old}/{new}
      status: *changes
    read:
      url: http://{host}/kv/{key}
      value: ""
`))
	if err != nil || tt.System == nil {
		t.Fatalf("Parse = %v", err)
	}
	_, err = testfile.Parse("m.yaml", []byte("base: &b {project: shop, services: [db]}\ncompose:\n  <<: *b\n"))
	checkError(t, err, "m.yaml", 1, "base", "unknown field")
}

// TestDocumentedFiles: docs/testfile.md shows the example as `faultline
// init` writes it, and every test file it shows is one Parse accepts.
func TestDocumentedFiles(t *testing.T) {
	b, err := os.ReadFile("../docs/testfile.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) < 5 {
		t.Fatalf("docs/testfile.md shows %d test files, want the example and four more", len(blocks))
	}
	if blocks[0][1] != testfile.Example {
		t.Fatalf("docs/testfile.md's first test file is not the example faultline init writes")
	}
	kinds := map[string]bool{}
	for i, m := range blocks {
		tt, err := testfile.Parse(fmt.Sprintf("docs/testfile.md block %d", i+1), []byte(m[1]))
		if err != nil {
			t.Errorf("%v\n%s", err, m[1])
			continue
		}
		kinds[tt.Variant+" "+tt.Workload] = true
	}
	for _, k := range []string{"http register", "http idempotency", "sql register", "sql idempotency", "redis register"} {
		if !kinds[k] {
			t.Errorf("docs/testfile.md shows no %s test file", k)
		}
	}
}
