package yamlx

import (
	"fmt"
	"strings"
)

// Interpolate replaces ${REF} references in s (${vars.NAME},
// ${secrets.NAME}, ...) with what lookup returns for REF. `$${` writes a
// literal `${`. lookup returns the value of a reference such as "vars.base".
func Interpolate(s string, lookup func(ref string) (string, error)) (string, error) {
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
