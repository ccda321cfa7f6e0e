package targets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/demokv"
)

func TestResolveVariant(t *testing.T) {
	tg := demokv.Target{}
	if got := targets.VariantNames(tg); strings.Join(got, ",") != "unsafe,safe" {
		t.Fatalf("variant names %v", got)
	}
	if v, err := targets.ResolveVariant(tg, ""); err != nil || v != "unsafe" {
		t.Fatalf("empty variant resolved to %q, %v; want the default", v, err)
	}
	if v, err := targets.ResolveVariant(tg, "safe"); err != nil || v != "safe" {
		t.Fatalf("safe resolved to %q, %v", v, err)
	}
	_, err := targets.ResolveVariant(tg, "quick")
	if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), "unsafe, safe") {
		t.Fatalf("unknown variant: %v; want bad input listing the variants", err)
	}
}

func TestChoiceAbout(t *testing.T) {
	all := targets.Choice{Name: "v"}
	one := targets.Choice{Name: "w", Workloads: []string{"idempotency"}}
	if !all.About("bank") || !one.About("idempotency") || one.About("bank") {
		t.Fatalf("About: every workload %v, idempotency %v, bank %v", all.About("bank"), one.About("idempotency"), one.About("bank"))
	}
}
