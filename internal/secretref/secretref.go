// Package secretref resolves secret references, env:NAME or file:PATH,
// the only way a secret enters PRF (checklists, scenarios, --secret): the
// value is read at run time and never stored or printed.
package secretref

import (
	"fmt"
	"os"
	"strings"
)

// Resolve returns the value behind a reference.
func Resolve(ref string) (string, error) {
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

// Check reports whether ref is well formed, without resolving it.
func Check(ref string) error {
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok || rest == "" || (scheme != "env" && scheme != "file") {
		return fmt.Errorf("secret reference %q: want env:NAME or file:PATH", ref)
	}
	return nil
}
