package risk

import (
	"math"
	"sort"
)

// rankDesc returns the indexes of scores from highest to lowest; ties keep
// their input order, so the result is deterministic.
func rankDesc(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	return idx
}

// AUC is the area under the ROC curve: the probability that a random
// positive scores above a random negative, ties counting one half (the
// Mann–Whitney statistic with average ranks). NaN without both classes.
func AUC(scores []float64, labels []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var np, nn, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+1+j) / 2 // mean of ranks i+1 … j
		for k := i; k < j; k++ {
			if labels[idx[k]] {
				np++
				rankSum += avg
			} else {
				nn++
			}
		}
		i = j
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	return (rankSum - np*(np+1)/2) / (np * nn)
}

// AveragePrecision is the area under the precision–recall curve as the
// step sum Σ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score thresholds, highest
// first (tied scores enter together). NaN without positives.
func AveragePrecision(scores []float64, labels []bool) float64 {
	idx := rankDesc(scores)
	total := float64(countTrue(labels))
	if total == 0 {
		return math.NaN()
	}
	var tp, seen, ap, prevRecall float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] {
				tp++
			}
			seen++
			j++
		}
		recall := tp / total
		ap += (recall - prevRecall) * (tp / seen)
		prevRecall = recall
		i = j
	}
	return ap
}

// Brier is the mean squared difference between probability and outcome.
func Brier(probs []float64, labels []bool) float64 {
	s := 0.0
	for i, p := range probs {
		d := p
		if labels[i] {
			d = p - 1
		}
		s += d * d
	}
	return s / float64(len(probs))
}

// ECE is the expected calibration error over bins equal-width bins of
// [0, 1]: Σ |B|/n · |mean predicted − observed rate| over non-empty bins.
// A probability of exactly 1 falls in the last bin.
func ECE(probs []float64, labels []bool, bins int) float64 {
	cnt := make([]float64, bins)
	sumP := make([]float64, bins)
	sumY := make([]float64, bins)
	for i, p := range probs {
		b := int(p * float64(bins))
		b = max(0, min(b, bins-1))
		cnt[b]++
		sumP[b] += p
		if labels[i] {
			sumY[b]++
		}
	}
	e := 0.0
	for b := range cnt {
		if cnt[b] > 0 {
			e += math.Abs(sumP[b]-sumY[b]) / float64(len(probs))
		}
	}
	return e
}

// PRF is precision, recall and F1 when a probability at or above t means
// "risky". Each is 0 where its denominator is.
func PRF(probs []float64, labels []bool, t float64) (precision, recall, f1 float64) {
	var tp, fp, fn float64
	for i, p := range probs {
		switch {
		case p >= t && labels[i]:
			tp++
		case p >= t:
			fp++
		case labels[i]:
			fn++
		}
	}
	if tp+fp > 0 {
		precision = tp / (tp + fp)
	}
	if tp+fn > 0 {
		recall = tp / (tp + fn)
	}
	if precision+recall > 0 {
		f1 = 2 * precision * recall / (precision + recall)
	}
	return precision, recall, f1
}

// BestF1Threshold is the threshold, one of probs, that maximises F1 on
// these rows; of equal F1s the highest threshold wins.
func BestF1Threshold(probs []float64, labels []bool) (t, f1 float64) {
	idx := rankDesc(probs)
	total := float64(countTrue(labels))
	t = 1
	var tp, seen float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && probs[idx[j]] == probs[idx[i]] {
			if labels[idx[j]] {
				tp++
			}
			seen++
			j++
		}
		if tp > 0 {
			p, r := tp/seen, tp/total
			if f := 2 * p * r / (p + r); f > f1 {
				f1, t = f, probs[idx[i]]
			}
		}
		i = j
	}
	return t, f1
}

// CaughtAt is the share of all positives among the riskiest share of
// rows (k = round(share·n) rows, at least one). Where tied scores straddle
// the cut, the tied group contributes in proportion to the part of it that
// is inside: the expected value over the orders of the ties. NaN without
// positives.
func CaughtAt(scores []float64, labels []bool, share float64) float64 {
	n := len(scores)
	total := float64(countTrue(labels))
	if n == 0 || total == 0 {
		return math.NaN()
	}
	k := max(1, min(n, int(math.Round(share*float64(n)))))
	idx := rankDesc(scores)
	caught := 0.0
	for i := 0; i < k; {
		j := i
		var pos float64
		for j < n && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] {
				pos++
			}
			j++
		}
		if j <= k {
			caught += pos
		} else {
			caught += pos * float64(k-i) / float64(j-i)
		}
		i = j
	}
	return caught / total
}

func countTrue(labels []bool) int {
	n := 0
	for _, l := range labels {
		if l {
			n++
		}
	}
	return n
}
