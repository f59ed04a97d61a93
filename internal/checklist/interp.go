package checklist

import (
	"github.com/prfhq/prf/internal/secretref"
	"github.com/prfhq/prf/internal/yamlx"
)

// Secret references are written `env:NAME` or `file:PATH` in the checklist's
// `secrets` section and used as ${secrets.NAME} in probe settings. They are
// resolved only at run time, and their values are redacted from everything
// PRF stores or prints.

// ResolveSecret returns the value behind a reference (see secretref).
func ResolveSecret(ref string) (string, error) { return secretref.Resolve(ref) }

func checkSecretRef(ref string) error { return secretref.Check(ref) }

// interpolate replaces ${vars.NAME} and ${secrets.NAME} in s (see
// yamlx.Interpolate).
func interpolate(s string, lookup func(ref string) (string, error)) (string, error) {
	return yamlx.Interpolate(s, lookup)
}
