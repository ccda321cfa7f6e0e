package docker

import (
	"context"
	"testing"
	"time"

	"github.com/faultline/faultline/nemesis"
)

// The benchmarks below time the docker provider on a Docker engine; they
// need the engine and the node image as the tests do. For example:
//
//	go test -run '^$' -bench . -benchtime 5x -count 3 -timeout 30m ./internal/provider/docker | benchstat -

// BenchmarkStart times starting a 3-node cluster until every node is
// ready (start-ms/op) and closing it (close-ms/op).
func BenchmarkStart(b *testing.B) {
	eng := engine(b)
	image(b) // built once, outside the timing
	var start, stop time.Duration
	for b.Loop() {
		cfg := testConfig(b, eng, 3, "")
		begin := time.Now()
		c, err := Start(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		started := time.Now()
		if err := c.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		start += started.Sub(begin)
		stop += time.Since(started)
	}
	b.ReportMetric(ms(start)/float64(b.N), "start-ms/op")
	b.ReportMetric(ms(stop)/float64(b.N), "close-ms/op")
}

// BenchmarkFault times each fault on a 3-node cluster: applying it,
// verification included (apply-ms/op), and healing it (heal-ms/op).
func BenchmarkFault(b *testing.B) {
	c := startCluster(b, engine(b), 3, "")
	ctx := b.Context()
	for _, f := range []struct {
		name        string
		apply, heal func() error
	}{
		{"partition", func() error { return c.Partition(ctx, nemesis.Isolate(c.Nodes(), "n1")) }, func() error { return c.HealPartition(ctx) }},
		{"loss", func() error { return c.SetLoss(ctx, 0.2) }, func() error { return c.ClearLoss(ctx) }},
		{"latency", func() error { return c.SetLatency(ctx, 50*time.Millisecond, 0) }, func() error { return c.ClearLatency(ctx) }},
		{"pause", func() error { return c.Pause(ctx, "n2") }, func() error { return c.Resume(ctx, "n2") }},
		{"kill", func() error { return c.Kill(ctx, "n3") }, func() error { return c.Restart(ctx, "n3") }},
		{"heal-all-healthy", func() error { return nil }, func() error { return c.HealAll(ctx) }},
	} {
		b.Run(f.name, func(b *testing.B) {
			var apply, heal time.Duration
			for b.Loop() {
				begin := time.Now()
				if err := f.apply(); err != nil {
					b.Fatalf("apply: %v", err)
				}
				applied := time.Now()
				if err := f.heal(); err != nil {
					b.Fatalf("heal: %v", err)
				}
				apply += applied.Sub(begin)
				heal += time.Since(applied)
			}
			b.ReportMetric(ms(apply)/float64(b.N), "apply-ms/op")
			b.ReportMetric(ms(heal)/float64(b.N), "heal-ms/op")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
