package runner

import (
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// redactor replaces secret values in everything a run stores or prints.
type redactor struct {
	r *strings.Replacer
}

const redacted = "[REDACTED]"

func newRedactor(secrets []string) *redactor {
	// Longest first, so a secret that contains another is replaced whole.
	s := append([]string(nil), secrets...)
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	var pairs []string
	seen := map[string]bool{}
	for _, v := range s {
		if len(v) < 4 {
			// Too short to redact without mangling ordinary text; such a
			// secret is weak anyway, and lint could say so.
			continue
		}
		// The secret as written, and as URLs, JSON and Go quoting escape
		// it (a secret in a URL path is stored percent-encoded).
		quoted := strconv.Quote(v)
		js, _ := json.Marshal(v)
		for _, form := range []string{v, url.PathEscape(v), url.QueryEscape(v), quoted[1 : len(quoted)-1], string(js[1 : len(js)-1])} {
			if !seen[form] {
				seen[form] = true
				pairs = append(pairs, form, redacted)
			}
		}
	}
	if len(pairs) == 0 {
		return &redactor{}
	}
	return &redactor{r: strings.NewReplacer(pairs...)}
}

func (r *redactor) String(s string) string {
	if r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Strings redacts every string inside v (map keys too) and keeps every
// other value as it is.
func (r *redactor) Strings(v any) any {
	switch x := v.(type) {
	case string:
		return r.String(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.String(k)] = r.Strings(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.Strings(e)
		}
		return out
	}
	return v
}

// Value redacts every string inside a flattened observation, map keys too,
// and turns it into plain JSON-ready values (durations as strings).
func (r *redactor) Value(v any) any {
	switch x := v.(type) {
	case string:
		return r.String(x)
	case time.Duration:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.String(k)] = r.Value(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.Value(e)
		}
		return out
	}
	return v
}
