package checklist

import (
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

var refRE = regexp.MustCompile(`\$?\$\{([^}]*)\}`)

// Refs lists the variables and secrets a checkpoint's probe settings and
// expect read, as "vars.NAME" and "secrets.NAME", sorted.
func (cp *Checkpoint) Refs() []string {
	seen := map[string]bool{}
	add := func(s string) {
		for _, m := range refRE.FindAllStringSubmatch(s, -1) {
			if strings.HasPrefix(m[0], "$$") {
				continue // an escaped ${
			}
			ref, _, _ := strings.Cut(strings.TrimSpace(m[1]), ":-")
			seen[ref] = true
		}
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.ScalarNode {
			add(n.Value)
		}
		if n.Kind == yaml.AliasNode {
			walk(n.Alias)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&cp.ProbeNode)
	add(cp.Expect)
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
