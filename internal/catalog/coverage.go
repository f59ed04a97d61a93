package catalog

import (
	"slices"
	"sort"

	"github.com/prfhq/prf/internal/checklist"
)

// DocumentClaim is the automated share the source document claims ("85% of
// checks automated"); coverage reports the catalogue's real share next to it.
const DocumentClaim = 0.85

// DomainCount counts one domain's checkpoints.
type DomainCount struct {
	Domain    string `json:"domain"`
	Total     int    `json:"total"`
	Automated int    `json:"automated"`
	Manual    int    `json:"manual"`
}

// ControlCoverage is the checkpoints that evidence one control.
type ControlCoverage struct {
	Control
	Automated []string `json:"automated"`
	Manual    []string `json:"manual"`
}

// Coverage summarises a catalogue: counts by domain, the automated share
// against the document's claim, the document rows it covers, and for each
// control of the table the checkpoints that evidence it.
type Coverage struct {
	Total          int               `json:"total"`
	Automated      int               `json:"automated"`
	Manual         int               `json:"manual"`
	AutomatedShare float64           `json:"automated_share"`
	DocumentClaim  float64           `json:"document_claim"`
	FromDocument   int               `json:"from_document"`   // checkpoints with a source row
	BeyondDocument int               `json:"beyond_document"` // checkpoints the document implies but does not list
	DocumentRows   int               `json:"document_rows"`   // distinct source rows covered
	Domains        []DomainCount     `json:"domains"`
	Controls       []ControlCoverage `json:"controls"`
	// NoAutomated lists controls evidenced only by manual checkpoints;
	// Uncovered those no checkpoint maps to.
	NoAutomated []string `json:"no_automated"`
	Uncovered   []string `json:"uncovered"`
}

// Cover computes the coverage of cl against the controls table.
func Cover(cl *checklist.Checklist, table *Controls) Coverage {
	cov := Coverage{DocumentClaim: DocumentClaim, Domains: []DomainCount{}, Controls: []ControlCoverage{},
		NoAutomated: []string{}, Uncovered: []string{}}
	domains := map[string]*DomainCount{}
	rows := map[string]bool{}
	byControl := map[string]*ControlCoverage{}
	for _, c := range table.List {
		byControl[c.ID] = &ControlCoverage{Control: c, Automated: []string{}, Manual: []string{}}
	}
	for _, cp := range cl.Checkpoints {
		cov.Total++
		d := domains[cp.Domain]
		if d == nil {
			d = &DomainCount{Domain: cp.Domain}
			domains[cp.Domain] = d
		}
		d.Total++
		auto := cp.Manual == nil
		if auto {
			cov.Automated++
			d.Automated++
		} else {
			cov.Manual++
			d.Manual++
		}
		if cp.Source != "" {
			cov.FromDocument++
			rows[cp.Source] = true
		} else {
			cov.BeyondDocument++
		}
		for _, id := range cp.Controls {
			cc := byControl[id]
			if cc == nil {
				continue // not in the table: the catalogue's tests forbid it
			}
			if auto {
				cc.Automated = append(cc.Automated, cp.ID)
			} else {
				cc.Manual = append(cc.Manual, cp.ID)
			}
		}
	}
	cov.DocumentRows = len(rows)
	if cov.Total > 0 {
		cov.AutomatedShare = float64(cov.Automated) / float64(cov.Total)
	}
	for _, name := range checklist.Domains {
		if d := domains[name]; d != nil {
			cov.Domains = append(cov.Domains, *d)
			delete(domains, name)
		}
	}
	rest := make([]string, 0, len(domains))
	for name := range domains {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	for _, name := range rest {
		cov.Domains = append(cov.Domains, *domains[name])
	}
	for _, c := range table.List {
		cc := byControl[c.ID]
		cov.Controls = append(cov.Controls, *cc)
		switch {
		case len(cc.Automated) == 0 && len(cc.Manual) == 0:
			cov.Uncovered = append(cov.Uncovered, c.ID)
		case len(cc.Automated) == 0:
			cov.NoAutomated = append(cov.NoAutomated, c.ID)
		}
	}
	return cov
}

// Filter selects checkpoints by domain, control and tag ("" matches all).
func Filter(cl *checklist.Checklist, domain, control, tag string) []*checklist.Checkpoint {
	var out []*checklist.Checkpoint
	for _, cp := range cl.Checkpoints {
		if domain != "" && cp.Domain != domain {
			continue
		}
		if control != "" && !slices.ContainsFunc(cp.Controls, func(c string) bool { return matchControl(c, control) }) {
			continue
		}
		if tag != "" && !slices.Contains(cp.Tags, tag) {
			continue
		}
		out = append(out, cp)
	}
	return out
}

// matchControl matches a control id exactly, or by framework ("SOC2"), or
// by prefix ("NIST-800-53:AC" matches AC-2 and AC-3).
func matchControl(id, query string) bool {
	if id == query {
		return true
	}
	if len(query) < len(id) && id[:len(query)] == query {
		next := id[len(query)]
		return next == ':' || next == '-' || next == '.'
	}
	return false
}
