package risk

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const header = ",_id,date,bug,__,ns,nd,nf,entrophy,la,ld,lt,fix,ndev,age,nuc,exp,rexp,sexp\n"

func TestReadCSVGood(t *testing.T) {
	t.Run("public format", func(t *testing.T) {
		in := header +
			"0,aaa,100,1,1,1,2,3,0.5,10,4,300,1,5,2.5,7,100,20.5,30\n" +
			"1,bbb,200,0,0,1,1,1,0,1,0,10,0,1,0,1,5,1,2\n"
		ds, err := ReadCSV(strings.NewReader(in), "x.csv")
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Rows) != 2 || len(ds.FeatureNames) != NumFeatures {
			t.Fatalf("got %d rows, %d features", len(ds.Rows), len(ds.FeatureNames))
		}
		want := [NumFeatures]float64{1, 2, 3, 0.5, 10, 4, 300, 1, 5, 2.5, 7, 100, 20.5, 30}
		if r := ds.Rows[0]; r.Time != 100 || !r.Label || r.X != want {
			t.Errorf("row 0 = %+v, want time 100, bug, X %v", r, want)
		}
		if r := ds.Rows[1]; r.Time != 200 || r.Label {
			t.Errorf("row 1 = %+v", r)
		}
	})
	t.Run("columns in another order, extra columns, unsorted", func(t *testing.T) {
		in := "sexp,rexp,exp,nuc,age,ndev,fix,lt,ld,la,entrophy,nf,nd,ns,bug,date,note\n" +
			"14,13,12,11,10,9,8,7,6,5,4,3,2,1,0,300,c\n" +
			"14,13,12,11,10,9,8,7,6,5,4,3,2,1,1,100,a\n" +
			"0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,300,d\n" +
			"0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,200,b\n"
		ds, err := ReadCSV(strings.NewReader(in), "x.csv")
		if err != nil {
			t.Fatal(err)
		}
		var times []int64
		for _, r := range ds.Rows {
			times = append(times, r.Time)
		}
		if want := []int64{100, 200, 300, 300}; !slices.Equal(times, want) {
			t.Errorf("times %v, want %v", times, want)
		}
		want := [NumFeatures]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
		if ds.Rows[0].X != want || !ds.Rows[0].Label {
			t.Errorf("row 0 X %v, want %v", ds.Rows[0].X, want)
		}
		if ds.Rows[2].X != want || ds.Rows[3].X != ([NumFeatures]float64{}) {
			t.Errorf("sort is not stable: %v", ds.Rows[2:])
		}
	})
}

func TestReadCSVBad(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"bad number", header +
			"0,aaa,100,1,1,1,2,3,0.5,10,4,300,1,5,2.5,7,100,20.5,30\n" +
			"1,bbb,200,0,0,1,1,1,0,x1,0,10,0,1,0,1,5,1,2\n",
			`x.csv:3:23: bad change data: column "la": want a finite number, got "x1"`},
		{"not finite", header + "1,bbb,200,0,0,1,1,1,0,1,0,10,0,1,NaN,1,5,1,2\n",
			`x.csv:2:34: bad change data: column "age": want a finite number, got "NaN"`},
		{"bad label", header + "1,bbb,200,2,0,1,1,1,0,1,0,10,0,1,0,1,5,1,2\n",
			`x.csv:2:11: bad change data: column "bug": want 0 or 1, got "2"`},
		{"bad date", header + "1,bbb,yesterday,1,0,1,1,1,0,1,0,10,0,1,0,1,5,1,2\n",
			`x.csv:2:7: bad change data: column "date": want unix seconds, got "yesterday"`},
		{"missing columns", "date,bug,ns,nd,nf,la,ld,lt,fix,ndev,age,nuc,exp,rexp\n",
			`x.csv:1: bad change data: missing column(s) entrophy, sexp`},
		{"duplicate column", "date,date\n", `x.csv:1: bad change data: column "date" appears twice`},
		{"short row", header + "1,2,3\n", `x.csv:2:1: bad change data: wrong number of fields`},
		{"empty", "", `x.csv: bad change data: empty file, want a header row`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.in), "x.csv")
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v\nwant    %s", err, tc.want)
			}
			if !errors.Is(err, ErrData) {
				t.Errorf("error is not ErrData")
			}
		})
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add(header + "0,aaa,100,1,1,1,2,3,0.5,10,4,300,1,5,2.5,7,100,20.5,30\n")
	f.Add(header + "1,bbb,2e2,0,0,-1,1,1,0,1,0,10,0,1,0,1,5,1,2\n0,a,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\n")
	f.Add("date,bug\n1,0\n")
	f.Add(`"a""b",date` + "\n")
	f.Fuzz(func(t *testing.T, in string) {
		ds, err := ReadCSV(strings.NewReader(in), "f.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if !sort.SliceIsSorted(ds.Rows, func(a, b int) bool { return ds.Rows[a].Time < ds.Rows[b].Time }) {
			t.Fatal("rows not in time order")
		}
		for _, r := range ds.Rows {
			for _, v := range r.X {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite value in %v", r.X)
				}
			}
		}
	})
}

func TestLoadCSVMissingFile(t *testing.T) {
	_, err := LoadCSV(filepath.Join(t.TempDir(), "nope.csv"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want not-exist", err)
	}
}

func TestTimeSplit(t *testing.T) {
	rows := make([]Row, 10)
	for i := range rows {
		rows[i].Time = int64(i)
	}
	train, test, err := TimeSplit(rows, 0.8)
	if err != nil || len(train) != 8 || len(test) != 2 || train[7].Time != 7 || test[0].Time != 8 {
		t.Fatalf("TimeSplit = %d, %d, %v", len(train), len(test), err)
	}
	for _, frac := range []float64{0, 1, -0.5, math.NaN(), 0.01} {
		if _, _, err := TimeSplit(rows, frac); err == nil {
			t.Errorf("TimeSplit(frac %v): no error", frac)
		}
	}
}

// Kamei et al.'s own files: other column names, a date, and LA, LD, LT,
// NUC normalised; read back to the counts the other files hold.
func TestReadCSVKamei2013(t *testing.T) {
	src := "transactionid,commitdate,ns,nm,nf,entropy,la,ld,lt,fix,ndev,pd,npt,exp,rexp,sexp,bug\n" +
		"3,2001/12/12 17:41,1,1,3,0.5,0.093619972,0.05,480.6666667,1,14,596,0.666666667,143,133.5,129,1\n" +
		"7,1999/10/12 12:57,1,2,1,0,0,0,398,1,1,0,1,140,140,137,0\n"
	ds, err := ReadCSV(strings.NewReader(src), "k.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Rows) != 2 || ds.Rows[0].Time != 939733020 || ds.Rows[0].X[1] != 2 {
		t.Fatalf("rows %+v: want sorted by commitdate, nm read as ND", ds.Rows)
	}
	r := ds.Rows[1] // 2001: three files
	if r.X[6] != 1442 || r.X[featLA] != 135 || r.X[featLD] != 72.1 || r.X[10] != 2 || r.X[9] != 596 || !r.Label {
		t.Errorf("LT %v LA %v LD %v NUC %v AGE %v: want 1442, 135, 72.1, 2, 596", r.X[6], r.X[featLA], r.X[featLD], r.X[10], r.X[9])
	}
	_, err = ReadCSV(strings.NewReader(strings.Replace(src, "2001/12/12 17:41", "12.12.2001", 1)), "k.csv")
	if err == nil || !strings.Contains(err.Error(), `k.csv:2:3: bad change data: column "commitdate": want YYYY/M/D H:MM, got "12.12.2001"`) {
		t.Errorf("bad date: %v, want k.csv:2:3", err)
	}
}
