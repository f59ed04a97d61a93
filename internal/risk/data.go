package risk

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prfhq/prf/internal/change"
)

// NumFeatures is the number of change metrics of a row (Kamei et al.):
// internal/change's metrics, in its order.
const NumFeatures = len(change.Metrics{})

// featureColumns are the CSV header names of the metrics, in Row.X order
// ("entrophy" is spelled as in the public data).
var featureColumns = [NumFeatures]string{
	"ns", "nd", "nf", "entrophy", "la", "ld", "lt", "fix",
	"ndev", "age", "nuc", "exp", "rexp", "sexp",
}

// Indexes into Row.X.
const (
	featNF  = int(change.NF)
	featLA  = int(change.LA)
	featLD  = int(change.LD)
	featLT  = int(change.LT)
	featNUC = int(change.NUC)
)

// FeatureNames returns the change metrics in the order of Row.X.
func FeatureNames() []string { return change.MetricNames() }

// Row is one change: when it happened, whether it induced a defect, and
// its change metrics.
type Row struct {
	Time  int64 // unix seconds
	Label bool  // true: defect-inducing (bug = 1)
	X     [NumFeatures]float64
}

// Dataset is a set of changes in time order.
type Dataset struct {
	Rows         []Row
	FeatureNames []string
}

// Positives counts the defect-inducing rows.
func (ds *Dataset) Positives() int { return positives(ds.Rows) }

func positives(rows []Row) int {
	n := 0
	for i := range rows {
		if rows[i].Label {
			n++
		}
	}
	return n
}

// ErrData marks a malformed data file.
var ErrData = errors.New("bad change data")

// LoadCSV reads a change-data CSV file (see ReadCSV).
func LoadCSV(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadCSV(f, path)
}

// ReadCSV reads the public change-data format of Zeng et al. (ISSTA 2021):
// a header row naming the columns date, bug, ns, nd, nf, entrophy, la, ld,
// lt, fix, ndev, age, nuc, exp, rexp, sexp, in any order, with any other
// columns (the unnamed index, _id, __) ignored. date is unix seconds, bug
// is 0 or 1. Rows are returned sorted by time (stable). name prefixes
// error positions (name:line:col).
func ReadCSV(r io.Reader, name string) (*Dataset, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // every row as wide as the header
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: %w: empty file, want a header row", name, ErrData)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrData, err)
	}
	header = append([]string(nil), header...) // the reader reuses its record
	index := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if h == "" {
			continue
		}
		if _, dup := index[h]; dup {
			return nil, fmt.Errorf("%s:1: %w: column %q appears twice", name, ErrData, h)
		}
		index[h] = i
	}
	var missing []string
	col := func(h string) int {
		i, ok := index[h]
		if !ok {
			missing = append(missing, h)
		}
		return i
	}
	// Kamei et al.'s own files (TSE 2013) name some columns differently
	// and normalise LA, LD, LT and NUC: see kamei2013.
	_, kamei := index["commitdate"]
	columns := featureColumns
	dateName := "date"
	if kamei {
		columns, dateName = kamei2013Columns, "commitdate"
	}
	dateCol, bugCol := col(dateName), col("bug")
	var featCol [NumFeatures]int
	for j, h := range columns {
		featCol[j] = col(h)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s:1: %w: missing column(s) %s", name, ErrData, strings.Join(missing, ", "))
	}

	ds := &Dataset{FeatureNames: FeatureNames()}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d:%d: %w: %w", name, pe.Line, pe.Column, ErrData, pe.Err)
			}
			return nil, fmt.Errorf("%s: %w: %w", name, ErrData, err)
		}
		bad := func(c int, what string) error {
			line, column := cr.FieldPos(c)
			return fmt.Errorf("%s:%d:%d: %w: column %q: %s %q", name, line, column, ErrData, header[c], what, rec[c])
		}
		var row Row
		var t int64
		if kamei {
			if t, err = parseKameiDate(rec[dateCol]); err != nil {
				return nil, bad(dateCol, "want YYYY/M/D H:MM, got")
			}
		} else if t, err = parseTime(rec[dateCol]); err != nil {
			return nil, bad(dateCol, "want unix seconds, got")
		}
		row.Time = t
		switch strings.TrimSpace(rec[bugCol]) {
		case "0", "0.0", "False", "false":
		case "1", "1.0", "True", "true":
			row.Label = true
		default:
			return nil, bad(bugCol, "want 0 or 1, got")
		}
		for j, c := range featCol {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[c]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, bad(c, "want a finite number, got")
			}
			row.X[j] = v
		}
		if kamei {
			denormalise(&row.X)
		}
		ds.Rows = append(ds.Rows, row)
	}
	if !sort.SliceIsSorted(ds.Rows, func(a, b int) bool { return ds.Rows[a].Time < ds.Rows[b].Time }) {
		sort.SliceStable(ds.Rows, func(a, b int) bool { return ds.Rows[a].Time < ds.Rows[b].Time })
	}
	return ds, nil
}

// kamei2013Columns are the metrics' names in Kamei et al.'s own files
// (../shared/data/jit/kamei2013/): nm is ND, pd is AGE, npt is NUC.
var kamei2013Columns = [NumFeatures]string{
	"ns", "nm", "nf", "entropy", "la", "ld", "lt", "fix",
	"ndev", "pd", "npt", "exp", "rexp", "sexp",
}

// denormalise undoes Kamei et al.'s normalisation (LA and LD divided by
// LT, LT and NUC by NF) so the metrics read as in the other files.
func denormalise(x *[NumFeatures]float64) {
	nf := x[featNF]
	x[featLT] *= nf
	x[featLA] *= x[featLT]
	x[featLD] *= x[featLT]
	x[featNUC] *= nf
	for _, j := range []int{featLT, featLA, featLD, featNUC} {
		x[j] = math.Round(x[j]*1000) / 1000 // the files' rounding leaves 2.9999
	}
}

// parseKameiDate reads Kamei's commitdate, YYYY/M/D H:MM, as UTC.
func parseKameiDate(s string) (int64, error) {
	t, err := time.Parse("2006/1/2 15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return t.Unix(), nil
}

// parseTime reads unix seconds, written as an integer or a float.
func parseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if t, err := strconv.ParseInt(s, 10, 64); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < -1e15 || f > 1e15 {
		return 0, errors.New("not unix seconds")
	}
	return int64(math.Floor(f)), nil
}
