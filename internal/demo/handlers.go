package demo

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"time"
)

// Demo service constants.
const (
	ModelName      = "prf-demo-classifier-v1"
	BlockInterval  = 200 * time.Millisecond
	genesisHeight  = 1_000_000
	demoPeers      = 8
	demoValidators = 4
	SlowDelay      = 1500 * time.Millisecond // the slow faults' answer time, at least
	maxBody        = 1 << 20
)

// routes is the target's handler: metrics and logging, security headers,
// the WAF (for /api/), then the routes.
func (t *Target) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", t.handleHealth)
	mux.HandleFunc("GET /auth/health", t.handleAuthHealth)
	mux.HandleFunc("POST /auth/login", t.handleLogin)
	mux.HandleFunc("GET /.well-known/jwks.json", t.handleJWKS)
	mux.HandleFunc("GET /api/v1/protected", t.requireAuth(t.handleProtected))
	mux.HandleFunc("GET /api/v1/data", t.requireAuth(t.handleData))
	mux.HandleFunc("GET /api/v1/test", t.rateLimit(t.handleTest))
	mux.HandleFunc("POST /api/v1/test", t.rateLimit(t.handleTest))
	mux.HandleFunc("GET /ai/health", t.handleAIHealth)
	mux.HandleFunc("POST /ai/predict", t.handlePredict)
	mux.HandleFunc("GET /blockchain/status", t.handleChainStatus)
	mux.HandleFunc("GET /metrics", t.handleMetrics)
	mux.HandleFunc("GET /privacy", t.handlePrivacy)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
	})
	return t.observe(t.securityHeaders(t.wafMiddleware(mux)))
}

// contentSecurityPolicy is sent with every answer: an API serves no
// scripts, styles or frames, so everything is refused.
const contentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// securityHeaders sets the usual response headers, HSTS on HTTPS only. The
// insecure-headers fault sends none of them and names the server software
// and its version instead, like a reverse proxy left at its defaults.
func (t *Target) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if t.faults.has(FaultInsecureHeaders) {
			h.Set("Server", "nginx/1.18.0")
			h.Set("X-Powered-By", "Express/4.17.1")
			next.ServeHTTP(w, r)
			return
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// sleepCtx waits d or until ctx is done; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (t *Target) uptime() float64 {
	return time.Since(t.started).Seconds()
}

func (t *Target) handleHealth(w http.ResponseWriter, r *http.Request) {
	if t.faults.has(FaultSlowHealth) && !sleepCtx(r.Context(), SlowDelay) {
		return // the client gave up
	}
	body := map[string]any{"status": "healthy", "version": Version, "uptime_s": t.uptime()}
	code := http.StatusOK
	if t.faults.has(FaultHealthDown) {
		body["status"], code = "unhealthy", http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

func (t *Target) handleProtected(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"message": "access granted", "subject": subjectOf(r)})
}

func (t *Target) handleData(w http.ResponseWriter, r *http.Request) {
	if t.faults.has(FaultAPISlow) && !sleepCtx(r.Context(), SlowDelay) {
		return
	}
	if t.faults.has(FaultDataDegraded) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "message": "data backend unavailable"})
		return
	}
	records := []map[string]any{
		{"id": 1, "name": "validator-eu-1", "region": "eu-west-1", "status": "active", "stake": 125000},
		{"id": 2, "name": "validator-us-1", "region": "us-east-1", "status": "active", "stake": 98000},
		{"id": 3, "name": "validator-af-1", "region": "af-south-1", "status": "active", "stake": 143500},
		{"id": 4, "name": "validator-ap-1", "region": "ap-southeast-2", "status": "standby", "stake": 60250},
	}
	writeJSON(w, http.StatusOK, map[string]any{"subject": subjectOf(r), "count": len(records), "results": records})
}

func (t *Target) handleTest(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "method": r.Method, "message": "request accepted"})
}

func (t *Target) handleAIHealth(w http.ResponseWriter, r *http.Request) {
	if t.faults.has(FaultModelUnloaded) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unhealthy", "model_loaded": false, "model": ModelName})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "model_loaded": true, "model": ModelName, "device": "cpu"})
}

// handlePredict is a deterministic stand-in for a classifier: the same input
// always gets the same label and confidence.
func (t *Target) handlePredict(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	if t.faults.has(FaultModelUnloaded) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "model not loaded", "model": ModelName})
		return
	}
	var req struct {
		Input    json.RawMessage `json:"input"`
		Features []float64       `json:"features"`
	}
	err := decodeJSON(w, r, &req)
	noInput := len(req.Input) == 0 || string(req.Input) == "null"
	if err != nil || noInput && len(req.Features) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": `body must be JSON with "input" or "features"`})
		return
	}
	if t.faults.has(FaultAISlow) && !sleepCtx(r.Context(), SlowDelay) {
		return
	}
	h := fnv.New64a()
	h.Write(req.Input)
	for _, f := range req.Features {
		b, _ := json.Marshal(f)
		h.Write(b)
	}
	if t.faults.has(FaultNoPrediction) {
		writeJSON(w, http.StatusOK, map[string]any{"model": ModelName, "warning": "model returned no output"})
		return
	}
	sum := h.Sum64()
	labels := []string{"benign", "suspicious", "threat"}
	writeJSON(w, http.StatusOK, map[string]any{
		"prediction": labels[sum%uint64(len(labels))],
		"confidence": 0.75 + float64(sum>>8%2400)/10000, // 0.75 … 0.9899
		"model":      ModelName,
		"latency_ms": float64(time.Since(began).Microseconds()) / 1000,
	})
}

// chainHeight is the block height now: one block every BlockInterval since
// start, or stuck at the genesis height with the chain-unsynced fault.
func (t *Target) chainHeight(now time.Time) int64 {
	if t.faults.has(FaultChainUnsynced) {
		return genesisHeight
	}
	return genesisHeight + int64(now.Sub(t.started)/BlockInterval)
}

func (t *Target) handleChainStatus(w http.ResponseWriter, r *http.Request) {
	if t.faults.has(FaultChainDown) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unreachable", "error": "blockchain node unreachable"})
		return
	}
	now := time.Now()
	height := t.chainHeight(now)
	synced := !t.faults.has(FaultChainUnsynced)
	status := "healthy"
	latest := t.started.Add(time.Duration(height-genesisHeight) * BlockInterval)
	networkHeight := height
	if !synced {
		status = "syncing"
		networkHeight = genesisHeight + int64(now.Sub(t.started)/BlockInterval) + 5000
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":            status,
		"synced":            synced,
		"catching_up":       !synced,
		"height":            height,
		"network_height":    networkHeight,
		"latest_block_time": latest.UTC().Format(time.RFC3339Nano),
		"peers":             demoPeers,
		"validators":        demoValidators,
		"block_time_ms":     BlockInterval.Milliseconds(),
		"chain_id":          "prf-demo-1",
	})
}

// privacyPolicy is the demo's published privacy notice (CCPA §1798.100).
const privacyPolicy = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Privacy policy: PRF demo</title></head>
<body><h1>Privacy policy</h1>
<p>The PRF demo collects no personal information. Requests are logged
without bodies, tokens or passwords and kept only while the demo runs.</p>
<p>California residents may ask what personal information is held about them
and have it deleted; as none is kept, every such request is answered "none".</p>
</body></html>
`

func (t *Target) handlePrivacy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(privacyPolicy))
}
