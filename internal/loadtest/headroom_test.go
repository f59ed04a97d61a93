package loadtest

import (
	"math"
	"testing"
)

func TestThresholdHeadroom(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    ThresholdResult
		want float64
		ok   bool
	}{
		{"latency with room", ThresholdResult{Threshold: "p(95)<200", Value: 150}, 0.25, true},
		{"a rate ceiling", ThresholdResult{Threshold: "rate<0.01", Value: 0.009}, 0.1, true},
		{"a rate floor", ThresholdResult{Threshold: "rate>0.99", Value: 0.995}, 0.005 / 0.99, true},
		{"broken, over a window", ThresholdResult{Threshold: "p(95) < 200 over 30s", Value: 300}, -0.5, true},
		{"<=", ThresholdResult{Threshold: "max<=100", Value: 50}, 0.5, true},
		{">=", ThresholdResult{Threshold: "count>=10", Value: 20}, 1, true},
		{"no data", ThresholdResult{Threshold: "p(95)<200", NoData: true}, 0, false},
		{"equality", ThresholdResult{Threshold: "count==3", Value: 3}, 0, false},
		{"zero limit", ThresholdResult{Threshold: "count<0", Value: 3}, 0, false},
		{"unreadable", ThresholdResult{Threshold: "avg", Value: 3}, 0, false},
	} {
		got, ok := tc.r.Headroom()
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
