package redislock

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/targets"
)

// silentRedis is redis-lock with its redis role replaced by a node that
// accepts connections and never answers: a Redis that hangs at start.
type silentRedis struct{ Target }

func (silentRedis) Name() string { return "redis-lock-silent" }

func (s silentRedis) Layout(spec targets.Spec) (targets.Layout, error) {
	l, err := s.Target.Layout(spec)
	if err != nil {
		return l, err
	}
	for i, r := range l.Roles {
		if r.Name == RoleRedis {
			l.Roles[i].Program = targets.GoProgram{Run: runSilent}
		}
	}
	return l, nil
}

// runSilent accepts connections on the API address and never answers.
func runSilent(ctx context.Context, cfg targets.NodeConfig, _ *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	var conns []net.Conn
	for {
		c, err := ln.Accept()
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil
		}
		conns = append(conns, c)
	}
}

// TestRedisThatNeverAnswersAtStart: a start whose redis accepts and never
// answers ends when the start timeout passes, with one line that names the
// node that was not ready.
func TestRedisThatNeverAnswersAtStart(t *testing.T) {
	begin := time.Now()
	_, err := local.Start(t.Context(), local.Config{
		Target: silentRedis{}, Variant: VariantNaive, Nodes: 1, Dir: t.TempDir(),
		StartTimeout: 2 * time.Second, StopGrace: time.Second,
	})
	took := time.Since(begin)
	if err == nil {
		t.Fatal("a cluster whose redis never answers started")
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
	if !strings.Contains(err.Error(), "node redis: not ready after") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %q; want one line saying node redis was not ready", err)
	}
	if took > 20*time.Second {
		t.Fatalf("start took %v with a 2s start timeout", took)
	}
}
