package usl

import (
	"errors"
	"math"
	"testing"

	"github.com/faultline/faultline/core"
)

// synthetic returns the model's throughput at each level, each multiplied
// by 1 + noise[i mod len(noise)] when noise is given.
func synthetic(lambda, sigma, kappa float64, levels []float64, noise []float64) []Point {
	m := Model{Lambda: lambda, Sigma: sigma, Kappa: kappa}
	pts := make([]Point, len(levels))
	for i, n := range levels {
		x := m.Predict(n)
		if len(noise) > 0 {
			x *= 1 + noise[i%len(noise)]
		}
		pts[i] = Point{N: n, X: x}
	}
	return pts
}

// oneTo64 is every level from 1 to 64; powers the levels 1, 2, 4, …, 64.
var (
	oneTo64 = func() []float64 {
		var l []float64
		for n := 1; n <= 64; n++ {
			l = append(l, float64(n))
		}
		return l
	}()
	powers = []float64{1, 2, 4, 8, 16, 32, 64}
)

// noise2 is a deterministic ±2% pattern with no trend in N: it alternates
// sign and cycles through three sizes.
var noise2 = []float64{0.02, -0.02, 0.01, -0.01, -0.02, 0.02, 0.015, -0.015}

func relErr(got, want float64) float64 { return math.Abs(got-want) / math.Abs(want) }

// TestFitRecoversKnownParameters fits synthetic points from known (λ, σ,
// κ) and requires σ and κ back within 5%. The tolerance on κ is relative
// when κ matters within the levels (κ·64·63 ≥ 0.05: at least a 5% term in
// the denominator at N = 64); a κ below that barely moves the curve, and
// then the fitted κ must only stay as small (absolute 0.05/(64·63) ≈
// 1.2e-5). λ, N* and the ceiling are checked within 5% too.
func TestFitRecoversKnownParameters(t *testing.T) {
	cases := []struct {
		name                 string
		lambda, sigma, kappa float64
		levels               []float64
		noise                []float64
	}{
		{"peak inside the levels", 1000, 0.05, 0.0005, powers, nil},
		{"peak past the levels", 500, 0.02, 0.00002, powers, nil},
		{"strong contention", 2000, 0.3, 0.001, powers, nil},
		{"contention only (κ = 0)", 800, 0.1, 0, powers, nil},
		{"coherency only (σ = 0)", 100, 0, 0.0003, powers, nil},
		{"peak inside, noisy", 1000, 0.05, 0.0005, oneTo64, noise2},
		{"strong contention, noisy", 2000, 0.3, 0.001, oneTo64, noise2},
		{"contention only, noisy", 800, 0.1, 0, oneTo64, noise2},
		{"peak past the levels, noisy", 500, 0.02, 0.00002, oneTo64, noise2},
		{"retrograde", 300, 0.2, 0.004, oneTo64, noise2},
		{"three levels, as few as a fit takes", 1000, 0.1, 0.01, []float64{1, 2, 4}, nil},
	}
	const kappaMatters = 0.05 / (64 * 63)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Fit(synthetic(c.lambda, c.sigma, c.kappa, c.levels, c.noise))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("fit λ=%.4g σ=%.5g κ=%.5g R²=%.5f rel RMSE=%.4f shape %s N*=%.3g ceiling %.4g",
				m.Lambda, m.Sigma, m.Kappa, m.R2, m.RelRMSE, m.Shape, m.PeakN, m.Ceiling)
			if relErr(m.Lambda, c.lambda) > 0.05 {
				t.Errorf("λ = %v, want %v within 5%%", m.Lambda, c.lambda)
			}
			if c.sigma == 0 {
				if m.Sigma > 0.005 {
					t.Errorf("σ = %v, want about 0", m.Sigma)
				}
			} else if relErr(m.Sigma, c.sigma) > 0.05 {
				t.Errorf("σ = %v, want %v within 5%%", m.Sigma, c.sigma)
			}
			if c.kappa >= kappaMatters {
				if relErr(m.Kappa, c.kappa) > 0.05 {
					t.Errorf("κ = %v, want %v within 5%%", m.Kappa, c.kappa)
				}
			} else if math.Abs(m.Kappa-c.kappa) > kappaMatters {
				t.Errorf("κ = %v, want %v within %v", m.Kappa, c.kappa, kappaMatters)
			}
			if c.noise == nil && (m.R2 < 0.999999 || m.RelRMSE > 1e-6) {
				t.Errorf("exact points fitted with R² %v, relative RMSE %v", m.R2, m.RelRMSE)
			}
			if c.noise != nil && (m.RelRMSE > 0.02 || m.R2 < 0.95) {
				t.Errorf("noisy points fitted with R² %v, relative RMSE %v", m.R2, m.RelRMSE)
			}
			want := Model{Lambda: c.lambda, Sigma: c.sigma, Kappa: c.kappa}
			switch {
			case c.kappa > 0 && c.sigma < 1:
				nStar := math.Sqrt((1 - c.sigma) / c.kappa)
				if m.Shape != Peak || relErr(m.PeakN, nStar) > 0.05 || relErr(m.Ceiling, want.Predict(nStar)) > 0.05 {
					t.Errorf("shape %s, N* %v, ceiling %v; want peak at %v, ceiling %v", m.Shape, m.PeakN, m.Ceiling, nStar, want.Predict(nStar))
				}
			case c.kappa == 0 && c.noise == nil:
				if m.Shape != Asymptote || relErr(m.Ceiling, c.lambda/c.sigma) > 1e-6 || m.PeakN != 0 {
					t.Errorf("shape %s, N* %v, ceiling %v; want the asymptote %v", m.Shape, m.PeakN, m.Ceiling, c.lambda/c.sigma)
				}
			default:
				// Noise may leave a tiny κ: a peak far past the
				// levels, whose ceiling is then close to λ/σ.
				if relErr(m.Ceiling, c.lambda/c.sigma) > 0.05 || (m.Shape == Peak && m.PeakN < 640) {
					t.Errorf("shape %s, N* %v, ceiling %v; want about the asymptote %v", m.Shape, m.PeakN, m.Ceiling, c.lambda/c.sigma)
				}
			}
			for _, n := range []float64{1, 10, 64} {
				if relErr(m.Predict(n), want.Predict(n)) > 0.05 {
					t.Errorf("Predict(%v) = %v, want %v", n, m.Predict(n), want.Predict(n))
				}
			}
		})
	}
}

func TestFitOfLinearScalingIsUnbounded(t *testing.T) {
	var pts []Point
	for _, n := range powers {
		pts = append(pts, Point{N: n, X: 250 * n})
	}
	m, err := Fit(pts)
	if err != nil {
		t.Fatal(err)
	}
	if m.Sigma > 1e-9 || m.Kappa > 1e-12 || relErr(m.Lambda, 250) > 1e-9 {
		t.Fatalf("λ %v σ %v κ %v; want 250, 0, 0", m.Lambda, m.Sigma, m.Kappa)
	}
	if m.Shape != Unbounded || m.Ceiling != 0 || m.PeakN != 0 || m.R2 < 0.999999 {
		t.Fatalf("shape %s, ceiling %v, N* %v, R² %v; want unbounded", m.Shape, m.Ceiling, m.PeakN, m.R2)
	}
	if got := m.Predict(1000); relErr(got, 250000) > 1e-9 {
		t.Fatalf("Predict(1000) = %v, want 250000", got)
	}
}

func TestFitOfFlatThroughput(t *testing.T) {
	// Every level gets the same throughput: all contention, σ = 1, and
	// the peak is the first client.
	pts := []Point{{1, 400}, {2, 400}, {4, 400}, {8, 400}}
	m, err := Fit(pts)
	if err != nil {
		t.Fatal(err)
	}
	if relErr(m.Sigma, 1) > 1e-6 || m.Kappa > 1e-9 || relErr(m.Lambda, 400) > 1e-6 {
		t.Fatalf("λ %v σ %v κ %v; want 400, 1, 0", m.Lambda, m.Sigma, m.Kappa)
	}
	if m.Shape != Peak || m.PeakN != 1 || relErr(m.Ceiling, 400) > 1e-6 || m.R2 != 1 {
		t.Fatalf("shape %s, N* %v, ceiling %v, R² %v; want a peak of 400 at 1, R² 1", m.Shape, m.PeakN, m.Ceiling, m.R2)
	}
}

func TestFitRefusesBadInput(t *testing.T) {
	for name, pts := range map[string][]Point{
		"no points":          nil,
		"two levels":         {{1, 10}, {2, 19}, {2, 20}},
		"zero throughput":    {{1, 10}, {2, 0}, {4, 30}},
		"negative":           {{1, 10}, {2, -3}, {4, 30}},
		"NaN throughput":     {{1, 10}, {2, math.NaN()}, {4, 30}},
		"infinite":           {{1, 10}, {2, math.Inf(1)}, {4, 30}},
		"concurrency below1": {{0, 10}, {2, 15}, {4, 30}},
		"NaN concurrency":    {{math.NaN(), 10}, {2, 15}, {4, 30}},
	} {
		if _, err := Fit(pts); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%s: err %v, want bad input", name, err)
		}
	}
}
