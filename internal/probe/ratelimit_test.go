package probe

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rlBucket is a token bucket with no refill during a test: the first size
// requests pass, every later one gets 429 with Retry-After.
type rlBucket struct {
	size       int
	retryAfter string        // Retry-After value; "date" writes an HTTP date 2 minutes ahead
	delay      time.Duration // time each request takes
	mu         sync.Mutex
	served     int
	headers    []string
}

func (b *rlBucket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.delay > 0 {
		select {
		case <-time.After(b.delay):
		case <-r.Context().Done():
			return
		}
	}
	b.mu.Lock()
	b.served++
	n := b.served
	b.headers = append(b.headers, r.Header.Get("X-Api-Key"))
	b.mu.Unlock()
	if b.size <= 0 {
		_, _ = w.Write([]byte("ok"))
		return
	}
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(b.size))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(b.size-n, 0)))
	if n <= b.size {
		_, _ = w.Write([]byte("ok"))
		return
	}
	switch b.retryAfter {
	case "":
	case "date":
		w.Header().Set("Retry-After", time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat))
	default:
		w.Header().Set("Retry-After", b.retryAfter)
	}
	w.WriteHeader(http.StatusTooManyRequests)
}

func rlNewSpec(t *testing.T) *RateLimitSpec {
	t.Helper()
	_, s := registrySpec[*RateLimitSpec](t, "ratelimit")
	return s
}

func TestRateLimitProbe(t *testing.T) {
	tests := []struct {
		name   string
		bucket *rlBucket
		tls    bool
		spec   func(s *RateLimitSpec)
		check  func(t *testing.T, obs RateLimitObservation, b *rlBucket)
	}{
		{
			name:   "bucket of 20, one at a time",
			bucket: &rlBucket{size: 20, retryAfter: "30"},
			spec:   func(s *RateLimitSpec) { s.Requests, s.Concurrency = 50, 1 },
			check: func(t *testing.T, obs RateLimitObservation, b *rlBucket) {
				rlExpect(t, "sent", obs.Sent, 50)
				rlExpect(t, "passed_before_429", obs.PassedBefore429, 20)
				rlExpect(t, "first_429_at", obs.First429At, 20)
				rlExpect(t, "limited", obs.Limited, 30)
				rlExpect(t, "errors", obs.Errors, 0)
				rlExpect(t, "unfinished", obs.Unfinished, 0)
				if obs.RetryAfter != "30" || obs.RetryAfterSeconds != 30 {
					t.Errorf("retry_after %q (%v s), want 30", obs.RetryAfter, obs.RetryAfterSeconds)
				}
				if want := map[string]int{"200": 20, "429": 30}; !maps.Equal(obs.Statuses, want) {
					t.Errorf("statuses = %v, want %v", obs.Statuses, want)
				}
				if want := map[string]string{"x-ratelimit-limit": "20", "x-ratelimit-remaining": "0"}; !maps.Equal(obs.RateLimitHeaders, want) {
					t.Errorf("ratelimit_headers = %v, want %v", obs.RateLimitHeaders, want)
				}
				if obs.DeadlineReached || obs.First429After <= 0 || obs.First429After > obs.Duration || obs.AchievedRate <= 0 {
					t.Errorf("deadline_reached %v, first_429_after %v, duration %v, achieved_rate %v", obs.DeadlineReached, obs.First429After, obs.Duration, obs.AchievedRate)
				}
				if b.served != 50 {
					t.Errorf("server saw %d requests, want 50", b.served)
				}
			},
		},
		{
			name:   "bucket of 20, eight at a time",
			bucket: &rlBucket{size: 20, retryAfter: "30"},
			spec:   func(s *RateLimitSpec) { s.Requests, s.Concurrency = 50, 8 },
			check: func(t *testing.T, obs RateLimitObservation, b *rlBucket) {
				rlExpect(t, "sent", obs.Sent, 50)
				rlExpect(t, "limited", obs.Limited, 30)
				// Answers may arrive out of server order, by at most the
				// requests in flight.
				if obs.PassedBefore429 < 20-7 || obs.PassedBefore429 > 20 || obs.First429At != obs.PassedBefore429 {
					t.Errorf("passed_before_429 %d, first_429_at %d", obs.PassedBefore429, obs.First429At)
				}
				if want := map[string]int{"200": 20, "429": 30}; !maps.Equal(obs.Statuses, want) {
					t.Errorf("statuses = %v, want %v", obs.Statuses, want)
				}
			},
		},
		{
			name:   "no limit",
			bucket: &rlBucket{},
			spec:   func(s *RateLimitSpec) { s.Requests = 100 },
			check: func(t *testing.T, obs RateLimitObservation, b *rlBucket) {
				rlExpect(t, "sent", obs.Sent, 100)
				rlExpect(t, "limited", obs.Limited, 0)
				rlExpect(t, "passed_before_429", obs.PassedBefore429, -1)
				rlExpect(t, "first_429_at", obs.First429At, -1)
				if obs.RetryAfter != "" || obs.RetryAfterSeconds != -1 || obs.First429After != 0 {
					t.Errorf("retry_after %q (%v s), first_429_after %v", obs.RetryAfter, obs.RetryAfterSeconds, obs.First429After)
				}
				if want := map[string]int{"200": 100}; !maps.Equal(obs.Statuses, want) {
					t.Errorf("statuses = %v, want %v", obs.Statuses, want)
				}
				if len(obs.RateLimitHeaders) != 0 {
					t.Errorf("ratelimit_headers = %v", obs.RateLimitHeaders)
				}
			},
		},
		{
			name:   "stop_on_429",
			bucket: &rlBucket{size: 5},
			spec:   func(s *RateLimitSpec) { s.Requests, s.Concurrency, s.StopOn429 = 1000, 1, true },
			check: func(t *testing.T, obs RateLimitObservation, b *rlBucket) {
				rlExpect(t, "sent", obs.Sent, 6)
				rlExpect(t, "limited", obs.Limited, 1)
				rlExpect(t, "passed_before_429", obs.PassedBefore429, 5)
				if obs.RetryAfter != "" || obs.RetryAfterSeconds != -1 {
					t.Errorf("retry_after %q (%v s), want none", obs.RetryAfter, obs.RetryAfterSeconds)
				}
				if obs.DeadlineReached || obs.Unfinished > 1 {
					t.Errorf("deadline_reached %v, unfinished %d", obs.DeadlineReached, obs.Unfinished)
				}
			},
		},
		{
			name:   "retry-after as http date",
			bucket: &rlBucket{size: 1, retryAfter: "date"},
			spec:   func(s *RateLimitSpec) { s.Requests, s.Concurrency = 3, 1 },
			check: func(t *testing.T, obs RateLimitObservation, b *rlBucket) {
				rlExpect(t, "limited", obs.Limited, 2)
				if obs.RetryAfterSeconds < 118 || obs.RetryAfterSeconds > 121 {
					t.Errorf("retry_after_seconds = %v (%q), want about 120", obs.RetryAfterSeconds, obs.RetryAfter)
				}
			},
		},
		{
			name:   "paced by rate",
			bucket: &rlBucket{},
			spec:   func(s *RateLimitSpec) { s.Requests, s.Rate = 20, 50 },
			check: func(t *testing.T, obs RateLimitObservation, b *rlBucket) {
				rlExpect(t, "sent", obs.Sent, 20)
				if obs.Duration < 370*time.Millisecond || obs.AchievedRate > 55 {
					t.Errorf("duration %v, achieved_rate %.1f: not paced at 50/s", obs.Duration, obs.AchievedRate)
				}
			},
		},
		{
			name:   "deadline stops the burst",
			bucket: &rlBucket{delay: 50 * time.Millisecond},
			spec:   func(s *RateLimitSpec) { s.Requests, s.Concurrency, s.Deadline = 1000, 2, 300*time.Millisecond },
			check: func(t *testing.T, obs RateLimitObservation, b *rlBucket) {
				if !obs.DeadlineReached || obs.Sent >= 1000 || obs.Sent < 4 || obs.Errors != 0 {
					t.Errorf("deadline_reached %v, sent %d, errors %d", obs.DeadlineReached, obs.Sent, obs.Errors)
				}
				if obs.Duration > time.Second {
					t.Errorf("duration %v, want about 300ms", obs.Duration)
				}
			},
		},
		{
			name:   "headers sent with every request, over tls",
			bucket: &rlBucket{size: 10, retryAfter: "1"},
			tls:    true,
			spec: func(s *RateLimitSpec) {
				s.Requests, s.Concurrency = 12, 3
				s.Headers = map[string]string{"X-Api-Key": "k-123"}
			},
			check: func(t *testing.T, obs RateLimitObservation, b *rlBucket) {
				rlExpect(t, "sent", obs.Sent, 12)
				rlExpect(t, "limited", obs.Limited, 2)
				for _, h := range b.headers {
					if h != "k-123" {
						t.Fatalf("X-Api-Key = %q", h)
					}
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ts *httptest.Server
			if tc.tls {
				ts = httptest.NewTLSServer(tc.bucket)
			} else {
				ts = httptest.NewServer(tc.bucket)
			}
			defer ts.Close()
			spec := rlNewSpec(t)
			spec.URL = ts.URL + "/api/v1/test"
			if tc.tls {
				spec.CAFile = authWriteCA(t, ts)
			}
			tc.spec(spec)
			if err := spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			obs, err := probeRateLimit(ctx, Env{}, spec)
			if err != nil {
				t.Fatalf("probeRateLimit: %v", err)
			}
			tc.bucket.mu.Lock()
			defer tc.bucket.mu.Unlock()
			tc.check(t, obs, tc.bucket)
		})
	}
}

func rlExpect(t *testing.T, name string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", name, got, want)
	}
}

func TestRateLimitProbeErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	slow := httptest.NewServer(&rlBucket{delay: time.Minute})
	defer slow.Close()

	t.Run("refused", func(t *testing.T) {
		spec := rlNewSpec(t)
		spec.URL, spec.Requests = closedURL, 20
		obs, err := probeRateLimit(context.Background(), Env{}, spec)
		if err == nil || !strings.Contains(err.Error(), "every request failed") {
			t.Fatalf("error = %v", err)
		}
		if obs.Errors != 20 {
			t.Errorf("errors = %d, want 20", obs.Errors)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		spec := rlNewSpec(t)
		spec.URL, spec.Requests = slow.URL, 50
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := probeRateLimit(ctx, Env{}, spec)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want deadline exceeded", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("took %v", time.Since(start))
		}
	})
}

func TestRateLimitSpecValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(s *RateLimitSpec)
		field string
	}{
		{"ok", func(s *RateLimitSpec) {}, ""},
		{"no url", func(s *RateLimitSpec) { s.URL = "" }, "url"},
		{"relative url", func(s *RateLimitSpec) { s.URL = "/x" }, "url"},
		{"too many requests", func(s *RateLimitSpec) { s.Requests = 10001 }, "requests"},
		{"zero requests", func(s *RateLimitSpec) { s.Requests = 0 }, "requests"},
		{"negative rate", func(s *RateLimitSpec) { s.Rate = -1 }, "rate"},
		{"zero concurrency", func(s *RateLimitSpec) { s.Concurrency = 0 }, "concurrency"},
		{"zero deadline", func(s *RateLimitSpec) { s.Deadline = 0 }, "deadline"},
		{"bad method", func(s *RateLimitSpec) { s.Method = "get" }, "method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := rlNewSpec(t)
			s.URL = "http://127.0.0.1:8080/api"
			tc.edit(s)
			checkFieldError(t, s.Validate(), tc.field)
			if tc.field == "" && (s.Requests != 100 || s.Concurrency != 10 || s.Deadline != 10*time.Second || s.Method != "GET") {
				t.Errorf("defaults = %+v", s)
			}
		})
	}
}

func TestRateLimitRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want float64
	}{
		{"", -1},
		{"120", 120},
		{"0", 0},
		{"1.5", 1.5},
		{"soon", -1},
		{"-3", -1},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := rlRetryAfter(tc.in, now); got != tc.want {
				t.Errorf("rlRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
