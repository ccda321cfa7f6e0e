package idempotency

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
)

func TestPerformKnownAnswers(t *testing.T) {
	req := ChargeRequest{RequestID: "r1", Amount: 5, MaxAttempts: 3}
	op := core.Op{F: Charge, Key: "a0", Value: req}
	script := func(effects ...Effect) (func(context.Context) (Effect, string), *int) {
		n := 0
		return func(context.Context) (Effect, string) {
			e := effects[n]
			n++
			return e, []string{"", "refused", "timeout"}[n%3]
		}, &n
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cases := []struct {
		name    string
		effects []Effect
		tries   int
		want    core.Op
	}{
		{"second try acknowledged", []Effect{NotApplied, Applied}, 2,
			core.Op{F: Charge, Key: "a0", Type: core.OK, Value: ChargeResult{Attempts: 2, Errors: []string{"refused"}}}},
		{"every try refused", []Effect{NotApplied, NotApplied, NotApplied}, 3,
			core.Op{F: Charge, Key: "a0", Type: core.Fail, Error: "refused; timeout; ",
				Value: ChargeResult{Attempts: 3, Errors: []string{"refused", "timeout", ""}}}},
		{"one try may have taken effect", []Effect{Unknown, NotApplied, NotApplied}, 3,
			core.Op{F: Charge, Key: "a0", Type: core.Info, Error: "refused; timeout; ",
				Value: ChargeResult{Attempts: 3, Errors: []string{"refused", "timeout", ""}}}},
	}
	for _, c := range cases {
		try, n := script(c.effects...)
		got := Perform(ctx, op, req, try)
		if *n != c.tries || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %d tries, %+v; want %d, %+v", c.name, *n, got, c.tries, c.want)
		}
	}
	// No try without time: info, no value, nothing sent.
	done, stop := context.WithCancel(context.Background())
	stop()
	try, n := script(Applied)
	got := Perform(done, op, req, try)
	if *n != 0 || got.Type != core.Info || got.Value != nil || got.Error != "no time left for a try" {
		t.Errorf("ended context: %d tries, %+v", *n, got)
	}
	// Each try gets an equal share of the time left.
	var budgets []time.Duration
	short, cancelShort := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelShort()
	Perform(short, op, req, func(ctx context.Context) (Effect, string) {
		dl, _ := ctx.Deadline()
		budgets = append(budgets, time.Until(dl))
		return NotApplied, "no"
	})
	if len(budgets) != 3 || budgets[0] > 1100*time.Millisecond {
		t.Errorf("try budgets %v, want three, the first at most a third of 3s", budgets)
	}
}
