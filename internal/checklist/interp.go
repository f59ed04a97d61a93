package checklist

import (
	"fmt"
	"os"
	"strings"

	"github.com/prfhq/prf/internal/yamlx"
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

// interpolate replaces ${vars.NAME} and ${secrets.NAME} in s (see
// yamlx.Interpolate).
func interpolate(s string, lookup func(ref string) (string, error)) (string, error) {
	return yamlx.Interpolate(s, lookup)
}
