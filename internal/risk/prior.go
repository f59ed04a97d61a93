package risk

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// PriorFormat is the version of the trained-model file. A file of another
// format is refused rather than misread.
const PriorFormat = 1

// Source is one data file a model was trained on.
type Source struct {
	Name      string `json:"name"`   // base name
	SHA256    string `json:"sha256"` // of the file's bytes
	Rows      int    `json:"rows"`
	Positives int    `json:"positives"`
}

// Levels are the calibrated probabilities at which a prediction turns
// medium and high: the 60th and 90th percentiles of the model's
// probabilities over its calibration slice, so that on its own history
// 10% of changes are high and 30% medium.
type Levels struct {
	Medium float64 `json:"medium"`
	High   float64 `json:"high"`
}

// Level names a probability: low, medium or high.
func (l Levels) Level(p float64) string {
	switch {
	case p >= l.High:
		return "high"
	case p >= l.Medium:
		return "medium"
	}
	return "low"
}

// Trained is a model file: what `prf risk train` writes and what is
// embedded as the prior. It holds no time stamp, so the same data give
// the same bytes.
type Trained struct {
	Format  int      `json:"format"`
	Sources []Source `json:"sources"`
	Model   *Model   `json:"model"`
	Levels  Levels   `json:"levels"`
}

// TrainFiles trains PRF's model (ens) on change-data files: each
// project's experience metrics are ranked against its own history, then
// the projects are merged in time order (ties in file order) and trained
// on as one. The result depends only on the files' contents and order.
func TrainFiles(paths []string) (*Trained, error) {
	if len(paths) == 0 {
		return nil, errors.New("no change data to train on")
	}
	t := &Trained{Format: PriorFormat}
	var rows []Row
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ds, err := ReadCSV(bytes.NewReader(raw), p)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		t.Sources = append(t.Sources, Source{Name: filepath.Base(p), SHA256: hex.EncodeToString(sum[:]), Rows: len(ds.Rows), Positives: ds.Positives()})
		rows = append(rows, RankHistory(ds.Rows)...)
	}
	slices.SortStableFunc(rows, func(a, b Row) int { return cmp.Compare(a.Time, b.Time) })
	m, err := Train(rows, ModelEns)
	if err != nil {
		return nil, err
	}
	t.Model = m
	_, calib, err := TimeSplit(rows, 1-CalibFrac)
	if err != nil {
		return nil, err
	}
	t.Levels = levelsFrom(scores(calib, m.Prob))
	return t, nil
}

// levelsFrom cuts levels at the 60th and 90th percentiles of a model's
// probabilities on its own history (p is sorted in place).
func levelsFrom(p []float64) Levels {
	slices.Sort(p)
	q := func(f float64) float64 { return p[min(len(p)-1, int(f*float64(len(p))))] }
	return Levels{Medium: q(0.6), High: q(0.9)}
}

// Marshal writes the model file: indented JSON, one trailing newline.
func (t *Trained) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseTrained reads a model file, checking that it is whole.
func ParseTrained(b []byte, name string) (*Trained, error) {
	var t Trained
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: model file: %w", name, err)
	}
	if t.Format != PriorFormat {
		return nil, fmt.Errorf("%s: model file format %d, this prf reads %d: retrain with prf risk train", name, t.Format, PriorFormat)
	}
	if err := t.Model.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &t, nil
}

// check refuses a model that would panic or mispredict: missing parts,
// trees pointing outside themselves, features out of range.
func (m *Model) check() error {
	switch {
	case m == nil:
		return errors.New("model: missing")
	case m.LR == nil && m.GBDT == nil:
		return errors.New("model: neither lr nor gbdt")
	case (m.PlattLR == nil) != (m.PlattGBDT == nil) || m.PlattLR != nil && (m.LR == nil || m.GBDT == nil):
		return errors.New("model: an ensemble needs lr, gbdt and both of their calibrations")
	}
	if lr := m.LR; lr != nil && (len(lr.Coef) != NumFeatures || len(lr.Mean) != NumFeatures || len(lr.Std) != NumFeatures) {
		return fmt.Errorf("model: lr has %d coefficients, want %d", len(lr.Coef), NumFeatures)
	}
	if m.GBDT != nil {
		for k, t := range m.GBDT.Trees {
			if len(t.Nodes) == 0 {
				return fmt.Errorf("model: tree %d is empty", k)
			}
			for i, n := range t.Nodes {
				if n.Feature < 0 {
					continue
				}
				if n.Feature >= NumFeatures || int(n.Left) <= i || int(n.Right) <= i || int(n.Left) >= len(t.Nodes) || int(n.Right) >= len(t.Nodes) {
					return fmt.Errorf("model: tree %d node %d: feature %d, children %d and %d out of range", k, i, n.Feature, n.Left, n.Right)
				}
			}
		}
	}
	return nil
}

// priorJSON is the prior model, trained by `make prior` (prf risk train on
// the four public projects of ../shared/data/jit/issta21-jitdp/).
//
//go:embed prior.json
var priorJSON []byte

// PriorFiles are the public change-data files the prior is trained on,
// in training order, relative to the shared data directory.
var PriorFiles = []string{
	"jit/issta21-jitdp/qt.csv",
	"jit/issta21-jitdp/openstack.csv",
	"jit/issta21-jitdp/jdt.csv",
	"jit/issta21-jitdp/platform.csv",
}

var prior = sync.OnceValues(func() (*Trained, error) { return ParseTrained(priorJSON, "embedded prior") })

// Prior is the embedded prior model.
func Prior() (*Trained, error) { return prior() }

// PriorBytes are the embedded prior model file's bytes.
func PriorBytes() []byte { return priorJSON }
