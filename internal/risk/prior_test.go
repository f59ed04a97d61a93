package risk

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData is ../shared/data beside the repository.
const sharedData = "../../../shared/data"

// The embedded prior is what prf risk train makes of the public data,
// byte for byte: anyone can regenerate it and see it is not hand-tuned.
func TestPriorIsReproducible(t *testing.T) {
	var paths []string
	for _, f := range PriorFiles {
		p := filepath.Join(sharedData, f)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("public data not here: %v", err)
		}
		paths = append(paths, p)
	}
	if testing.Short() || raceEnabled {
		t.Skip("trains on 61,000 changes: run without -short and -race")
	}
	tr, err := TrainFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, PriorBytes()) {
		t.Errorf("training on %v gives %d bytes that differ from the embedded prior (%d bytes): run make prior and commit internal/risk/prior.json", PriorFiles, len(got), len(PriorBytes()))
	}
}

func TestPriorLoads(t *testing.T) {
	p, err := Prior()
	if err != nil {
		t.Fatal(err)
	}
	if p.Model.Kind != ModelEns || !p.Model.Ranked || len(p.Sources) != len(PriorFiles) {
		t.Errorf("prior: kind %s ranked %v, %d sources", p.Model.Kind, p.Model.Ranked, len(p.Sources))
	}
	if !(0 < p.Levels.Medium && p.Levels.Medium < p.Levels.High && p.Levels.High < 1) {
		t.Errorf("levels %+v", p.Levels)
	}
	for _, tc := range []struct {
		p    float64
		want string
	}{{0, "low"}, {p.Levels.Medium, "medium"}, {p.Levels.High - 1e-9, "medium"}, {p.Levels.High, "high"}, {1, "high"}} {
		if got := p.Levels.Level(tc.p); got != tc.want {
			t.Errorf("Level(%v) = %s, want %s", tc.p, got, tc.want)
		}
	}
}

func TestParseTrainedRefusesBrokenFiles(t *testing.T) {
	good := string(PriorBytes())
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"other format", `"format": 1`, `"format": 2`, "format 2"},
		{"unknown field", `"format": 1`, `"format": 1, "extra": 0`, "unknown field"},
		{"truncated", good[len(good)/2:], "", "model file"},
		{"child out of range", `"l": 1,`, `"l": 99999,`, "out of range"},
		{"feature out of range", `"f": 0,`, `"f": 14,`, "out of range"},
		{"unknown field in place of the model", `"model": {`, `"model": null, "x": {`, "unknown field"},
		{"no model", good, `{"format": 1}`, "model: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.from) {
				t.Fatalf("the prior has no %q", tc.from)
			}
			src := strings.Replace(good, tc.from, tc.to, 1)
			_, err := ParseTrained([]byte(src), "m.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "m.json: ") {
				t.Errorf("err %v, want m.json: …%s…", err, tc.want)
			}
		})
	}
}

func FuzzParseTrained(f *testing.F) {
	f.Add([]byte(`{"format":1,"model":{"kind":"lr","lr":{"coef":[1]},"platt":{}}}`))
	f.Add([]byte(`{"format":1,"model":{"kind":"gbdt","gbdt":{"trees":[{"nodes":[{"f":0,"l":1,"r":2},{"f":-1},{"f":-1}]}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ParseTrained(b, "fuzz")
		if err != nil {
			return
		}
		var x [NumFeatures]float64
		_ = tr.Model.Prob(&x) // a model that parses predicts without a panic
		tr.Model.Explain(&x)
	})
}
