package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/prfhq/prf/internal/loadtest"
	"github.com/prfhq/prf/internal/secretref"
	"github.com/prfhq/prf/internal/yamlx"
)

// LoadTestSpec is the `loadtest` probe's settings: a scenario, from a file
// or written inline, run by PRF's load engine. The observation is the
// end-of-test summary, so expect can read any metric (latency_ms.p95,
// failed_rate, rps, checks_rate, dropped_iterations, steps, stages) or
// simply thresholds_ok. Give the checkpoint a timeout longer than the test.
type LoadTestSpec struct {
	File      string             `yaml:"file" json:"file,omitempty" doc:"scenario file (see prf loadtest --help)"`
	Scenario  *loadtest.Scenario `yaml:"scenario" json:"scenario,omitempty" doc:"the scenario written inline, instead of file"`
	Vars      map[string]string  `yaml:"vars" json:"vars,omitempty" doc:"values for the scenario file's variables (like --var)"`
	Scale     float64            `yaml:"scale" json:"scale,omitempty" doc:"multiply the scenario's durations by this factor (like --scale)"`
	LoadScale float64            `yaml:"load_scale" json:"load_scale,omitempty" doc:"multiply the scenario's load (VUs, targets, rates) by this factor (like --load-scale)"`
}

// Validate implements Spec.
func (s *LoadTestSpec) Validate() error {
	if (s.File == "") == (s.Scenario == nil) {
		return Fieldf("file", "give a scenario file or an inline scenario (exactly one)")
	}
	if s.Scale < 0 || s.LoadScale < 0 {
		return Fieldf("scale", "must not be negative")
	}
	if s.Scenario != nil {
		s.Scenario.Scale(s.Scale, s.LoadScale)
		if err := s.Scenario.Validate(); err != nil {
			var fe *loadtest.FieldError
			if errors.As(err, &fe) {
				return Fieldf("scenario."+fe.Field, "%s", fe.Msg)
			}
			return Fieldf("scenario", "%v", err)
		}
		return nil
	}
	if _, err := s.load(nil); err != nil {
		return Fieldf("file", "%v", err)
	}
	return nil
}

func (s *LoadTestSpec) load(secrets func(string) (string, error)) (*loadtest.Scenario, error) {
	data, err := os.ReadFile(s.File)
	if err != nil {
		return nil, err
	}
	sc, err := loadtest.Parse(s.File, data, loadtest.LoadOptions{Vars: s.Vars, Secrets: secrets})
	if err != nil {
		var ye yamlx.Errors
		if errors.As(err, &ye) {
			return nil, errors.New(strings.ReplaceAll(ye.Error(), "\n", "; "))
		}
		return nil, err
	}
	sc.Scale(s.Scale, s.LoadScale)
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("%s: after scale: %w", s.File, err)
	}
	return sc, nil
}

func probeLoadTest(ctx context.Context, env Env, s *LoadTestSpec) (loadtest.Summary, error) {
	sc := s.Scenario
	if sc == nil {
		var err error
		sc, err = s.load(secretref.Resolve)
		if err != nil {
			return loadtest.Summary{}, err
		}
	}
	env.logf("load test %s: %s for %s", sc.Name, sc.Executor, sc.TotalDuration())
	_, sum, err := loadtest.Run(ctx, sc, loadtest.Options{})
	if sum == nil {
		return loadtest.Summary{}, err
	}
	sum.Timeline = nil
	for _, t := range sum.Thresholds {
		mark := "ok"
		if !t.OK {
			mark = "FAILED"
		}
		env.logf("threshold %s %s [%s]: %.4g %s", t.Metric, t.Threshold, t.Scope, t.Value, mark)
	}
	if sum.Aborted != "" {
		env.logf("stopped early: %s", sum.Aborted)
	}
	if err != nil {
		return *sum, fmt.Errorf("load test cut short after %.1fs: %w", sum.DurationS, err)
	}
	return *sum, nil
}
