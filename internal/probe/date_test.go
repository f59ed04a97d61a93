package probe

import (
	"context"
	"testing"
	"time"
)

func TestDate(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		date       string
		daysLeft   float64
		past       bool
		wantErrMsg string
	}{
		{date: "2026-03-15", daysLeft: -255.5, past: true}, // the document's SOC 2 expiry
		{date: "2027-01-15", daysLeft: 50.5},               // FIPS 140-2: inside a 90-day window
		{date: "2026-11-25T12:00:00Z", daysLeft: 0, past: true},
		{date: "2026-11-26T00:00:00+02:00", daysLeft: 0.42},
		{date: "TBD", wantErrMsg: `date: "TBD" is not a date (want YYYY-MM-DD or RFC 3339, e.g. 2027-01-15)`},
		{date: "", wantErrMsg: "date: is required (YYYY-MM-DD or RFC 3339)"},
		{date: "2026-13-01", wantErrMsg: `date: "2026-13-01" is not a date (want YYYY-MM-DD or RFC 3339, e.g. 2027-01-15)`},
	} {
		t.Run(tc.date, func(t *testing.T) {
			s := &DateSpec{Date: tc.date, Name: "x", now: func() time.Time { return now }}
			err := s.Validate()
			if tc.wantErrMsg != "" {
				if err == nil || err.Error() != tc.wantErrMsg {
					t.Fatalf("Validate = %v, want %q", err, tc.wantErrMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			obs, err := probeDate(context.Background(), Env{}, s)
			if err != nil {
				t.Fatal(err)
			}
			if obs.DaysLeft != tc.daysLeft || obs.DaysSince != -tc.daysLeft || obs.Past != tc.past || obs.Name != "x" {
				t.Errorf("got %+v, want days_left %v past %v", obs, tc.daysLeft, tc.past)
			}
		})
	}
}
