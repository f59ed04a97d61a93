// Package rollout will hold the deploy pipeline and its rollback rules.
// For now it holds the deployment history's import format: the CSV file
// that prf deployments import reads into store.Deployment records, which
// the risk model learns from.
package rollout

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prfhq/prf/internal/store"
	"github.com/prfhq/prf/internal/yamlx"
)

// OutcomeChoices reads "success, rolled_back, incident or unknown".
func OutcomeChoices() string {
	n := len(store.Outcomes)
	return strings.Join(store.Outcomes[:n-1], ", ") + " or " + store.Outcomes[n-1]
}

// ParseOutcome accepts an outcome in any case.
func ParseOutcome(s string) (string, error) {
	o := strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(store.Outcomes, o) {
		return "", fmt.Errorf("want %s, got %q", OutcomeChoices(), s)
	}
	return o, nil
}

// TimeLayout is the third form a deployment time may take, read as UTC,
// and the one lists print.
const TimeLayout = "2006-01-02 15:04:05"

// ParseDeployTime reads RFC 3339, unix seconds, or 2006-01-02 15:04:05 in
// UTC; the time comes back in UTC.
func ParseDeployTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(TimeLayout, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 253402300800 { // before year 10000
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("want RFC 3339 (2026-11-25T19:30:12Z), unix seconds or %s (UTC), got %q", TimeLayout, s)
}

// csvColumns are the columns of an import file, and whether each must be
// there; env is another name for environment.
var csvColumns = []struct {
	name     string
	required bool
}{
	{"service", true}, {"environment", true}, {"from_rev", false}, {"to_rev", true},
	{"time", true}, {"outcome", true}, {"run_id", false}, {"note", false}, {"id", false},
}

// ReadDeploymentsCSV reads an import file and reports every problem in it
// (yamlx.Errors, each at FILE:LINE:COL). idPos is where each id given in
// the file stands.
func ReadDeploymentsCSV(name string, r io.Reader) (ds []store.Deployment, idPos map[string]yamlx.Pos, err error) {
	var errs yamlx.Errors
	at := func(line, col int, field, format string, args ...any) {
		errs.Add(&yamlx.Error{File: name, Line: line, Col: col, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err == io.EOF {
		at(1, 1, "", "empty file: want a header row naming the columns (service, environment, to_rev, time, outcome, …)")
		return nil, nil, errs
	}
	if err != nil {
		return nil, nil, csvError(name, err)
	}
	for i, h := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	col, ok := csvHeader(header, func(c int, format string, args ...any) {
		line, column := cr.FieldPos(c)
		at(line, column, "", format, args...)
	})
	if !ok {
		return nil, nil, errs.Err()
	}

	idPos = map[string]yamlx.Pos{}
	ds = []store.Deployment{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
			at(pe.StartLine, 1, "", "%d fields, want %d as in the header", len(rec), len(header))
			continue
		}
		if err != nil {
			return nil, nil, errors.Join(errs.Err(), csvError(name, err))
		}
		cell := func(column string) (string, yamlx.Pos) {
			c, ok := col[column]
			if !ok {
				return "", yamlx.Pos{}
			}
			var p yamlx.Pos
			p.Line, p.Col = cr.FieldPos(c)
			return strings.TrimSpace(rec[c]), p
		}
		// Errors name the column as the header writes it.
		bad := func(p yamlx.Pos, column, format string, args ...any) {
			at(p.Line, p.Col, fmt.Sprintf("column %q", header[col[column]]), format, args...)
		}
		var dep store.Deployment
		for _, f := range []struct {
			name string
			dst  *string
		}{{"service", &dep.Service}, {"environment", &dep.Environment}, {"to_rev", &dep.ToRev}} {
			v, p := cell(f.name)
			if v == "" {
				bad(p, f.name, "want a value, got %q", v)
			}
			*f.dst = v
		}
		dep.FromRev, _ = cell("from_rev")
		dep.RunID, _ = cell("run_id")
		dep.Note, _ = cell("note")
		v, p := cell("time")
		if dep.Time, err = ParseDeployTime(v); err != nil {
			bad(p, "time", "%v", err)
		}
		v, p = cell("outcome")
		if dep.Outcome, err = ParseOutcome(v); err != nil {
			bad(p, "outcome", "%v", err)
		}
		if id, p := cell("id"); id != "" {
			if prev, dup := idPos[id]; dup {
				bad(p, "id", "%q is also the id on line %d", id, prev.Line)
			} else {
				idPos[id] = p
			}
			dep.ID = id
		}
		ds = append(ds, dep)
	}
	if err := errs.Err(); err != nil {
		return nil, nil, err
	}
	return ds, idPos, nil
}

// csvHeader maps each column an import knows to its index, reporting
// unknown, repeated and missing columns through bad (c is the header
// field). ok is false when there was any.
func csvHeader(header []string, bad func(c int, format string, args ...any)) (col map[string]int, ok bool) {
	known := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		known[i] = c.name
	}
	ok = true
	col = map[string]int{}
	for c, h := range header {
		name := strings.ToLower(h)
		if name == "env" {
			name = "environment"
		}
		switch _, seen := col[name]; {
		case !slices.Contains(known, name):
			bad(c, "unknown column %q%s: want %s", h, yamlx.Suggest(name, known), strings.Join(known, ", "))
			ok = false
		case seen:
			bad(c, "column %q again (env and environment are the same column)", h)
			ok = false
		default:
			col[name] = c
		}
	}
	var missing []string
	for _, c := range csvColumns {
		if _, there := col[c.name]; c.required && !there {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		bad(0, "missing column(s) %s", strings.Join(missing, ", "))
		ok = false
	}
	return col, ok
}

// csvError places a CSV syntax error (a stray quote) in the file.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return yamlx.Errors{{File: name, Line: pe.Line, Col: pe.Column, Msg: pe.Err.Error()}}
	}
	return fmt.Errorf("%s: %w", name, err)
}
