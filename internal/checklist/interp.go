package checklist

import (
	"fmt"
	"os"
	"strings"
)

// Secret references are written `env:NAME` or `file:PATH` in the checklist's
// `secrets` section and used as ${secrets.NAME} in probe settings. They are
// resolved only at run time, and their values are redacted from everything
// PRF stores or prints.

// ResolveSecret returns the value behind a reference.
func ResolveSecret(ref string) (string, error) {
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok || rest == "" {
		return "", fmt.Errorf("secret reference %q: want env:NAME or file:PATH", ref)
	}
	switch scheme {
	case "env":
		v, ok := os.LookupEnv(rest)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", rest)
		}
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", rest)
		}
		return v, nil
	case "file":
		b, err := os.ReadFile(rest)
		if err != nil {
			return "", fmt.Errorf("secret file: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", rest)
		}
		return v, nil
	}
	return "", fmt.Errorf("secret reference %q: unknown scheme %q (want env: or file:)", ref, scheme)
}

func checkSecretRef(ref string) error {
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok || rest == "" || (scheme != "env" && scheme != "file") {
		return fmt.Errorf("secret reference %q: want env:NAME or file:PATH", ref)
	}
	return nil
}

// interpolate replaces ${vars.NAME} and ${secrets.NAME} in s. `$${` writes a
// literal `${`. lookup returns the value of a reference such as "vars.base".
func interpolate(s string, lookup func(ref string) (string, error)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s[i:])
		}
		ref := strings.TrimSpace(s[i+2 : i+j])
		v, err := lookup(ref)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		s = s[i+j+1:]
	}
}
