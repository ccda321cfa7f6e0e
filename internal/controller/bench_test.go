package controller

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
)

// nopClient answers every operation ok at once, so the benchmarks measure
// the controller and not a system.
type okClient struct{}

func (okClient) Invoke(_ context.Context, op core.Op) core.Op { op.Type = core.OK; return op }
func (okClient) Close() error                                 { return nil }

// BenchmarkController measures operations per second that the controller
// drives and records (invocation and completion, streamed to history.jsonl
// on disk) against a no-op client.
func BenchmarkController(b *testing.B) {
	for _, conc := range []int{10, 100} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			hw, err := history.NewWriter(filepath.Join(b.TempDir(), "history.jsonl"))
			if err != nil {
				b.Fatal(err)
			}
			cfg := Config{
				Concurrency: conc, OpLimit: b.N, OpTimeout: time.Minute, Generator: &seqGen{},
				NewClient: func(int) (core.Client, error) { return okClient{}, nil },
				Recorder:  NewRecorder(hw),
			}
			b.ResetTimer()
			start := time.Now()
			if _, err := Run(context.Background(), cfg); err != nil {
				b.Fatal(err)
			}
			if err := cfg.Recorder.Close(); err != nil {
				b.Fatal(err)
			}
			if err := hw.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
			if n := len(cfg.Recorder.History()); n != 2*b.N {
				b.Fatalf("recorded %d events, want %d", n, 2*b.N)
			}
		})
	}
}

// BenchmarkRawLoop is the baseline: the same client calls from the same
// number of goroutines, with no generator, timeouts or recording.
func BenchmarkRawLoop(b *testing.B) {
	for _, conc := range []int{10, 100} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			gen := &seqGen{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			left := b.N
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < conc; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := okClient{}
					for {
						mu.Lock()
						if left == 0 {
							mu.Unlock()
							return
						}
						left--
						op, _ := gen.Next()
						mu.Unlock()
						c.Invoke(ctx, op)
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}
