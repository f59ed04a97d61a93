package signoff

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// signoffBody is what a sign-off binds, as the lead's code will send it.
type signoffBody struct {
	Run      string `json:"run"`
	Results  string `json:"results_sha256"`
	Artifact string `json:"artifact"`
}

// team writes a trust file holding the keys given and loads it.
func team(t *testing.T, keys ...*Key) *Trust {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trust.yaml")
	for _, k := range keys {
		if err := AppendPerson(path, k.Person()); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := LoadTrust(path)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestSignStatementVerify(t *testing.T) {
	alice := newKey(t, "alice@example.com", "Security Lead", "CTO")
	bob := newKey(t, "bob@example.com", "DevOps Lead")
	carol := newKey(t, "carol@example.com", "CTO") // not in the trust file
	tr := team(t, alice, bob)
	now := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))
	body := signoffBody{Run: "r-1", Results: strings.Repeat("ab", 32), Artifact: "sha256:0123"}

	sign := func(k *Key, role string) *Statement {
		t.Helper()
		s, err := SignStatement(k, "signoff", role, body, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name  string
		stmt  func() *Statement
		trust *Trust
		want  string // "" for valid
		is    error
	}{
		{name: "valid", stmt: func() *Statement { return sign(alice, "Security Lead") }},
		{name: "valid, no role", stmt: func() *Statement { return sign(bob, "") }},
		{name: "valid, role in other case", stmt: func() *Statement { return sign(alice, "security  lead") }},
		{name: "tampered body", stmt: func() *Statement {
			s := sign(alice, "CTO")
			s.Body = json.RawMessage(strings.Replace(string(s.Body), "r-1", "r-2", 1))
			return s
		}, want: "signoff statement by alice@example.com: bad signature: it does not verify against their key", is: ErrBadSignature},
		{name: "tampered kind", stmt: func() *Statement { s := sign(alice, "CTO"); s.Kind = "authorization"; return s }, is: ErrBadSignature},
		{name: "tampered time", stmt: func() *Statement { s := sign(alice, "CTO"); s.Time = s.Time.Add(time.Microsecond); return s }, is: ErrBadSignature},
		{name: "tampered role, to one the signer holds", stmt: func() *Statement { s := sign(alice, "CTO"); s.Role = "Security Lead"; return s }, is: ErrBadSignature},
		{name: "role dropped", stmt: func() *Statement { s := sign(alice, "CTO"); s.Role = ""; return s }, is: ErrBadSignature},
		{name: "tampered signer", stmt: func() *Statement { s := sign(alice, "DevOps Lead"); s.Signer = "bob@example.com"; return s }, is: ErrBadSignature},
		{name: "signature from another statement", stmt: func() *Statement {
			s := sign(alice, "CTO")
			s.Signature = sign(alice, "Security Lead").Signature
			return s
		}, is: ErrBadSignature},
		{name: "signature not base64", stmt: func() *Statement { s := sign(alice, "CTO"); s.Signature = "!!"; return s }, want: "not a base64 Ed25519 signature", is: ErrBadSignature},
		{name: "signature truncated", stmt: func() *Statement { s := sign(alice, "CTO"); s.Signature = s.Signature[:40]; return s }, is: ErrBadSignature},
		{name: "unknown signer", stmt: func() *Statement { return sign(carol, "CTO") },
			want: "signoff statement by carol@example.com: unknown signer: carol@example.com is not in the trust file", is: ErrUnknownSigner},
		{name: "signer lacks the role", stmt: func() *Statement { return sign(bob, "CTO") },
			want: `signoff statement by bob@example.com as "CTO": role not held: the trust file ` + tr.File + ` grants bob@example.com only DevOps Lead`, is: ErrRoleNotHeld},
		{name: "key replaced in the trust file", stmt: func() *Statement { return sign(alice, "CTO") },
			trust: func() *Trust {
				// Same person and roles, carol's key under alice's name:
				// what a hostile edit to the trust file looks like.
				p := alice.Person()
				p.PublicKey = FormatPublicKey(carol.Public())
				path := filepath.Join(t.TempDir(), "trust.yaml")
				if err := AppendPerson(path, p); err != nil {
					t.Fatal(err)
				}
				tr, err := LoadTrust(path)
				if err != nil {
					t.Fatal(err)
				}
				return tr
			}(), is: ErrBadSignature},
		{name: "duplicate key smuggled into the body", stmt: func() *Statement {
			s := sign(alice, "CTO")
			s.Body = json.RawMessage(`{"run":"r-evil",` + string(s.Body[1:]))
			return s
		}, want: `body: JSON object repeats the key "run"`},
		{name: "newline in the kind", stmt: func() *Statement { s := sign(alice, "CTO"); s.Kind = "signoff\nx"; return s }, want: "control character"},
		{name: "no time", stmt: func() *Statement { s := sign(alice, "CTO"); s.Time = time.Time{}; return s }, want: "no time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trust := tr
			if tc.trust != nil {
				trust = tc.trust
			}
			err := trust.Verify(tc.stmt())
			if tc.want == "" && tc.is == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Verify accepted it")
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want it to match %v", err, tc.is)
			}
		})
	}
}

func TestStatementSurvivesStorage(t *testing.T) {
	alice := newKey(t, "alice@example.com", "CTO")
	tr := team(t, alice)
	body := map[string]any{"z": 1.5, "a": "<b>&", "m": map[string]any{"y": []any{true, nil}, "x": "\u2028"}, "n": json.Number("10000000000000000000001")}
	s, err := SignStatement(alice, "authorization", "CTO", body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"\u003cb\u003e\u0026","m":{"x":"\u2028","y":[true,null]},"n":10000000000000000000001,"z":1.5}`; string(s.Body) != want {
		t.Errorf("body = %s\nwant the canonical %s", s.Body, want)
	}
	if s.Time.Location() != time.UTC || s.Time.Nanosecond()%1000 != 0 {
		t.Errorf("time = %v, want UTC to the microsecond", s.Time)
	}
	compact, _ := json.Marshal(s)
	indented, _ := json.MarshalIndent(s, "", "    ")
	reordered := strings.Replace(string(compact), `"a":"\u003cb\u003e\u0026",`, ``, 1)
	reordered = strings.Replace(reordered, `"z":1.5}`, `"z":1.5, "a" : "<b>&"}`, 1)
	for name, data := range map[string]string{"compact": string(compact), "indented": string(indented), "keys reordered and spaced": reordered} {
		t.Run(name, func(t *testing.T) {
			var back Statement
			if err := json.Unmarshal([]byte(data), &back); err != nil {
				t.Fatal(err)
			}
			if err := tr.Verify(&back); err != nil {
				t.Errorf("%s\n%v", data, err)
			}
			var got map[string]any
			if err := back.DecodeBody(&got); err != nil || got["a"] != "<b>&" {
				t.Errorf("DecodeBody = %v, %v", got, err)
			}
		})
	}
	// In another time zone, the same instant verifies.
	s.Time = s.Time.In(time.FixedZone("X", -7*3600))
	if err := tr.Verify(s); err != nil {
		t.Errorf("same instant, other zone: %v", err)
	}
}

func TestSigningBytes(t *testing.T) {
	s := &Statement{Kind: "signoff", Signer: "a@example.com", Role: "CTO", Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC), Body: json.RawMessage(`{ "b":1, "a":2 }`)}
	want := "prf-statement-v1\nsignoff\na@example.com\nCTO\n2026-01-02T03:04:05.0000006Z\n{\"a\":2,\"b\":1}"
	if got := string(s.SigningBytes()); got != want {
		t.Errorf("SigningBytes = %q\nwant %q", got, want)
	}
}

func TestSignStatementRefuses(t *testing.T) {
	alice := newKey(t, "alice@example.com")
	now := time.Now()
	tests := []struct {
		name, kind, role string
		body             any
		want             string
	}{
		{"no kind", "", "", map[string]string{}, "no kind"},
		{"newline in the role", "signoff", "CTO\nsigner", map[string]string{}, "control character"},
		{"body not an object", "signoff", "", []int{1}, "body must be a JSON object"},
		{"body unmarshalable", "signoff", "", map[string]any{"f": func() {}}, "unsupported type"},
		{"raw body with a repeated key", "signoff", "", json.RawMessage(`{"a":1,"a":2}`), `repeats the key "a"`},
		{"raw body with trailing data", "signoff", "", json.RawMessage(`{} {}`), "data after its value"},
		{"raw body not UTF-8", "signoff", "", json.RawMessage("{\"a\":\"\xff\"}"), "not valid UTF-8"},
		{"raw body nested too deep", "signoff", "", json.RawMessage(strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)), "nests deeper than 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SignStatement(alice, tc.kind, tc.role, tc.body, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := SignStatement(badSigner{}, "signoff", "", map[string]string{}, now); err == nil || !strings.Contains(err.Error(), "not an Ed25519 signature") {
		t.Errorf("short signature: err = %v", err)
	}
}

// Trust is what internal/audit verifies entries with (audit.Keys), and a
// Key what it signs them with (audit.Signer).
var _ interface {
	PublicKey(keyID string) (ed25519.PublicKey, bool)
} = (*Trust)(nil)

// badSigner is a Signer (an OIDC-backed one, say) that misbehaves.
type badSigner struct{}

func (badSigner) KeyID() string                   { return "x@example.com" }
func (badSigner) Sign(msg []byte) ([]byte, error) { return []byte("short"), nil }

func ExampleSignStatement() {
	alice, _ := GenerateKey("Alice", "alice@example.com", []string{"CTO"})
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	trustFile := filepath.Join(dir, "trust.yaml")
	_ = AppendPerson(trustFile, alice.Person())
	tr, _ := LoadTrust(trustFile)

	s, _ := SignStatement(alice, "signoff", "CTO", map[string]string{"run": "r-1"}, time.Now())
	fmt.Println(string(s.Body), tr.Verify(s))
	s.Body = json.RawMessage(`{"run":"r-2"}`)
	fmt.Println(errors.Is(tr.Verify(s), ErrBadSignature))
	_, err := base64.StdEncoding.DecodeString(s.Signature)
	fmt.Println(err)
	// Output:
	// {"run":"r-1"} <nil>
	// true
	// <nil>
}
