package risk

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Model names.
const (
	ModelLR   = "lr"
	ModelGBDT = "gbdt"
	ModelAuto = "auto"
)

// ErrNotBuilt marks a model that a later slice adds.
var ErrNotBuilt = errors.New("not built yet")

// CalibFrac is the share of the training slice, latest in time, that
// fits the calibration and the threshold instead of the model.
const CalibFrac = 0.2

// GatedShares are the shares of changes gated (riskiest first) at which
// caught-at is reported.
var gatedShares = [...]float64{0.05, 0.10, 0.20}

// Model is a trained, calibrated predictor.
type Model struct {
	Kind      string  `json:"kind"`
	LR        *LR     `json:"lr"`
	Platt     Platt   `json:"platt"`
	Threshold float64 `json:"threshold"` // calibrated probability at or above which a change is risky
}

// Prob is the calibrated probability that the change induces a failure.
func (m *Model) Prob(x *[NumFeatures]float64) float64 { return m.Platt.Prob(m.LR.Logit(x)) }

// Train fits the model on time-ordered rows: the logistic regression on
// the earliest 1−CalibFrac, Platt scaling and the F1-maximising threshold
// on the latest CalibFrac.
func Train(rows []Row, kind string) (*Model, error) {
	switch kind {
	case ModelLR:
	case ModelGBDT, ModelAuto:
		return nil, fmt.Errorf("model %s: %w (this slice has lr)", kind, ErrNotBuilt)
	default:
		return nil, fmt.Errorf("model %q: want lr, gbdt or auto", kind)
	}
	fit, calib, err := TimeSplit(rows, 1-CalibFrac)
	if err != nil {
		return nil, fmt.Errorf("calibration split: %w", err)
	}
	lr, err := TrainLR(fit, LROptions{})
	if err != nil {
		return nil, err
	}
	logits := make([]float64, len(calib))
	labels := make([]bool, len(calib))
	for i := range calib {
		logits[i] = lr.Logit(&calib[i].X)
		labels[i] = calib[i].Label
	}
	platt, err := FitPlatt(logits, labels)
	if err != nil {
		return nil, err
	}
	probs := make([]float64, len(calib))
	for i, s := range logits {
		probs[i] = platt.Prob(s)
	}
	t, _ := BestF1Threshold(probs, labels)
	return &Model{Kind: kind, LR: lr, Platt: platt, Threshold: t}, nil
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
