package risk

import (
	"fmt"
	"math"
)

// Platt maps a model's logit s to a calibrated probability
// sigmoid(A·s + B) (Platt, 1999).
type Platt struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// Prob is the calibrated probability of logit s.
func (p Platt) Prob(s float64) float64 { return sigmoid(p.A*s + p.B) }

// FitPlatt fits A and B by Newton's method on logits and labels, with
// Platt's smoothed targets (N₊+1)/(N₊+2) and 1/(N₋+2) so that a slice
// without overlap does not drive A to infinity. Unweighted: the result is
// a frequency at the slice's base rate.
func FitPlatt(logits []float64, labels []bool) (Platt, error) {
	if len(logits) != len(labels) || len(logits) == 0 {
		return Platt{}, fmt.Errorf("platt scaling: %d logits, %d labels: want the same, non-zero count", len(logits), len(labels))
	}
	var np, nn float64
	for _, l := range labels {
		if l {
			np++
		} else {
			nn++
		}
	}
	hi, lo := (np+1)/(np+2), 1/(nn+2)
	t := make([]float64, len(labels))
	for i, l := range labels {
		if l {
			t[i] = hi
		} else {
			t[i] = lo
		}
	}
	loss := func(a, b float64) float64 {
		s := 0.0
		for i, x := range logits {
			s += logLoss(a*x+b, t[i])
		}
		return s
	}
	a, b := 1.0, 0.0
	cur := loss(a, b)
	for it := 0; it < 100; it++ {
		var ga, gb, haa, hab, hbb float64
		for i, x := range logits {
			p := sigmoid(a*x + b)
			r := p - t[i]
			c := p * (1 - p)
			ga += r * x
			gb += r
			haa += c * x * x
			hab += c * x
			hbb += c
		}
		step, err := cholSolve([][]float64{{haa + 1e-12, hab}, {hab, hbb + 1e-12}}, []float64{ga, gb})
		if err != nil {
			return Platt{}, fmt.Errorf("platt scaling: %w", err)
		}
		st := 1.0
		var na, nb, next float64
		for k := 0; k < 30; k++ {
			na, nb = a-st*step[0], b-st*step[1]
			next = loss(na, nb)
			if next <= cur {
				break
			}
			st /= 2
		}
		if next > cur {
			break
		}
		a, b, cur = na, nb, next
		if math.Max(math.Abs(st*step[0]), math.Abs(st*step[1])) < 1e-10 {
			break
		}
	}
	return Platt{A: a, B: b}, nil
}
