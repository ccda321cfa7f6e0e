// Package usl fits the Universal Scalability Law to throughput measured at
// several concurrency levels:
//
//	X(N) = λN / (1 + σ(N−1) + κN(N−1))
//
// λ is the throughput of one client alone, σ ≥ 0 the contention (the share
// of the work that queues for something shared: the cost that caps
// throughput at λ/σ) and κ ≥ 0 the coherency (the cost of the clients
// agreeing with each other, which grows with their pairs and makes
// throughput fall past a peak).
//
// The fit minimizes the sum of squared relative errors,
//
//	Σ ((X(Nᵢ) − Xᵢ) / Xᵢ)²,
//
// so that a level with little throughput weighs as much as one with a lot.
// For given σ and κ the best λ has a closed form (λ = Σrᵢ / Σrᵢ², with
// rᵢ = Nᵢ / (Dᵢ Xᵢ) and Dᵢ the denominator above), so the search runs over σ
// and κ alone, written as squares (σ = s², κ = k²) to keep them at zero or
// above, with gonum's BFGS from a grid of starting points; the models with
// κ = 0, σ = 0 or both are fitted too, and one of them is kept when it fits
// as well as the full model (to within a relative 1e-9 of its loss).
package usl

import (
	"math"
	"slices"

	"github.com/faultline/faultline/core"
	"gonum.org/v1/gonum/optimize"
)

// Point is one measurement: throughput X (operations per second, or any
// unit: the fit's λ and ceiling come out in the same) at concurrency N.
type Point struct {
	N float64 `json:"n"`
	X float64 `json:"x"`
}

// The shapes of a fitted model (Model.Shape).
const (
	// Peak: throughput rises to a maximum at PeakN and falls after it
	// (κ > 0 with σ < 1; or σ ≥ 1, where the peak is N = 1).
	Peak = "peak"
	// Asymptote: throughput rises for ever towards the ceiling λ/σ and
	// never reaches it (κ = 0, 0 < σ < 1).
	Asymptote = "asymptote"
	// Unbounded: throughput grows linearly without bound (σ = κ = 0).
	Unbounded = "unbounded"
)

// Model is a fitted Universal Scalability Law.
type Model struct {
	// Lambda, Sigma and Kappa are λ, σ and κ; Sigma and Kappa are ≥ 0.
	Lambda float64 `json:"lambda"`
	Sigma  float64 `json:"sigma"`
	Kappa  float64 `json:"kappa"`
	// R2 is the coefficient of determination of the fitted throughputs
	// against the measured ones, 1 − SSres/SStot (1 when the points are
	// all equal and fitted exactly, 0 when they are equal and not).
	R2 float64 `json:"r2"`
	// RelRMSE is the root mean square of the relative errors, the square
	// root of the minimized loss over the number of points.
	RelRMSE float64 `json:"rel_rmse"`
	// Shape is Peak, Asymptote or Unbounded.
	Shape string `json:"shape"`
	// PeakN is the concurrency of peak throughput, N* = sqrt((1−σ)/κ), or
	// 1 when σ ≥ 1; 0 when Shape is not Peak.
	PeakN float64 `json:"peak_concurrency,omitempty"`
	// Ceiling is the most throughput the model predicts: X(N*) for a
	// Peak, λ/σ for an Asymptote; 0 when Unbounded.
	Ceiling float64 `json:"ceiling,omitempty"`
	// Points is how many points were fitted.
	Points int `json:"points"`
}

// Predict returns the model's throughput at concurrency n.
func (m Model) Predict(n float64) float64 {
	return m.Lambda * n / (1 + m.Sigma*(n-1) + m.Kappa*n*(n-1))
}

// Fit fits the Universal Scalability Law to pts by least squares on the
// relative errors (see the package's documentation). It needs at least
// three distinct concurrencies; every N must be at least 1 and every X
// above 0, both finite, else it returns an error wrapping
// core.ErrBadInput.
func Fit(pts []Point) (Model, error) {
	var ns []float64
	for _, p := range pts {
		if math.IsNaN(p.N) || math.IsInf(p.N, 0) || p.N < 1 {
			return Model{}, core.BadInput("usl fit: concurrency %v is not a finite number of at least 1", p.N)
		}
		if math.IsNaN(p.X) || math.IsInf(p.X, 0) || p.X <= 0 {
			return Model{}, core.BadInput("usl fit: throughput %v at concurrency %v is not a finite number above 0", p.X, p.N)
		}
		if !slices.Contains(ns, p.N) {
			ns = append(ns, p.N)
		}
	}
	if len(ns) < 3 {
		return Model{}, core.BadInput("usl fit: needs at least 3 distinct concurrency levels, got %d", len(ns))
	}
	f := fitter{pts: pts}
	// The simplest model first: one with more parameters replaces it
	// only when it fits clearly better.
	best := f.candidate(0, 0)
	consider := func(c candidate) {
		if c.loss < best.loss*(1-1e-9)-1e-20 {
			best = c
		}
	}
	simple := best
	for _, c := range []candidate{f.search(false, true), f.search(true, false)} {
		if c.loss < simple.loss*(1-1e-9)-1e-20 && c.loss < best.loss {
			best = c
		}
	}
	full := candidate{loss: math.Inf(1)}
	for _, s0 := range []float64{0.001, 0.03, 0.2, 0.7} {
		for _, k0 := range []float64{1e-6, 1e-4, 1e-3, 1e-2} {
			if c := f.searchFrom(math.Sqrt(s0), math.Sqrt(k0), true, true); c.loss < full.loss {
				full = c
			}
		}
	}
	consider(full)
	return f.model(best), nil
}

// fitter holds the points being fitted.
type fitter struct{ pts []Point }

// candidate is one (σ, κ) with its best λ and loss.
type candidate struct{ sigma, kappa, lambda, loss float64 }

// candidate returns σ and κ with their best λ and the loss.
func (f fitter) candidate(sigma, kappa float64) candidate {
	// r_i = g_i / X_i with g_i = N_i / D_i; loss(λ) = Σ (λ r_i − 1)²,
	// least at λ = Σ r / Σ r².
	var sr, srr float64
	for _, p := range f.pts {
		r := p.N / (1 + sigma*(p.N-1) + kappa*p.N*(p.N-1)) / p.X
		sr += r
		srr += r * r
	}
	lambda := sr / srr
	var loss float64
	for _, p := range f.pts {
		e := lambda*p.N/(1+sigma*(p.N-1)+kappa*p.N*(p.N-1))/p.X - 1
		loss += e * e
	}
	if math.IsNaN(loss) {
		loss = math.Inf(1)
	}
	return candidate{sigma: sigma, kappa: kappa, lambda: lambda, loss: loss}
}

// grad returns the loss's gradient in σ and κ at c (λ at its best, so its
// own derivative drops out).
func (f fitter) grad(c candidate) (dSigma, dKappa float64) {
	for _, p := range f.pts {
		d := 1 + c.sigma*(p.N-1) + c.kappa*p.N*(p.N-1)
		e := c.lambda*p.N/d/p.X - 1
		// dg/dσ = −N(N−1)/D², dg/dκ = −N²(N−1)/D².
		common := 2 * e * c.lambda / p.X * -p.N * (p.N - 1) / (d * d)
		dSigma += common
		dKappa += common * p.N
	}
	return dSigma, dKappa
}

// search fits with σ free when useSigma and κ free when useKappa (the other
// held at 0), from a few starting points.
func (f fitter) search(useSigma, useKappa bool) candidate {
	best := candidate{loss: math.Inf(1)}
	for _, s0 := range []float64{0.001, 0.03, 0.2, 0.7} {
		k0 := math.Sqrt(s0 / 100)
		if c := f.searchFrom(math.Sqrt(s0), k0, useSigma, useKappa); c.loss < best.loss {
			best = c
		}
	}
	return best
}

// searchFrom minimizes the loss over (s, k), σ = s² and κ = k², from
// (s0, k0), with the parameters not in use held at 0.
func (f fitter) searchFrom(s0, k0 float64, useSigma, useKappa bool) candidate {
	unpack := func(x []float64) (float64, float64) {
		var s, k float64
		i := 0
		if useSigma {
			s = x[i]
			i++
		}
		if useKappa {
			k = x[i]
		}
		return s, k
	}
	var x0 []float64
	if useSigma {
		x0 = append(x0, s0)
	}
	if useKappa {
		x0 = append(x0, k0)
	}
	p := optimize.Problem{
		Func: func(x []float64) float64 {
			s, k := unpack(x)
			return f.candidate(s*s, k*k).loss
		},
		Grad: func(g, x []float64) {
			s, k := unpack(x)
			ds, dk := f.grad(f.candidate(s*s, k*k))
			i := 0
			if useSigma {
				g[i] = 2 * s * ds
				i++
			}
			if useKappa {
				g[i] = 2 * k * dk
			}
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: 1e-15,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-18, Relative: 1e-12, Iterations: 50},
		MajorIterations:   2000,
	}
	best := candidate{loss: math.Inf(1)}
	try := func(m optimize.Method) {
		res, err := optimize.Minimize(p, x0, settings, m)
		if res == nil || (err != nil && len(res.X) == 0) {
			return
		}
		s, k := unpack(res.X)
		if c := f.candidate(s*s, k*k); c.loss < best.loss {
			best = c
		}
	}
	try(&optimize.BFGS{})
	// A line search that fails on a flat stretch leaves BFGS short of
	// the minimum; Nelder-Mead from where it stopped polishes without
	// gradients.
	if best.loss < math.Inf(1) {
		s, k := math.Sqrt(best.sigma), math.Sqrt(best.kappa)
		x0 = x0[:0]
		if useSigma {
			x0 = append(x0, s)
		}
		if useKappa {
			x0 = append(x0, k)
		}
	}
	try(&optimize.NelderMead{})
	return best
}

// model turns the chosen candidate into a Model with its figures.
func (f fitter) model(c candidate) Model {
	m := Model{Lambda: c.lambda, Sigma: c.sigma, Kappa: c.kappa, Points: len(f.pts)}
	m.RelRMSE = math.Sqrt(c.loss / float64(len(f.pts)))
	var mean float64
	for _, p := range f.pts {
		mean += p.X
	}
	mean /= float64(len(f.pts))
	var ssRes, ssTot float64
	for _, p := range f.pts {
		d := m.Predict(p.N) - p.X
		ssRes += d * d
		ssTot += (p.X - mean) * (p.X - mean)
	}
	switch {
	case ssTot > 0:
		m.R2 = 1 - ssRes/ssTot
	case ssRes <= 1e-18*mean*mean*float64(len(f.pts)):
		m.R2 = 1
	}
	switch {
	case m.Sigma >= 1:
		m.Shape, m.PeakN = Peak, 1
		m.Ceiling = m.Predict(1)
	case m.Kappa > 0:
		m.Shape, m.PeakN = Peak, math.Sqrt((1-m.Sigma)/m.Kappa)
		m.Ceiling = m.Predict(m.PeakN)
	case m.Sigma > 0:
		m.Shape, m.Ceiling = Asymptote, m.Lambda/m.Sigma
	default:
		m.Shape = Unbounded
	}
	return m
}
