package docker

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestStateString(t *testing.T) {
	for _, c := range []struct {
		s    State
		want string
	}{
		{State{Running: true, Paused: true, Status: "paused"}, "paused"},
		{State{Running: true, Status: "running"}, "running"},
		{State{Status: "exited", ExitCode: 137}, "exited (exit code 137)"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestWaitState(t *testing.T) {
	// Running after an error and a paused round.
	answers := []State{{}, {Running: true, Paused: true}, {Running: true}}
	calls := 0
	inspect := func(context.Context) (State, error) {
		calls++
		if calls == 1 {
			return State{}, errors.New("engine busy")
		}
		return answers[min(calls-1, len(answers)-1)], nil
	}
	st, err := WaitState(context.Background(), "n1", inspect, func(s State) bool { return s.Running && !s.Paused })
	if err != nil || st.String() != "running" || calls != 3 {
		t.Errorf("WaitState = %v, %v after %d calls", st, err, calls)
	}

	// Never running: ctx's end says what the node is.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	st, err = WaitState(ctx, "n1", func(context.Context) (State, error) { return State{Status: "exited", ExitCode: 1}, nil },
		func(s State) bool { return s.Running })
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "node n1 is exited (exit code 1): context deadline exceeded" {
		t.Errorf("WaitState past the deadline = %v, %v", st, err)
	}

	// An error in the last round is returned as it is.
	boom := errors.New("inspect node n1: gone")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	if _, err := WaitState(ctx2, "n1", func(context.Context) (State, error) { return State{}, boom }, func(State) bool { return true }); err != boom {
		t.Errorf("WaitState with failing inspect = %v", err)
	}
}
