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
	// ModelEns is PRF's model: the logistic regression and the boosted
	// trees together, on history-ranked experience metrics (RankHistory),
	// the trees recency-weighted, both refitted on every training row
	// once early stopping and calibration are chosen.
	ModelEns = "ens"
)

// ModelNames lists the models in the order --help gives them.
var ModelNames = []string{ModelEns, ModelLR, ModelGBDT, ModelAuto}

// validModel reports whether kind names a model.
func validModel(kind string) error {
	if !slices.Contains(ModelNames, kind) {
		return fmt.Errorf("model %q: want ens, lr, gbdt or auto", kind)
	}
	return nil
}

// CalibFrac is the share of the training slice, latest in time, that
// fits the calibration and the threshold instead of the model.
const CalibFrac = 0.2

// GatedShares are the shares of changes gated (riskiest first) at which
// caught-at is reported.
var gatedShares = [...]float64{0.05, 0.10, 0.20}

// Model is a trained, calibrated predictor.
type Model struct {
	// Kind is the model that predicts: ens, lr or gbdt; with auto, the
	// one that won on the calibration slice, as "auto:lr" or "auto:gbdt".
	Kind string `json:"kind"`
	// Ranked: the model reads experience metrics as RankHistory ranks, so
	// a change must be ranked against its project's history first.
	Ranked bool  `json:"ranked,omitempty"`
	LR     *LR   `json:"lr,omitempty"`
	GBDT   *GBDT `json:"gbdt,omitempty"`
	// The ensemble's logit is PlattLR(lr) + PlattGBDT(gbdt): the sum of
	// the two models' calibrated log-odds, which Platt calibrates again.
	PlattLR   *Platt  `json:"platt_lr,omitempty"`
	PlattGBDT *Platt  `json:"platt_gbdt,omitempty"`
	Platt     Platt   `json:"platt"`
	Threshold float64 `json:"threshold"` // calibrated probability at or above which a change is risky
	CalibAUC  float64 `json:"calib_auc"` // AUC of the logit on the calibration slice
}

// Logit is the uncalibrated log-odds of the model that predicts.
func (m *Model) Logit(x *[NumFeatures]float64) float64 {
	if m.PlattLR != nil {
		return m.PlattLR.A*m.LR.Logit(x) + m.PlattLR.B + m.PlattGBDT.A*m.GBDT.Logit(x) + m.PlattGBDT.B
	}
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
//
// For ens the rows must be RankHistory's (Evaluate and TrainFiles rank
// them): see trainEns.
func Train(rows []Row, kind string) (*Model, error) {
	if err := validModel(kind); err != nil {
		return nil, err
	}
	if kind == ModelEns {
		return trainEns(rows)
	}
	fit, calib, err := TimeSplit(rows, 1-CalibFrac)
	if err != nil {
		return nil, fmt.Errorf("calibration split: %w", err)
	}
	labels := labelsOf(calib)
	m := &Model{Kind: kind}
	var logits []float64
	if kind == ModelLR || kind == ModelAuto {
		lr, err := TrainLR(fit, LROptions{})
		if err != nil {
			return nil, err
		}
		m.LR, logits = lr, scores(calib, lr.Logit)
		m.CalibAUC = AUC(logits, labels)
	}
	if kind == ModelGBDT || kind == ModelAuto {
		g, err := TrainGBDTSelect(fit, calib)
		if err != nil {
			return nil, err
		}
		gl := scores(calib, g.Logit)
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
	if err := m.calibrate(logits, labels); err != nil {
		return nil, err
	}
	return m, nil
}

// calibrate fits the model's Platt scaling and its F1 threshold on the
// calibration slice's logits.
func (m *Model) calibrate(logits []float64, labels []bool) error {
	var err error
	if m.Platt, err = FitPlatt(logits, labels); err != nil {
		return err
	}
	probs := make([]float64, len(logits))
	for i, s := range logits {
		probs[i] = m.Platt.Prob(s)
	}
	m.Threshold, _ = BestF1Threshold(probs, labels)
	return nil
}

// scores applies f to each row's metrics.
func scores(rows []Row, f func(*[NumFeatures]float64) float64) []float64 {
	s := make([]float64, len(rows))
	for i := range rows {
		s[i] = f(&rows[i].X)
	}
	return s
}

// labelsOf are the rows' labels.
func labelsOf(rows []Row) []bool {
	l := make([]bool, len(rows))
	for i := range rows {
		l[i] = rows[i].Label
	}
	return l
}

// ensTrees are the boosted trees of the ensemble: shallow, with early
// stopping on the calibration slice. Learning rate 0.1 rather than the
// default 0.05: on the calibration slices of the four public projects it
// ranked as well (AUC +.001, −.002, +.003, +.001) with about half the
// trees; they stopped early at 40 to 170 trees, so 500 is a cap with
// room, one that keeps training on 100,000 rows under 10 s on 2 cores
// even when early stopping never stops (BenchmarkTrainEns100kWorstCase).
var ensTrees = GBDTOptions{MaxDepth: 3, MaxTrees: 500, LearningRate: 0.1}

// trainEns fits the ensemble: the logistic regression and the boosted
// trees (recency-weighted, early-stopped) on the earliest 1−CalibFrac of
// the rows; a Platt scaling for each and one for their sum, and the F1
// threshold, on the latest CalibFrac; then both models again on every
// row (the trees to 5/4 of the early-stopped count, as the rows are 5/4
// as many), so the latest changes, the most like the next ones, train too.
func trainEns(rows []Row) (*Model, error) {
	fit, calib, err := TimeSplit(rows, 1-CalibFrac)
	if err != nil {
		return nil, fmt.Errorf("calibration split: %w", err)
	}
	lr, err := TrainLR(fit, LROptions{})
	if err != nil {
		return nil, err
	}
	opt := ensTrees
	opt.Weights = recencyWeights(fit, RecencyHalfLife)
	g, err := TrainGBDT(fit, calib, opt)
	if err != nil {
		return nil, err
	}
	labels, ll, gl := labelsOf(calib), scores(calib, lr.Logit), scores(calib, g.Logit)
	pl, err := FitPlatt(ll, labels)
	if err != nil {
		return nil, err
	}
	pg, err := FitPlatt(gl, labels)
	if err != nil {
		return nil, err
	}
	m := &Model{Kind: ModelEns, Ranked: true, PlattLR: &pl, PlattGBDT: &pg}
	sum := make([]float64, len(calib))
	for i := range calib {
		sum[i] = pl.A*ll[i] + pl.B + pg.A*gl[i] + pg.B
	}
	m.CalibAUC = AUC(sum, labels)
	if err := m.calibrate(sum, labels); err != nil {
		return nil, err
	}

	if m.LR, err = TrainLR(rows, LROptions{}); err != nil {
		return nil, err
	}
	opt = g.Options
	opt.MaxTrees = max(valEvery, len(g.Trees)*5/4)
	opt.Weights = recencyWeights(rows, RecencyHalfLife)
	if m.GBDT, err = TrainGBDT(rows, nil, opt); err != nil {
		return nil, err
	}
	m.GBDT.ValAUC = g.ValAUC
	return m, nil
}

// Explain splits the model's calibrated log-odds for x exactly into a
// base (the log-odds of an average change) and one share per metric:
// Base + Σ shares = logit of Prob(x). The shares are the logistic
// regression's terms, the trees' TreeSHAP values, or (ens) the two
// weighted as the model weighs them.
func (m *Model) Explain(x *[NumFeatures]float64) (base float64, shares []float64) {
	shares = make([]float64, NumFeatures)
	add := func(a float64, part []float64) {
		for j := range shares {
			shares[j] += m.Platt.A * a * part[j]
		}
	}
	base = m.Platt.B
	switch {
	case m.PlattLR != nil:
		add(m.PlattLR.A, m.LR.Contributions(x))
		add(m.PlattGBDT.A, m.GBDT.SHAP(x))
		base += m.Platt.A * (m.PlattLR.A*m.LR.Intercept + m.PlattLR.B + m.PlattGBDT.A*m.GBDT.ExpectedValue() + m.PlattGBDT.B)
	case m.GBDT != nil:
		add(1, m.GBDT.SHAP(x))
		base += m.Platt.A * m.GBDT.ExpectedValue()
	default:
		add(1, m.LR.Contributions(x))
		base += m.Platt.A * m.LR.Intercept
	}
	return base, shares
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
	Model     string  // default ModelEns
}

func (o EvalOptions) withDefaults() EvalOptions {
	if o.TrainFrac == 0 {
		o.TrainFrac = DefaultTrainFrac
	}
	if o.Model == "" {
		o.Model = ModelEns
	}
	return o
}

// Evaluate trains on the earliest TrainFrac of the rows and reports on
// the rest. The test rows are used for nothing but the report.
func Evaluate(ds *Dataset, opt EvalOptions) (*Report, error) {
	opt = opt.withDefaults()
	train, test, err := TimeSplit(prepare(ds.Rows, opt.Model), opt.TrainFrac)
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
	opt = opt.withDefaults()
	if len(others) == 0 {
		return nil, errors.New("cross-project: no project to train on")
	}
	_, test, err := TimeSplit(prepare(target.Rows, opt.Model), opt.TrainFrac)
	if err != nil {
		return nil, err
	}
	var train []Row
	for _, o := range others {
		train = append(train, prepare(o.Rows, opt.Model)...)
	}
	slices.SortStableFunc(train, func(a, b Row) int { return cmp.Compare(a.Time, b.Time) })
	return evaluate(train, test, opt)
}

// prepare readies one project's time-ordered rows for a model: ens ranks
// the experience metrics against the project's own history.
func prepare(rows []Row, kind string) []Row {
	if kind == ModelEns {
		return RankHistory(rows)
	}
	return rows
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

	probs, labels := scores(test, m.Prob), labelsOf(test)
	size := scores(test, func(x *[NumFeatures]float64) float64 { return x[featLA] + x[featLD] })
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
	for i, key := range GatedShareKeys() {
		r.CaughtAt[key] = CaughtAt(probs, labels, gatedShares[i])
		r.CaughtAtSize[key] = CaughtAt(size, labels, gatedShares[i])
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
