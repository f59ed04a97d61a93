package demo

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Rate limit of /api/v1/test, per client address: a token bucket that holds
// RateBurst tokens and gains RateRefillPerSecond tokens a second.
const (
	RateBurst           = 20
	RateRefillPerSecond = 10
)

// maxBuckets bounds the limiter's memory; past it, full (idle) buckets are
// dropped.
const maxBuckets = 10000

type bucket struct {
	tokens float64
	last   time.Time
}

// limiter is a token bucket per client key.
type limiter struct {
	mu      sync.Mutex
	burst   float64
	rate    float64 // tokens per second
	buckets map[string]*bucket
}

func newLimiter(burst, perSecond float64) *limiter {
	return &limiter{burst: burst, rate: perSecond, buckets: map[string]*bucket{}}
}

// allow takes a token for key. When none is left it returns false and how
// long until one is.
func (l *limiter) allow(key string, now time.Time) (ok bool, remaining int, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.pruneLocked(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, int(b.tokens), 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, 0, wait
}

// pruneLocked drops the buckets that would be full by now.
func (l *limiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// clientKey is the client's IP address (never a header a client can forge).
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimit answers 429 with Retry-After past the client's budget, unless the
// no-rate-limit fault is on.
func (t *Target) rateLimit(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t.faults.has(FaultNoRateLimit) {
			next(w, r)
			return
		}
		ok, remaining, wait := t.limiter.allow(clientKey(r), time.Now())
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(RateBurst))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		if !ok {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			t.metrics.addRateLimited()
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "rate limit exceeded", "retry_after_s": secs})
			return
		}
		next(w, r)
	}
}
