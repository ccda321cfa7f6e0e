package faultline_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline"
)

// everyField returns a Test whose every field that test.json holds has a
// value of its own, different from DefaultTest's and from the zero value.
// A field of a type it does not know fails the test: teach it the type.
func everyField(t *testing.T) faultline.Test {
	t.Helper()
	var tt faultline.Test
	v := reflect.ValueOf(&tt).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Tag.Get("json") == "-" {
			continue
		}
		fv := v.Field(i)
		n := int64(i + 17)
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			fv.SetInt(n*int64(time.Second) + 3*int64(time.Millisecond))
		case f.Type.Kind() == reflect.String:
			fv.SetString(f.Name + "-value")
		case f.Type.Kind() == reflect.Int || f.Type.Kind() == reflect.Int64:
			fv.SetInt(n * 1001)
		case f.Type.Kind() == reflect.Float64:
			fv.SetFloat(float64(n) / 128)
		case f.Type == reflect.TypeFor[[]string]():
			fv.Set(reflect.ValueOf([]string{f.Name + "-a", f.Name + "-b"}))
		case f.Type.Kind() == reflect.Bool:
			fv.SetBool(true)
		case f.Type == reflect.TypeFor[*faultline.ComposeStack]():
			fv.Set(reflect.ValueOf(&faultline.ComposeStack{Project: "compose-project", Services: []string{"svc-a", "svc-b"}}))
		default:
			t.Fatalf("Test.%s has type %s, which this test does not know: give it a value here and make sure test.json keeps it", f.Name, f.Type)
		}
	}
	return tt
}

func TestTestJSONRoundTripsEveryField(t *testing.T) {
	in := everyField(t)
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out faultline.Test
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	vi, vo := reflect.ValueOf(in), reflect.ValueOf(out)
	for i := range vi.NumField() {
		f := vi.Type().Field(i)
		if f.Tag.Get("json") == "-" {
			continue
		}
		if !reflect.DeepEqual(vi.Field(i).Interface(), vo.Field(i).Interface()) {
			t.Errorf("Test.%s = %v does not survive test.json (read back %v): add it to testJSON, MarshalJSON and UnmarshalJSON\n%s",
				f.Name, vi.Field(i), vo.Field(i), b)
		}
	}
}

func TestTestJSONKeepsMissingFieldsAndNamesBadOnes(t *testing.T) {
	tt := faultline.DefaultTest()
	if err := json.Unmarshal([]byte(`{"nodes": 5}`), &tt); err != nil {
		t.Fatal(err)
	}
	if def := faultline.DefaultTest(); tt.Nodes != 5 || tt.StartTimeout != def.StartTimeout || tt.CheckMemory != def.CheckMemory {
		t.Fatalf("missing fields did not keep their values: %+v", tt)
	}
	for in, want := range map[string]string{
		`{"nodes": "three"}`:          `nodes: want int, got a JSON string`,
		`{"start_timeout": "soon"}`:   `start_timeout: time: invalid duration "soon"`,
		`{"check_memory": 1.5}`:       `check_memory: want int64, got a JSON number`,
		`{"nemesis": "partition"}`:    `nemesis: want []string, got a JSON string`,
		`{"time_limit": "5s", "x": 1`: `unexpected end of JSON input`,
	} {
		var tt faultline.Test
		err := json.Unmarshal([]byte(in), &tt)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "testJSON") {
			t.Errorf("%s: error %v, want one naming %q", in, err, want)
		}
	}
}

func TestValidateRefusesEveryHole(t *testing.T) {
	if err := faultline.DefaultTest().Validate(); err != nil {
		t.Fatalf("the default does not validate: %v", err)
	}
	cases := map[string]func(*faultline.Test){
		"--rate":             func(t *faultline.Test) { t.Rate = math.NaN() },
		"--rate ":            func(t *faultline.Test) { t.Rate = math.Inf(1) },
		"--rate  ":           func(t *faultline.Test) { t.Rate = 1e-300 },
		"--loss":             func(t *faultline.Test) { t.Loss = math.NaN() },
		"--loss ":            func(t *faultline.Test) { t.Loss = math.Inf(1) },
		"--nodes":            func(t *faultline.Test) { t.Nodes = 33 },
		"--nodes ":           func(t *faultline.Test) { t.Nodes = 33; t.Provider = "docker" },
		"--concurrency":      func(t *faultline.Test) { t.Concurrency = math.MaxInt },
		"--keys":             func(t *faultline.Test) { t.Keys = math.MaxInt },
		"--time-limit":       func(t *faultline.Test) { t.TimeLimit = math.MaxInt64 },
		"--recovery-timeout": func(t *faultline.Test) { t.RecoveryTimeout = math.MaxInt64 - time.Second },
		"--start-timeout":    func(t *faultline.Test) { t.StartTimeout = 0 },
		"--check-timeout":    func(t *faultline.Test) { t.CheckTimeout = -time.Second },
		"--check-memory":     func(t *faultline.Test) { t.CheckMemory = 0 },
		"--check-memory ":    func(t *faultline.Test) { t.CheckMemory = -1 },
		"--nemesis-interval": func(t *faultline.Test) { t.NemesisInterval = time.Nanosecond },
		"--op-timeout":       func(t *faultline.Test) { t.OpTimeout = 0 },
		"--results":          func(t *faultline.Test) { t.Results = "a\x00b" },
	}
	for flag, change := range cases {
		tt := faultline.DefaultTest()
		change(&tt)
		err := tt.Validate()
		if !errors.Is(err, faultline.ErrBadInput) || !strings.HasPrefix(err.Error(), strings.TrimSpace(flag)+" ") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one bad-input line about %s", flag, err, strings.TrimSpace(flag))
		}
	}
}

func TestBadTestCreatesNothing(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "older"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("older", filepath.Join(root, "latest")); err != nil {
		t.Fatal(err)
	}
	tt := faultline.DefaultTest()
	tt.Results = root
	tt.Rate = math.NaN()
	if _, err := faultline.Run(t.Context(), tt); !errors.Is(err, faultline.ErrBadInput) {
		t.Fatalf("Run with NaN rate: %v", err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 2 {
		t.Errorf("a refused test left %v in the results root", entries)
	}
	if l, err := os.Readlink(filepath.Join(root, "latest")); err != nil || l != "older" {
		t.Errorf("latest now %q (%v), want older", l, err)
	}
}
