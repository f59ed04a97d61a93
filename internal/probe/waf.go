package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	wafMaxConcurrency = 64
	wafBodyLimit      = 64 << 10
	wafListLimit      = 20
)

// WAFSpec is the `waf` probe's settings: the built-in corpus of malicious
// requests (and benign controls) sent to one endpoint (§2.2 "WAF Rules
// Test"). The probe connects to url only.
type WAFSpec struct {
	URL             string            `yaml:"url" json:"url" doc:"endpoint behind the WAF to send the corpus to"`
	Method          string            `yaml:"method" json:"method,omitempty" doc:"method for payloads in the query, path and headers (default GET)"`
	BodyMethod      string            `yaml:"body_method" json:"body_method,omitempty" doc:"method for payloads in a body (default POST)"`
	Param           string            `yaml:"param" json:"param,omitempty" doc:"query or body field for payloads that name none of their own (default q)"`
	Headers         map[string]string `yaml:"headers" json:"headers,omitempty" doc:"headers sent with every request, e.g. a token to get past authentication to the WAF rules"`
	Classes         []string          `yaml:"classes" json:"classes,omitempty" doc:"attack classes to send: sqli, xss, path_traversal, command_injection, ssrf, jndi (default all)"`
	BlockedStatuses []string          `yaml:"blocked_statuses" json:"blocked_statuses,omitempty" doc:"status codes that mean blocked, e.g. [\"403\", \"406\"] or \"403,406\" (default 403 and 406; 429 is not a block)"`
	BlockMarker     string            `yaml:"block_marker" json:"block_marker,omitempty" doc:"text in a response body that also means blocked (for WAFs that answer 200 with a block page)"`
	ErrorsAreBlocks bool              `yaml:"errors_are_blocks" json:"errors_are_blocks,omitempty" doc:"count a reset or dropped connection as blocked (default false: counted in errors only)"`
	IncludeBenign   bool              `yaml:"include_benign" json:"include_benign" doc:"send the benign controls to measure false positives (default true)"`
	Concurrency     int               `yaml:"concurrency" json:"concurrency,omitempty" doc:"requests in flight at once (default 4, at most 64)"`
	Timeout         time.Duration     `yaml:"timeout" json:"timeout,omitempty" doc:"limit for each request (default: the checkpoint's timeout)"`

	TLSOptions `yaml:",inline"`
}

func (s *WAFSpec) defaults() {
	s.Method = http.MethodGet
	s.BodyMethod = http.MethodPost
	s.Param = "q"
	s.IncludeBenign = true
	s.Concurrency = 4
}

// Validate implements Spec.
func (s *WAFSpec) Validate() error {
	if err := checkURL("url", s.URL); err != nil {
		return err
	}
	if err := checkMethod("method", s.Method); err != nil {
		return err
	}
	if err := checkMethod("body_method", s.BodyMethod); err != nil {
		return err
	}
	if s.Param == "" {
		return Fieldf("param", "must not be empty")
	}
	known := wafClasses()
	for i, c := range s.Classes {
		if !slices.Contains(known, c) {
			return Fieldf(fmt.Sprintf("classes[%d]", i), "unknown class %q (known: %s)", c, strings.Join(known, ", "))
		}
	}
	if _, err := wafStatuses(s.BlockedStatuses); err != nil {
		return Fieldf("blocked_statuses", "%v", err)
	}
	if s.Concurrency < 1 || s.Concurrency > wafMaxConcurrency {
		return Fieldf("concurrency", "must be between 1 and %d, not %d", wafMaxConcurrency, s.Concurrency)
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// WAFObservation is what a `waf` probe saw.
type WAFObservation struct {
	Classes           map[string]WAFClass `json:"classes"`             // per attack class sent
	Sent              int                 `json:"sent"`                // malicious requests sent
	Blocked           int                 `json:"blocked"`             // malicious requests blocked
	BlockRate         float64             `json:"block_rate"`          // blocked / sent over all classes (0 when none sent)
	BenignSent        int                 `json:"benign_sent"`         // benign controls sent
	BenignBlocked     int                 `json:"benign_blocked"`      // benign controls blocked
	FalsePositiveRate float64             `json:"false_positive_rate"` // benign_blocked / benign_sent (0 when none sent)
	Missed            []string            `json:"missed"`              // up to 20 "class: payload-id" not blocked, taken from each class in turn
	FalsePositives    []string            `json:"false_positives"`     // up to 20 benign payload ids blocked
	Statuses          map[string]int      `json:"statuses"`            // status code -> count, all requests
	Errors            int                 `json:"errors"`              // transport errors (resets, timeouts)
	Duration          time.Duration       `json:"duration"`
}

// WAFClass is one attack class's tally.
type WAFClass struct {
	Sent      int     `json:"sent"`
	Blocked   int     `json:"blocked"`
	Errors    int     `json:"errors"`
	BlockRate float64 `json:"block_rate"`
}

type wafResult struct {
	status  int
	err     error
	blocked bool
}

func probeWAF(ctx context.Context, env Env, s *WAFSpec) (WAFObservation, error) {
	obs := WAFObservation{
		Classes: map[string]WAFClass{}, Statuses: map[string]int{},
		Missed: []string{}, FalsePositives: []string{},
	}
	base, err := url.Parse(s.URL)
	if err != nil {
		return obs, fmt.Errorf("url: %w", err)
	}
	blockedStatus, err := wafStatuses(s.BlockedStatuses)
	if err != nil {
		return obs, fmt.Errorf("blocked_statuses: %w", err)
	}
	client, err := s.HTTPClient(false, 0)
	if err != nil {
		return obs, err
	}
	defer client.CloseIdleConnections()

	corpus := wafSelect(wafCorpus(), s.Classes, s.IncludeBenign)
	results := make([]wafResult, len(corpus))
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(s.Concurrency, len(corpus)) {
		wg.Go(func() {
			for i := range next {
				results[i] = wafSend(ctx, client, s, base, corpus[i], blockedStatus)
			}
		})
	}
feed:
	for i := range corpus {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	obs.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		return obs, fmt.Errorf("corpus: %w", err)
	}

	var firstErr error
	missed := map[string][]string{}
	for i, p := range corpus {
		r := results[i]
		if r.err != nil {
			obs.Errors++
			if firstErr == nil {
				firstErr = fmt.Errorf("%s %s: %w", p.Class, p.ID, r.err)
			}
		} else {
			obs.Statuses[strconv.Itoa(r.status)]++
		}
		if p.Class == wafBenign {
			obs.BenignSent++
			if r.blocked {
				obs.BenignBlocked++
				if len(obs.FalsePositives) < wafListLimit {
					obs.FalsePositives = append(obs.FalsePositives, p.ID)
				}
			}
			continue
		}
		c := obs.Classes[p.Class]
		c.Sent++
		obs.Sent++
		if r.err != nil {
			c.Errors++
		}
		if r.blocked {
			c.Blocked++
			obs.Blocked++
		} else {
			missed[p.Class] = append(missed[p.Class], p.Class+": "+p.ID)
		}
		obs.Classes[p.Class] = c
	}
	if obs.Errors == len(corpus) && firstErr != nil {
		return obs, fmt.Errorf("every request failed; first: %w", firstErr)
	}
	if obs.Errors > 0 {
		env.logf("%d of %d requests failed; first: %v", obs.Errors, len(corpus), firstErr)
	}
	for name, c := range obs.Classes {
		c.BlockRate = wafRate(c.Blocked, c.Sent)
		obs.Classes[name] = c
	}
	obs.Missed = wafInterleave(missed, wafListLimit)
	obs.BlockRate = wafRate(obs.Blocked, obs.Sent)
	obs.FalsePositiveRate = wafRate(obs.BenignBlocked, obs.BenignSent)
	return obs, nil
}

func wafRate(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// wafInterleave takes one entry per class in turn (in wafClasses order)
// until limit, so that every class with misses shows in the list.
func wafInterleave(byClass map[string][]string, limit int) []string {
	out := []string{}
	for round := 0; len(out) < limit; round++ {
		took := false
		for _, c := range wafClasses() {
			if round < len(byClass[c]) && len(out) < limit {
				out = append(out, byClass[c][round])
				took = true
			}
		}
		if !took {
			break
		}
	}
	return out
}

// wafSelect keeps the chosen classes (all when none named) and the benign
// controls when asked.
func wafSelect(corpus []wafPayload, classes []string, benign bool) []wafPayload {
	out := corpus[:0:0]
	for _, p := range corpus {
		switch {
		case p.Class == wafBenign:
			if benign {
				out = append(out, p)
			}
		case len(classes) == 0 || slices.Contains(classes, p.Class):
			out = append(out, p)
		}
	}
	return out
}

// wafStatuses parses blocked_statuses; each element may be a comma list.
func wafStatuses(list []string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, item := range list {
		for _, f := range strings.Split(item, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil || n < 100 || n > 599 {
				return nil, fmt.Errorf("%q is not an HTTP status code", f)
			}
			out[n] = true
		}
	}
	if len(out) == 0 {
		out[http.StatusForbidden] = true
		out[http.StatusNotAcceptable] = true
	}
	return out, nil
}

func wafSend(ctx context.Context, client *http.Client, s *WAFSpec, base *url.URL, p wafPayload, blocked map[int]bool) wafResult {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	req, err := wafRequest(ctx, s, base, p)
	if err != nil {
		return wafResult{err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return wafResult{err: err, blocked: s.ErrorsAreBlocks && ctx.Err() == nil}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, wafBodyLimit))
	r := wafResult{status: resp.StatusCode, blocked: blocked[resp.StatusCode]}
	if !r.blocked && s.BlockMarker != "" && bytes.Contains(body, []byte(s.BlockMarker)) {
		r.blocked = true
	}
	return r
}

// wafRequest places one payload in a request to base.
func wafRequest(ctx context.Context, s *WAFSpec, base *url.URL, p wafPayload) (*http.Request, error) {
	name := p.Name
	if name == "" {
		name = s.Param
	}
	method := s.Method
	target := base.String()
	var body []byte
	var ctype string
	switch p.Place {
	case wafInQuery:
		u := *base
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += url.QueryEscape(name) + "=" + url.QueryEscape(p.Value)
		target = u.String()
	case wafInPath:
		target = base.Scheme + "://" + base.Host + strings.TrimSuffix(base.EscapedPath(), "/") + "/" + p.Value
		if base.RawQuery != "" {
			target += "?" + base.RawQuery
		}
	case wafInHeader:
	case wafInJSON:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // the WAF must see <script>, not \u003cscript\u003e
		if err := enc.Encode(map[string]string{name: p.Value}); err != nil {
			return nil, err
		}
		method, body, ctype = s.BodyMethod, bytes.TrimSpace(buf.Bytes()), "application/json"
	case wafInForm:
		method, body, ctype = s.BodyMethod, []byte(url.QueryEscape(name)+"="+url.QueryEscape(p.Value)), "application/x-www-form-urlencoded"
	case wafInRawJSON:
		method, body, ctype = s.BodyMethod, []byte(p.Value), "application/json"
	default:
		return nil, fmt.Errorf("payload %s: unknown placement %q", p.ID, p.Place)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	setHeaders(req, s.Headers)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if p.Place == wafInHeader {
		req.Header.Set(name, p.Value)
	}
	return req, nil
}
