package risk

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Model names.
const (
	ModelLR   = "lr"
	ModelGBDT = "gbdt"
	ModelAuto = "auto"
)

// ErrNotBuilt marks a feature that a later slice adds.
var ErrNotBuilt = errors.New("not built yet")

// CalibFrac is the share of the training slice, latest in time, that
// fits the calibration and the threshold instead of the model.
const CalibFrac = 0.2

// GatedShares are the shares of changes gated (riskiest first) at which
// caught-at is reported.
var gatedShares = [...]float64{0.05, 0.10, 0.20}

// Model is a trained, calibrated predictor.
type Model struct {
	// Kind is the model that predicts: lr or gbdt; with auto, the one
	// that won on the calibration slice, as "auto:lr" or "auto:gbdt".
	Kind      string  `json:"kind"`
	LR        *LR     `json:"lr,omitempty"`
	GBDT      *GBDT   `json:"gbdt,omitempty"`
	Platt     Platt   `json:"platt"`
	Threshold float64 `json:"threshold"` // calibrated probability at or above which a change is risky
	CalibAUC  float64 `json:"calib_auc"` // AUC of the logit on the calibration slice
}

// Logit is the uncalibrated log-odds of the model that predicts.
func (m *Model) Logit(x *[NumFeatures]float64) float64 {
	if m.GBDT != nil {
		return m.GBDT.Logit(x)
	}
	return m.LR.Logit(x)
}

// Prob is the calibrated probability that the change induces a failure.
func (m *Model) Prob(x *[NumFeatures]float64) float64 { return m.Platt.Prob(m.Logit(x)) }

// Train fits the model on time-ordered rows: the model on the earliest
// 1−CalibFrac; early stopping and the choice among configurations of the
// boosted trees, the choice between lr and gbdt (auto), Platt scaling and
// the F1-maximising threshold on the latest CalibFrac.
func Train(rows []Row, kind string) (*Model, error) {
	switch kind {
	case ModelLR, ModelGBDT, ModelAuto:
	default:
		return nil, fmt.Errorf("model %q: want lr, gbdt or auto", kind)
	}
	fit, calib, err := TimeSplit(rows, 1-CalibFrac)
	if err != nil {
		return nil, fmt.Errorf("calibration split: %w", err)
	}
	labels := make([]bool, len(calib))
	for i := range calib {
		labels[i] = calib[i].Label
	}
	calibLogits := func(f func(*[NumFeatures]float64) float64) []float64 {
		s := make([]float64, len(calib))
		for i := range calib {
			s[i] = f(&calib[i].X)
		}
		return s
	}
	m := &Model{Kind: kind}
	var logits []float64
	if kind == ModelLR || kind == ModelAuto {
		lr, err := TrainLR(fit, LROptions{})
		if err != nil {
			return nil, err
		}
		m.LR, logits = lr, calibLogits(lr.Logit)
		m.CalibAUC = AUC(logits, labels)
	}
	if kind == ModelGBDT || kind == ModelAuto {
		g, err := TrainGBDTSelect(fit, calib)
		if err != nil {
			return nil, err
		}
		gl := calibLogits(g.Logit)
		// auto: the boosted trees replace lr only when they rank the
		// calibration slice strictly better.
		if a := AUC(gl, labels); m.LR == nil || a > m.CalibAUC {
			m.LR, m.GBDT, logits, m.CalibAUC = nil, g, gl, a
		}
	}
	if kind == ModelAuto {
		if m.GBDT != nil {
			m.Kind = ModelAuto + ":" + ModelGBDT
		} else {
			m.Kind = ModelAuto + ":" + ModelLR
		}
	}
	platt, err := FitPlatt(logits, labels)
	if err != nil {
		return nil, err
	}
	probs := make([]float64, len(calib))
	for i, s := range logits {
		probs[i] = platt.Prob(s)
	}
	m.Platt = platt
	m.Threshold, _ = BestF1Threshold(probs, labels)
	return m, nil
}

// Report is what eval prints. The JSON keys are part of the interface.
type Report struct {
	AUC          float64            `json:"auc"`
	PRAUC        float64            `json:"pr_auc"`
	Brier        float64            `json:"brier"`
	ECE          float64            `json:"ece"`
	Precision    float64            `json:"precision"`
	Recall       float64            `json:"recall"`
	F1           float64            `json:"f1"`
	CaughtAt     map[string]float64 `json:"caught_at"`
	CaughtAtSize map[string]float64 `json:"caught_at_size"` // the floor: ranking by LA+LD
	NTrain       int                `json:"n_train"`
	NTest        int                `json:"n_test"`
	Model        string             `json:"model"`
	Threshold    float64            `json:"threshold"`

	TrainTime time.Duration `json:"-"` // wall time of Train, not reproducible
}

// EvalOptions choose the protocol.
type EvalOptions struct {
	TrainFrac float64 // default DefaultTrainFrac
	Model     string  // default ModelLR
}

// Evaluate trains on the earliest TrainFrac of the rows and reports on
// the rest. The test rows are used for nothing but the report.
func Evaluate(ds *Dataset, opt EvalOptions) (*Report, error) {
	if opt.TrainFrac == 0 {
		opt.TrainFrac = DefaultTrainFrac
	}
	if opt.Model == "" {
		opt.Model = ModelLR
	}
	train, test, err := TimeSplit(ds.Rows, opt.TrainFrac)
	if err != nil {
		return nil, err
	}
	return evaluate(train, test, opt)
}

// EvaluateCross is the cross-project protocol: train on every row of the
// other projects (merged in time order; the latest 20% of them calibrate)
// and report on the same test slice as Evaluate, the latest rows of
// target, so the two numbers compare.
func EvaluateCross(target *Dataset, others []*Dataset, opt EvalOptions) (*Report, error) {
	if opt.TrainFrac == 0 {
		opt.TrainFrac = DefaultTrainFrac
	}
	if opt.Model == "" {
		opt.Model = ModelLR
	}
	if len(others) == 0 {
		return nil, errors.New("cross-project: no project to train on")
	}
	_, test, err := TimeSplit(target.Rows, opt.TrainFrac)
	if err != nil {
		return nil, err
	}
	var train []Row
	for _, o := range others {
		train = append(train, o.Rows...)
	}
	slices.SortStableFunc(train, func(a, b Row) int { return cmp.Compare(a.Time, b.Time) })
	return evaluate(train, test, opt)
}

func evaluate(train, test []Row, opt EvalOptions) (*Report, error) {
	if p := positives(test); p == 0 || p == len(test) {
		return nil, fmt.Errorf("test slice: %d rows with %d positives: want both classes", len(test), p)
	}
	start := time.Now()
	m, err := Train(train, opt.Model)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)

	probs := make([]float64, len(test))
	size := make([]float64, len(test))
	labels := make([]bool, len(test))
	for i := range test {
		probs[i] = m.Prob(&test[i].X)
		size[i] = test[i].X[featLA] + test[i].X[featLD]
		labels[i] = test[i].Label
	}
	r := &Report{
		AUC:          AUC(probs, labels),
		PRAUC:        AveragePrecision(probs, labels),
		Brier:        Brier(probs, labels),
		ECE:          ECE(probs, labels, 10),
		CaughtAt:     map[string]float64{},
		CaughtAtSize: map[string]float64{},
		NTrain:       len(train),
		NTest:        len(test),
		Model:        m.Kind,
		Threshold:    m.Threshold,
		TrainTime:    elapsed,
	}
	r.Precision, r.Recall, r.F1 = PRF(probs, labels, m.Threshold)
	for _, s := range gatedShares {
		key := fmt.Sprintf("%.2f", s)
		r.CaughtAt[key] = CaughtAt(probs, labels, s)
		r.CaughtAtSize[key] = CaughtAt(size, labels, s)
	}
	for _, v := range []float64{r.AUC, r.PRAUC, r.Brier, r.ECE} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("a metric is undefined on this test slice")
		}
	}
	return r, nil
}

// GatedShareKeys are the caught_at keys in order.
func GatedShareKeys() []string {
	keys := make([]string, len(gatedShares))
	for i, s := range gatedShares {
		keys[i] = fmt.Sprintf("%.2f", s)
	}
	return keys
}
