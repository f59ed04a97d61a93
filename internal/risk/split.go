package risk

import "fmt"

// DefaultTrainFrac is the share of rows, earliest first, that trains.
const DefaultTrainFrac = 0.8

// TimeSplit splits time-ordered rows into the earliest frac for training
// and the rest for testing, never shuffled: the first int(len*frac) rows
// train (the protocol of Zeng et al.). Both parts must be non-empty.
func TimeSplit(rows []Row, frac float64) (train, test []Row, err error) {
	if !(frac > 0 && frac < 1) {
		return nil, nil, fmt.Errorf("train fraction %v: want 0 < frac < 1", frac)
	}
	k := int(float64(len(rows)) * frac)
	if k < 1 || k >= len(rows) {
		return nil, nil, fmt.Errorf("%d rows at train fraction %v: want at least one row on each side", len(rows), frac)
	}
	return rows[:k:k], rows[k:], nil
}
