package probe

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// DateSpec is the `date` probe's settings. It judges a date that is data
// rather than something a server reports: a certification's expiry, the day
// of the last restore test, a contract's end. The date is usually a variable,
// so a team records it once and every run judges it against the clock.
type DateSpec struct {
	Date string `yaml:"date" json:"date" doc:"the date: YYYY-MM-DD (midnight UTC) or RFC 3339"`
	Name string `yaml:"name" json:"name,omitempty" doc:"what the date is, echoed in the observation (e.g. SOC 2 Type II expiry)"`

	now func() time.Time // for tests; nil means time.Now
}

// Validate implements Spec.
func (s *DateSpec) Validate() error {
	if strings.TrimSpace(s.Date) == "" {
		return Fieldf("date", "is required (YYYY-MM-DD or RFC 3339)")
	}
	if _, err := parseDate(s.Date); err != nil {
		return Fieldf("date", "%v", err)
	}
	return nil
}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD or RFC 3339, e.g. 2027-01-15)", s)
}

// DateObservation is what a `date` probe saw.
type DateObservation struct {
	Name string `json:"name"`
	// Date is the date as RFC 3339.
	Date string `json:"date"`
	// DaysLeft is the days from now to the date, fractional; negative once
	// it is past.
	DaysLeft float64 `json:"days_left"`
	// DaysSince is -DaysLeft: the age of a past date in days.
	DaysSince float64 `json:"days_since"`
	Past      bool    `json:"past"`
}

func probeDate(_ context.Context, env Env, s *DateSpec) (DateObservation, error) {
	t, err := parseDate(s.Date)
	if err != nil {
		return DateObservation{}, err
	}
	now := time.Now()
	if s.now != nil {
		now = s.now()
	}
	days := t.Sub(now).Hours() / 24
	days = math.Round(days*100) / 100
	obs := DateObservation{Name: s.Name, Date: t.UTC().Format(time.RFC3339), DaysLeft: days, DaysSince: 0 - days, Past: !t.After(now)}
	env.logf("%s: %s, %.2f days from now", orDefault(s.Name, "date"), obs.Date, days)
	return obs, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
