package demo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Fault names accepted in [Options.Faults].
const (
	FaultHealthDown      = "health-down"
	FaultSlowHealth      = "slow-health"
	FaultAuthBroken      = "auth-broken"
	FaultNoAuth          = "no-auth"
	FaultNoRateLimit     = "no-rate-limit"
	FaultWAFOff          = "waf-off"
	FaultAISlow          = "ai-slow"
	FaultModelUnloaded   = "model-unloaded"
	FaultChainUnsynced   = "chain-unsynced"
	FaultExpiredCert     = "expired-cert"
	FaultWeakTLS         = "weak-tls"
	FaultInsecureHeaders = "insecure-headers"
	FaultAuthDown        = "auth-down"
	FaultLoginNoToken    = "login-no-token"
	FaultAPISlow         = "api-slow"
	FaultJWTUnverified   = "jwt-unverified"
	FaultJWKSRotated     = "jwks-rotated"
	FaultChainDown       = "chain-down"
	FaultDataDegraded    = "data-degraded"
	FaultNoPrediction    = "no-prediction"
	FaultWeakKey         = "weak-key"
	FaultWAFParanoid     = "waf-paranoid"
)

// ErrUnknownFault is returned (wrapped) by [NewTarget] for a fault name that
// is not in [Faults].
var ErrUnknownFault = errors.New("unknown fault")

// Fault is one way the demo target can be made to misbehave.
type Fault struct {
	Name        string
	Description string
}

// Faults returns every fault the demo target knows, in a stable order.
func Faults() []Fault {
	return []Fault{
		{FaultHealthDown, "/health answers 503 {\"status\":\"unhealthy\"}"},
		{FaultSlowHealth, "/health takes about 1.5s to answer"},
		{FaultAuthBroken, "/auth/login answers 500 (/auth/health still says ready)"},
		{FaultNoAuth, "protected /api/v1 endpoints answer 200 without a token"},
		{FaultNoRateLimit, "/api/v1/test is not rate limited (never 429)"},
		{FaultWAFOff, "the WAF lets malicious payloads through to /api/"},
		{FaultAISlow, "/ai/predict takes about 1.5s to answer"},
		{FaultModelUnloaded, "/ai/health answers 503 with model_loaded false; /ai/predict 503"},
		{FaultChainUnsynced, "/blockchain/status says synced false, catching_up true, height stuck"},
		{FaultExpiredCert, "the server certificate expired yesterday (still signed by the demo CA)"},
		{FaultWeakTLS, "the server accepts TLS 1.0 and 1.1 with CBC cipher suites"},
		{FaultInsecureHeaders, "responses lack the security headers (nosniff, framing, CSP, HSTS) and name the server's software and version"},
		{FaultAuthDown, "/auth/health answers 503 {\"status\":\"unavailable\"} and /auth/login 503"},
		{FaultLoginNoToken, "/auth/login answers 200 without an access token"},
		{FaultAPISlow, "/auth/login and /api/v1/data take about 1.5s to answer (a slow database)"},
		{FaultJWTUnverified, "the API decodes bearer tokens without checking signature, algorithm or expiry"},
		{FaultJWKSRotated, "tokens are signed with a new key the JWKS does not publish"},
		{FaultChainDown, "/blockchain/status answers 503 (the node is unreachable)"},
		{FaultDataDegraded, "/api/v1/data answers 200 with a degraded body and no results"},
		{FaultNoPrediction, "/ai/predict answers 200 without a prediction"},
		{FaultWeakKey, "the server certificate has a 1024-bit RSA key"},
		{FaultWAFParanoid, "the WAF also blocks ordinary requests (apostrophes, SQL words in text)"},
	}
}

// faultSet is the set of active faults of one target.
type faultSet map[string]bool

// parseFaults validates names against Faults. Names are trimmed; empty names
// are skipped; duplicates are harmless.
func parseFaults(names []string) (faultSet, error) {
	valid := Faults()
	set := faultSet{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.ContainsFunc(valid, func(f Fault) bool { return f.Name == n }) {
			list := make([]string, len(valid))
			for i, f := range valid {
				list[i] = f.Name
			}
			return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknownFault, n, strings.Join(list, ", "))
		}
		set[n] = true
	}
	return set, nil
}

func (fs faultSet) has(name string) bool { return fs[name] }

// names returns the active faults in the order of Faults.
func (fs faultSet) names() []string {
	var out []string
	for _, f := range Faults() {
		if fs[f.Name] {
			out = append(out, f.Name)
		}
	}
	return out
}
