package expect

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var fields = []string{"status", "latency", "body", "headers", "tls"}

func TestEval(t *testing.T) {
	obs := map[string]any{
		"status":  int64(503),
		"latency": 150 * time.Millisecond,
		"body":    map[string]any{"status": "unhealthy", "count": float64(3)},
		"headers": map[string]any{"Content-Type": "application/json"},
		"tls":     nil,
	}
	tests := []struct {
		name    string
		expr    string
		pass    bool
		wantErr bool
		wantMsg string
	}{
		{name: "status fails with actual", expr: "status == 200", wantMsg: "status == 200: got status=503"},
		{name: "status passes", expr: "status == 503", pass: true, wantMsg: "status == 503: ok (status=503)"},
		{name: "duration", expr: `latency < duration("200ms")`, pass: true},
		{name: "duration fails", expr: `latency < duration("100ms")`, wantMsg: `latency < duration("100ms"): got latency=150ms`},
		{name: "json field", expr: `body.status == "healthy"`, wantMsg: `body.status == "healthy": got body.status="unhealthy"`},
		{name: "int vs double", expr: `body.count == 3 && body.count > 2`, pass: true},
		{name: "index", expr: `headers["Content-Type"].startsWith("application/json")`, pass: true},
		{name: "missing key is an error", expr: `body.missing == 1`, wantErr: true},
		{name: "null field", expr: `tls == null`, pass: true},
		{name: "several values", expr: `status == 200 && latency < duration("1s")`, wantMsg: "status == 200 && latency < duration(\"1s\"): got status=503"},
		{name: "has macro", expr: `has(body.status)`, pass: true},
		{name: "comprehension", expr: `[1,2,3].all(x, x < status)`, pass: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.expr, fields)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			v := p.Eval(obs)
			if (v.Err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", v.Err, tc.wantErr)
			}
			if v.Pass != tc.pass {
				t.Errorf("pass = %v, want %v (%s)", v.Pass, tc.pass, v.Message(tc.expr))
			}
			if tc.wantMsg != "" && v.Message(tc.expr) != tc.wantMsg {
				t.Errorf("message = %q, want %q", v.Message(tc.expr), tc.wantMsg)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{"stauts == 200", "1:1: undeclared reference to 'stauts'"},
		{"status ==", "1:10:"},
		{"status == 200 &&\n  bogus", "2:3: undeclared reference to 'bogus'"},
		{`"text"`, "not bool"},
		{"", "empty expression"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Compile(tc.expr, fields)
			var ce CompileErrors
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want CompileErrors", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func FuzzCompileEval(f *testing.F) {
	for _, s := range []string{"status == 200", `body.status == "healthy"`, `latency < duration("1s")`, "[1,2].map(x, x*2)[0] == 2", "((", `headers["a"]`} {
		f.Add(s)
	}
	obs := map[string]any{"status": int64(200), "body": map[string]any{"status": "healthy"}, "latency": time.Millisecond, "headers": map[string]any{}}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src, fields)
		if err != nil {
			return
		}
		v := p.Eval(obs)
		_ = v.Message(src)
	})
}

// An expression that reads a whole map or list keeps it as plain JSON
// values (a map[any]any would not marshal).
func TestValuesOfMapsAndLists(t *testing.T) {
	p, err := Compile(`"Strict-Transport-Security" in headers && size(body.items) == 2`, fields)
	if err != nil {
		t.Fatal(err)
	}
	v := p.Eval(map[string]any{
		"headers": map[string]any{"Content-Type": "text/plain"},
		"body":    map[string]any{"items": []any{"a", float64(2)}},
	})
	if v.Pass || len(v.Values) != 1 {
		t.Fatalf("verdict %+v", v)
	}
	m, ok := v.Values[0].Value.(map[string]any)
	if !ok || m["Content-Type"] != "text/plain" {
		t.Fatalf("headers read as %#v", v.Values[0].Value)
	}
	if _, err := json.Marshal(v.Values); err != nil {
		t.Errorf("values do not marshal: %v", err)
	}
	if got := v.Message(p.Source()); !strings.Contains(got, `headers={"Content-Type":"text/plain"}`) {
		t.Errorf("message %q", got)
	}
}

func TestFormatCutsOnRuneBoundary(t *testing.T) {
	s := Format(strings.Repeat("é", 100))
	if !utf8.ValidString(s) {
		t.Errorf("cut inside a rune: %q", s)
	}
}
