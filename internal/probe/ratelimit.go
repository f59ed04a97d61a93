package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	rlMaxRequests    = 10000
	rlMaxConcurrency = 256
	rlBodyLimit      = 64 << 10
)

// RateLimitSpec is the `ratelimit` probe's settings: a bounded burst at one
// endpoint (§2.2 "Rate Limiting Test"). The burst stops after requests
// requests, at deadline, or when the checkpoint's timeout cancels it.
type RateLimitSpec struct {
	URL         string            `yaml:"url" json:"url" doc:"endpoint to send the burst to"`
	Method      string            `yaml:"method" json:"method,omitempty" doc:"request method (default GET)"`
	Headers     map[string]string `yaml:"headers" json:"headers,omitempty" doc:"request headers, e.g. an API key the limit is keyed on"`
	Body        string            `yaml:"body" json:"body,omitempty" doc:"request body"`
	Requests    int               `yaml:"requests" json:"requests,omitempty" doc:"number of requests in the burst (default 100, at most 10000)"`
	Rate        float64           `yaml:"rate" json:"rate,omitempty" doc:"requests per second to start; 0 (default) sends as fast as concurrency allows"`
	Concurrency int               `yaml:"concurrency" json:"concurrency,omitempty" doc:"requests in flight at once (default 10, at most 256)"`
	Deadline    time.Duration     `yaml:"deadline" json:"deadline,omitempty" doc:"stop the burst after this long (default 10s)"`
	StopOn429   bool              `yaml:"stop_on_429" json:"stop_on_429,omitempty" doc:"stop sending once the first 429 arrived (default false: send the whole burst)"`

	TLSOptions `yaml:",inline"`
}

func (s *RateLimitSpec) defaults() {
	s.Method = http.MethodGet
	s.Requests = 100
	s.Concurrency = 10
	s.Deadline = 10 * time.Second
}

// Validate implements Spec.
func (s *RateLimitSpec) Validate() error {
	if err := checkURL("url", s.URL); err != nil {
		return err
	}
	if err := checkMethod("method", s.Method); err != nil {
		return err
	}
	if s.Requests < 1 || s.Requests > rlMaxRequests {
		return Fieldf("requests", "must be between 1 and %d, not %d", rlMaxRequests, s.Requests)
	}
	if s.Rate < 0 {
		return Fieldf("rate", "must not be negative")
	}
	if s.Concurrency < 1 || s.Concurrency > rlMaxConcurrency {
		return Fieldf("concurrency", "must be between 1 and %d, not %d", rlMaxConcurrency, s.Concurrency)
	}
	if s.Deadline <= 0 {
		return Fieldf("deadline", "must be positive")
	}
	return nil
}

// RateLimitObservation is what a `ratelimit` probe saw. Order is the order
// in which answers arrived.
type RateLimitObservation struct {
	Sent              int               `json:"sent"`                // requests that got an answer or a transport error
	Unfinished        int               `json:"unfinished"`          // requests cut off in flight by the deadline or stop_on_429
	PassedBefore429   int               `json:"passed_before_429"`   // non-429 answers before the first 429; -1 without a 429
	Limited           int               `json:"limited"`             // 429 answers
	First429At        int               `json:"first_429_at"`        // 0-based index of the first 429 among answers and errors; -1 without one
	First429After     time.Duration     `json:"first_429_after"`     // time from the start of the burst to the first 429; 0 without one
	RetryAfter        string            `json:"retry_after"`         // Retry-After header of the first 429
	RetryAfterSeconds float64           `json:"retry_after_seconds"` // Retry-After in seconds (seconds or HTTP date); -1 when absent or unreadable
	RateLimitHeaders  map[string]string `json:"ratelimit_headers"`   // RateLimit-* and X-RateLimit-* headers (lower-case names) of the first 429, else of the first answer
	Statuses          map[string]int    `json:"statuses"`            // status code -> count
	Errors            int               `json:"errors"`              // transport errors
	DeadlineReached   bool              `json:"deadline_reached"`    // the deadline stopped the burst before it was all sent
	Duration          time.Duration     `json:"duration"`
	AchievedRate      float64           `json:"achieved_rate"` // sent per second
}

func probeRateLimit(ctx context.Context, env Env, s *RateLimitSpec) (RateLimitObservation, error) {
	obs := RateLimitObservation{
		PassedBefore429: -1, First429At: -1, RetryAfterSeconds: -1,
		RateLimitHeaders: map[string]string{}, Statuses: map[string]int{},
	}
	client, err := s.HTTPClient(false, 0)
	if err != nil {
		return obs, err
	}
	defer client.CloseIdleConnections()

	burst, stop := context.WithTimeout(ctx, s.Deadline)
	defer stop()

	var (
		mu       sync.Mutex
		index    int // answers and errors so far
		passed   int // non-429 answers so far
		headerOf = -1
		firstErr error
	)
	start := time.Now()
	record := func(resp *http.Response, err error, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if burst.Err() != nil {
				obs.Unfinished++ // cut off by the deadline, stop_on_429 or ctx
				return
			}
			obs.Errors++
			if firstErr == nil {
				firstErr = err
			}
			index++
			return
		}
		obs.Statuses[strconv.Itoa(resp.StatusCode)]++
		if resp.StatusCode == http.StatusTooManyRequests {
			obs.Limited++
			if obs.First429At < 0 {
				obs.First429At = index
				obs.PassedBefore429 = passed
				obs.First429After = at.Sub(start)
				obs.RetryAfter = resp.Header.Get("Retry-After")
				obs.RetryAfterSeconds = rlRetryAfter(obs.RetryAfter, at)
				if h := rlHeaders(resp.Header); len(h) > 0 {
					obs.RateLimitHeaders = h
				}
				headerOf = http.StatusTooManyRequests
				if s.StopOn429 {
					stop()
				}
			}
		} else {
			passed++
			if headerOf < 0 {
				obs.RateLimitHeaders = rlHeaders(resp.Header)
				headerOf = resp.StatusCode
			}
		}
		index++
	}

	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range min(s.Concurrency, s.Requests) {
		wg.Go(func() {
			for range jobs {
				resp, err := rlOne(burst, client, s)
				record(resp, err, time.Now())
			}
		})
	}

	// Feed the workers, paced by rate when set; stop at the deadline.
feed:
	for i := 0; i < s.Requests; i++ {
		if s.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / s.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-burst.Done():
					t.Stop()
					break feed
				}
			}
		}
		select {
		case jobs <- struct{}{}:
		case <-burst.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()

	obs.Duration = time.Since(start)
	obs.Sent = index
	if errors.Is(burst.Err(), context.DeadlineExceeded) && ctx.Err() == nil && index < s.Requests {
		obs.DeadlineReached = true
	}
	if secs := obs.Duration.Seconds(); secs > 0 {
		obs.AchievedRate = float64(obs.Sent) / secs
	}
	if err := ctx.Err(); err != nil {
		return obs, fmt.Errorf("burst: %w", err)
	}
	if obs.Sent > 0 && obs.Errors == obs.Sent {
		return obs, fmt.Errorf("burst: every request failed: %w", firstErr)
	}
	if obs.Errors > 0 {
		env.logf("%d of %d requests failed; first: %v", obs.Errors, obs.Sent, firstErr)
	}
	return obs, nil
}

// rlOne sends one request and drains its body so the connection is reused.
func rlOne(ctx context.Context, client *http.Client, s *RateLimitSpec) (*http.Response, error) {
	var body io.Reader
	if s.Body != "" {
		body = strings.NewReader(s.Body)
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, s.URL, body)
	if err != nil {
		return nil, err
	}
	setHeaders(req, s.Headers)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, rlBodyLimit))
	resp.Body.Close()
	return resp, nil
}

// rlRetryAfter reads Retry-After as seconds or an HTTP date; -1 if neither.
func rlRetryAfter(v string, now time.Time) float64 {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return n
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now).Seconds()
		if d < 0 {
			d = 0
		}
		return float64(int64(d + 0.5))
	}
	return -1
}

func rlHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "ratelimit") || strings.HasPrefix(lk, "x-ratelimit") || strings.HasPrefix(lk, "x-rate-limit") {
			out[lk] = strings.Join(v, ", ")
		}
	}
	return out
}
