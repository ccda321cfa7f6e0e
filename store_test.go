package faultline_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/saga"
)

// TestStoreSeam: --store is validated against the target's stores (a
// target without stores refuses one), an empty one means the target's
// default, and a node's configuration carries the store into the spec
// its process lays the target out with.
func TestStoreSeam(t *testing.T) {
	for _, store := range []string{"", saga.StoreEmbedded, saga.StorePostgres} {
		tt := faultline.DefaultTestFor(saga.Name)
		tt.Store = store
		if err := tt.Validate(); err != nil {
			t.Errorf("saga with store %q: %v", store, err)
		}
	}
	bad := map[string]string{
		"demo-kv": "--store: target demo-kv has no stores to choose from",
		saga.Name: `--store "redis": target saga has stores embedded, postgres`,
	}
	for target, want := range bad {
		tt := faultline.DefaultTestFor(target)
		tt.Store = "redis"
		if err := tt.Validate(); !errors.Is(err, faultline.ErrBadInput) || err.Error() != want {
			t.Errorf("%s with store redis: %v; want bad input %q", target, err, want)
		}
	}
	cfg := targets.NodeConfig{Target: saga.Name, Variant: saga.VariantIdempotent, SpecNodes: 3, Store: saga.StorePostgres}
	b, err := json.Marshal(cfg)
	if err != nil || !strings.Contains(string(b), `"store":"postgres"`) {
		t.Fatalf("node config %s, %v", b, err)
	}
	var back targets.NodeConfig
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := back.Spec(), (targets.Spec{Variant: saga.VariantIdempotent, Nodes: 3, Store: saga.StorePostgres}); got != want {
		t.Errorf("spec %+v, want %+v", got, want)
	}
	nodes, err := targets.Plan(saga.Target{}, back.Spec())
	if err != nil || nodes[0].Name != saga.RolePG {
		t.Errorf("a node process lays out %v, %v; want the pg node first", targets.Names(nodes), err)
	}
}
