package loadtest

import "math"

// Headroom is how far the measured value sits inside its threshold, as a
// share of the limit: for "<" and "<=" (limit − value)/|limit|, for ">"
// and ">=" (value − limit)/|limit|; negative once past it. ok is false
// without data, for == and != and for a zero limit, where no share reads.
func (r ThresholdResult) Headroom() (h float64, ok bool) {
	e, err := parseThreshold(r.Threshold)
	if err != nil || r.NoData || e.value == 0 {
		return 0, false
	}
	switch e.op {
	case "<", "<=":
		return (e.value - r.Value) / math.Abs(e.value), true
	case ">", ">=":
		return (r.Value - e.value) / math.Abs(e.value), true
	}
	return 0, false
}
