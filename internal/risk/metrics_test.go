package risk

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func bools(s string) []bool {
	b := make([]bool, len(s))
	for i, c := range s {
		b[i] = c == '1'
	}
	return b
}

func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scores []float64
		labels string
		want   float64
	}{
		{"no ties", []float64{0.1, 0.4, 0.35, 0.8}, "0011", 0.75},
		// positives {0.5, 0.9}, negatives {0.5, 0.5}: 0.9 beats both (2),
		// 0.5 ties both (2 × ½): 3 of 4 pairs.
		{"ties count one half", []float64{0.5, 0.5, 0.5, 0.9}, "0101", 0.75},
		{"all tied", []float64{1, 1, 1, 1}, "0110", 0.5},
		{"perfect", []float64{3, 4, 1, 2}, "1100", 1},
		{"reversed", []float64{1, 2, 3, 4}, "1100", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AUC(tc.scores, bools(tc.labels)); !near(got, tc.want) {
				t.Errorf("AUC = %v, want %v", got, tc.want)
			}
		})
	}
	if got := AUC([]float64{1, 2}, bools("11")); !math.IsNaN(got) {
		t.Errorf("AUC with one class = %v, want NaN", got)
	}
}

func TestAveragePrecision(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scores []float64
		labels string
		want   float64
	}{
		// 0.8 (+): R .5 P 1; 0.4 (−); 0.35 (+): R 1 P 2/3 → .5 + .5·2/3.
		{"no ties", []float64{0.1, 0.4, 0.35, 0.8}, "0011", 0.5 + 0.5*2.0/3},
		// 0.9 (−): R 0; {0.5, 0.5} enter together: R 1, P 1/3.
		{"ties enter together", []float64{0.9, 0.5, 0.5}, "010", 1.0 / 3},
		{"perfect", []float64{3, 2, 1}, "110", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AveragePrecision(tc.scores, bools(tc.labels)); !near(got, tc.want) {
				t.Errorf("AP = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBrierECE(t *testing.T) {
	if got := Brier([]float64{0.1, 0.9, 0.5}, bools("011")); !near(got, (0.01+0.01+0.25)/3) {
		t.Errorf("Brier = %v", got)
	}
	for _, tc := range []struct {
		name   string
		probs  []float64
		labels string
		want   float64
	}{
		// bin 0: |.05−0|, bin 1: |.15−1|, bin 9: 2·|.95−.5|; over 4 rows.
		{"three bins", []float64{0.05, 0.15, 0.95, 0.95}, "0110", (0.05 + 0.85 + 0.9) / 4},
		{"one is in the last bin", []float64{1, 0.9}, "11", (0 + 0.1) / 2},
		{"calibrated", []float64{0.25, 0.25, 0.25, 0.25}, "1000", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ECE(tc.probs, bools(tc.labels), 10); !near(got, tc.want) {
				t.Errorf("ECE = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPRFAndThreshold(t *testing.T) {
	p, r, f := PRF([]float64{0.9, 0.6, 0.4, 0.2}, bools("1010"), 0.5)
	if !near(p, 0.5) || !near(r, 0.5) || !near(f, 0.5) {
		t.Errorf("PRF = %v %v %v, want .5 .5 .5", p, r, f)
	}
	if p, r, f := PRF([]float64{0.1}, bools("1"), 0.5); p != 0 || r != 0 || f != 0 {
		t.Errorf("PRF with nothing flagged = %v %v %v, want zeros", p, r, f)
	}
	// t=.9: F1 .5; t=.8: .8; t=.3: 2/3; t=.1: P 3/4, R 1, F1 6/7.
	th, f1 := BestF1Threshold([]float64{0.9, 0.8, 0.3, 0.1}, bools("1101"))
	if th != 0.1 || !near(f1, 6.0/7) {
		t.Errorf("BestF1Threshold = %v (F1 %v), want 0.1 (6/7)", th, f1)
	}
}

func TestCaughtAt(t *testing.T) {
	ten := []float64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}
	for _, tc := range []struct {
		name   string
		scores []float64
		labels string
		share  float64
		want   float64
	}{
		{"top 10% of 10", ten, "1000010000", 0.10, 0.5},
		{"top 20% of 10", ten, "1000010000", 0.20, 0.5},
		{"top 60% of 10", ten, "1000010000", 0.60, 1},
		{"at least one row", ten, "1000010000", 0.01, 0.5},
		// k = 1 cuts a tie of four holding one positive: ¼ of it, of 2.
		{"ties straddle the cut", []float64{1, 1, 1, 1, 0}, "10001", 0.2, 0.125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CaughtAt(tc.scores, bools(tc.labels), tc.share); !near(got, tc.want) {
				t.Errorf("CaughtAt = %v, want %v", got, tc.want)
			}
		})
	}
}
