package risk

import (
	"errors"
	"fmt"
	"math"
)

// LROptions tune the logistic regression. The zero value uses the
// defaults.
type LROptions struct {
	// Lambda is the L2 penalty on the coefficients (not the intercept),
	// added to the class-weighted sum of log losses. Default 1.
	Lambda float64
	// MaxIter caps the Newton iterations. Default 100.
	MaxIter int
	// Tol stops when the largest Newton step is below it. Default 1e-10.
	Tol float64
}

func (o LROptions) withDefaults() LROptions {
	if o.Lambda <= 0 {
		o.Lambda = 1
	}
	if o.MaxIter <= 0 {
		o.MaxIter = 100
	}
	if o.Tol <= 0 {
		o.Tol = 1e-10
	}
	return o
}

// LR is an L2-regularised logistic regression on standardized
// log1p(max(0, x)) change metrics. Its logit is exactly the intercept plus
// the sum of Contributions, which is what makes it explainable.
type LR struct {
	Features  []string  `json:"features"`
	Mean      []float64 `json:"mean"` // of log1p(max(0,x)) on the training rows
	Std       []float64 `json:"std"`  // likewise; 1 where the feature is constant
	Coef      []float64 `json:"coef"`
	Intercept float64   `json:"intercept"`
	Lambda    float64   `json:"lambda"`
	Iter      int       `json:"iterations"`
}

// TrainLR fits the model by Newton's method (IRLS) with the classes
// weighted to balance (weight n/(2·n_class)), deterministically: the same
// rows give the same coefficients, bit for bit.
func TrainLR(rows []Row, opt LROptions) (*LR, error) {
	opt = opt.withDefaults()
	n := len(rows)
	pos := positives(rows)
	if pos == 0 || pos == n {
		return nil, fmt.Errorf("logistic regression: %d rows with %d positives: want both classes", n, pos)
	}
	m := &LR{Features: FeatureNames(), Lambda: opt.Lambda,
		Mean: make([]float64, NumFeatures), Std: make([]float64, NumFeatures), Coef: make([]float64, NumFeatures)}

	moments(n, NumFeatures, func(i, j int) float64 { return logFeature(rows[i].X[j]) }, m.Mean, m.Std)

	// Design matrix with a leading 1 for the intercept.
	const d = NumFeatures + 1
	z := make([][]float64, n)
	y := make([]float64, n)
	w := make([]float64, n)
	wPos, wNeg := float64(n)/(2*float64(pos)), float64(n)/(2*float64(n-pos))
	for i := range rows {
		z[i] = make([]float64, d)
		z[i][0] = 1
		m.standardize(&rows[i].X, z[i][1:])
		if rows[i].Label {
			y[i], w[i] = 1, wPos
		} else {
			w[i] = wNeg
		}
	}
	beta, iters, err := irls(z, y, w, nil, opt)
	if err != nil {
		return nil, fmt.Errorf("logistic regression: %w", err)
	}
	m.Iter = iters
	m.Intercept = beta[0]
	copy(m.Coef, beta[1:])
	return m, nil
}

// moments writes the mean and standard deviation of n rows of d features
// (feature j of row i is at(i, j)) into mean and std, in a fixed
// summation order; a constant feature gets std 1.
func moments(n, d int, at func(i, j int) float64, mean, std []float64) {
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			mean[j] += at(i, j)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			v := at(i, j) - mean[j]
			std[j] += v * v
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(n))
		if std[j] < 1e-12 {
			std[j] = 1
		}
	}
}

// irls fits an L2-regularised, weighted logistic regression by Newton's
// method with a backtracking line search: z holds one design row per
// example (column 0 the intercept, not penalised), y the 0/1 targets, w
// the weights. offset, when set, is a fixed per-row term added to the
// linear predictor (a prior model's log-odds that the fit corrects).
// Deterministic: a fixed summation order.
func irls(z [][]float64, y, w, offset []float64, opt LROptions) (beta []float64, iters int, err error) {
	opt = opt.withDefaults()
	d := len(z[0])
	lin := func(b []float64, i int) float64 {
		t := dot(b, z[i])
		if offset != nil {
			t += offset[i]
		}
		return t
	}
	beta = make([]float64, d)
	loss := func(b []float64) float64 {
		s := 0.0
		for i := range z {
			s += w[i] * logLoss(lin(b, i), y[i])
		}
		for j := 1; j < d; j++ {
			s += 0.5 * opt.Lambda * b[j] * b[j]
		}
		return s
	}
	cur := loss(beta)
	trial := make([]float64, d)
	for it := 1; it <= opt.MaxIter; it++ {
		iters = it
		g := make([]float64, d)
		h := make([][]float64, d)
		for a := range h {
			h[a] = make([]float64, d)
		}
		for i := range z {
			p := sigmoid(lin(beta, i))
			r := w[i] * (p - y[i])
			c := w[i] * p * (1 - p)
			for a := 0; a < d; a++ {
				g[a] += r * z[i][a]
				ca := c * z[i][a]
				for b := 0; b <= a; b++ {
					h[a][b] += ca * z[i][b]
				}
			}
		}
		for a := 0; a < d; a++ {
			for b := 0; b < a; b++ {
				h[b][a] = h[a][b]
			}
		}
		for j := 1; j < d; j++ {
			g[j] += opt.Lambda * beta[j]
			h[j][j] += opt.Lambda
		}
		h[0][0] += 1e-12 * float64(len(z)) // keeps the intercept's row positive definite
		step, err := cholSolve(h, g)
		if err != nil {
			return nil, it, fmt.Errorf("iteration %d: %w", it, err)
		}
		// Backtracking line search keeps every step a descent.
		t := 1.0
		var next float64
		for k := 0; k < 30; k++ {
			for j := range trial {
				trial[j] = beta[j] - t*step[j]
			}
			next = loss(trial)
			if next <= cur {
				break
			}
			t /= 2
		}
		if next > cur {
			break // no descent left: converged as far as floating point goes
		}
		copy(beta, trial)
		cur = next
		maxStep := 0.0
		for j := range step {
			maxStep = math.Max(maxStep, math.Abs(t*step[j]))
		}
		if maxStep < opt.Tol {
			break
		}
	}
	return beta, iters, nil
}

// logFeature is the transform every metric goes through: log1p(max(0, x)).
func logFeature(x float64) float64 { return math.Log1p(math.Max(0, x)) }

// standardize writes the standardized, log-transformed metrics into z.
func (m *LR) standardize(x *[NumFeatures]float64, z []float64) {
	for j := 0; j < NumFeatures; j++ {
		z[j] = (logFeature(x[j]) - m.Mean[j]) / m.Std[j]
	}
}

// Contributions are each metric's exact share of the logit:
// coef_j × standardized value_j. Logit = Intercept + their sum.
func (m *LR) Contributions(x *[NumFeatures]float64) []float64 {
	c := make([]float64, NumFeatures)
	m.standardize(x, c)
	for j := range c {
		c[j] *= m.Coef[j]
	}
	return c
}

// Logit is the model's log-odds for one change.
func (m *LR) Logit(x *[NumFeatures]float64) float64 {
	var z [NumFeatures]float64
	m.standardize(x, z[:])
	s := m.Intercept
	for j := range z {
		s += m.Coef[j] * z[j]
	}
	return s
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func sigmoid(t float64) float64 {
	if t >= 0 {
		return 1 / (1 + math.Exp(-t))
	}
	e := math.Exp(t)
	return e / (1 + e)
}

// logLoss is -[y log p + (1-y) log(1-p)] for p = sigmoid(t), computed
// stably from the logit.
func logLoss(t, y float64) float64 {
	// log(1+e^t) - y t
	var sp float64
	if t > 0 {
		sp = t + math.Log1p(math.Exp(-t))
	} else {
		sp = math.Log1p(math.Exp(t))
	}
	return sp - y*t
}

var errNotPD = errors.New("hessian not positive definite")

// cholSolve solves H x = g for a symmetric positive definite H by
// Cholesky factorisation. H and g are not modified.
func cholSolve(h [][]float64, g []float64) ([]float64, error) {
	n := len(g)
	l := make([][]float64, n)
	for i := range l {
		l[i] = make([]float64, n)
		for j := 0; j <= i; j++ {
			s := h[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if !(s > 0) {
					return nil, errNotPD
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	x := make([]float64, n)
	for i := 0; i < n; i++ { // L y = g
		s := g[i]
		for k := 0; k < i; k++ {
			s -= l[i][k] * x[k]
		}
		x[i] = s / l[i][i]
	}
	for i := n - 1; i >= 0; i-- { // Lᵀ x = y
		s := x[i]
		for k := i + 1; k < n; k++ {
			s -= l[k][i] * x[k]
		}
		x[i] = s / l[i][i]
	}
	return x, nil
}
