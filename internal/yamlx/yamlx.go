// Package yamlx decodes YAML strictly: unknown keys (with a "did you mean"),
// duplicate keys and wrong types are errors with file:line:col and the
// field's path, and decoding goes on after an error so that every problem
// is reported. Keys starting with "x-" are ignored (a home for anchors), YAML
// merge keys are expanded, encoding.TextUnmarshaler and time.Duration are
// decoded from scalars, and a Positions field records where each key was
// written. The checklist and load-test loaders share it.
package yamlx

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a position in a YAML file, 1-based.
type Pos struct {
	Line  int `json:"line"`
	Col   int `json:"col"`
	style yaml.Style
}

// Style is the style of the scalar written at p (block, quoted…), which
// tells where its text starts.
func (p Pos) Style() yaml.Style { return p.style }

// PosOf returns n's position; the zero Pos for nil.
func PosOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Col: n.Column, style: n.Style}
}

// Positions records where each key of a decoded mapping was written. A
// struct that has a field of this type (tagged `yaml:"-"`) gets it filled:
// the key "" holds the mapping itself, other keys the position of the value.
type Positions map[string]Pos

// At returns the position of key's value, or the mapping's when key was
// not written.
func (p Positions) At(key string) Pos {
	if v, ok := p[key]; ok {
		return v
	}
	return p[""]
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads a YAML document into a node tree. A syntax error is Errors
// holding one *Error at the line yaml.v3 reports (column 1: yaml.v3 does not
// report one); a document with no content is one that matches ErrEmpty.
func Parse(file string, data []byte) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, msg := 1, strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
				line = n
			}
			msg = m[2]
		}
		return nil, Errors{{File: file, Line: line, Col: 1, Msg: msg}}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: ErrEmpty.Error(), err: ErrEmpty}}
	}
	return &root, nil
}

// KindName describes a node for an error: "a mapping", "a list", a scalar's
// quoted value, or "an empty document".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an empty document"
}

// FieldPos finds a dotted field's value in a mapping ("tls.ca",
// "steps[2].headers", "thresholds.http_req_duration{step:a.b}": dots inside
// braces belong to the key), falling back to the deepest node found.
func FieldPos(n *yaml.Node, field string) Pos {
	p := PosOf(n)
	for _, part := range splitField(field) {
		key, idx, _ := strings.Cut(part, "[")
		if key != "" {
			if n != nil && n.Kind == yaml.AliasNode {
				n = n.Alias
			}
			if n == nil || n.Kind != yaml.MappingNode {
				return p
			}
			var next *yaml.Node
			for _, kv := range Pairs(n) {
				if kv[0].Value == key {
					next = kv[1]
					break
				}
			}
			if next == nil {
				return p
			}
			n, p = next, PosOf(next)
		}
		// Indices: "[2]" or "[2][0]".
		for idx != "" {
			num, rest, _ := strings.Cut(idx, "]")
			idx = strings.TrimPrefix(rest, "[")
			i, err := strconv.Atoi(num)
			if n != nil && n.Kind == yaml.AliasNode {
				n = n.Alias
			}
			if err != nil || n == nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return p
			}
			n = n.Content[i]
			p = PosOf(n)
		}
	}
	return p
}

// splitField splits a field path at dots outside braces.
func splitField(field string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range field {
		switch r {
		case '{':
			depth++
		case '}':
			depth = max(0, depth-1)
		case '.':
			if depth == 0 {
				parts = append(parts, field[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, field[start:])
}

// Pairs returns a mapping's key/value pairs with YAML merge keys
// (`<<: *base` or `<<: [*a, *b]`) expanded: merged pairs come first and
// are overridden by the mapping's own keys, as YAML 1.1 defines. It returns
// nil for a node that is not a mapping.
func Pairs(n *yaml.Node) [][2]*yaml.Node {
	return pairsDepth(n, 0, map[*yaml.Node][][2]*yaml.Node{})
}

// pairsDepth memoizes per node, so merges of merges (a "billion laughs"
// document) cost the number of distinct mappings, not their expansion.
// depth bounds merges of merges.
func pairsDepth(n *yaml.Node, depth int, memo map[*yaml.Node][][2]*yaml.Node) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode || depth > 16 {
		return nil
	}
	if p, ok := memo[n]; ok {
		return p
	}
	memo[n] = nil // a mapping that merges itself contributes nothing
	var merged, own [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, src := range srcs {
				for src != nil && src.Kind == yaml.AliasNode {
					src = src.Alias
				}
				merged = append(merged, pairsDepth(src, depth+1, memo)...)
			}
			continue
		}
		own = append(own, [2]*yaml.Node{k, v})
	}
	if len(merged) == 0 {
		memo[n] = own
		return own
	}
	ownKeys := map[string]bool{}
	for _, p := range own {
		ownKeys[p[0].Value] = true
	}
	out := make([][2]*yaml.Node, 0, len(merged)+len(own))
	seen := map[string]bool{}
	// Later merge sources do not override earlier ones.
	for _, p := range merged {
		if ownKeys[p[0].Value] || seen[p[0].Value] {
			continue
		}
		seen[p[0].Value] = true
		out = append(out, p)
	}
	out = append(out, own...)
	memo[n] = out
	return out
}

// mappingID returns the scalar value of an "id" key in a mapping node.
func mappingID(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for _, p := range Pairs(n) {
		if p[0].Value == "id" && p[1].Kind == yaml.ScalarNode {
			return p[1].Value
		}
	}
	return ""
}

// Suggest returns ` (did you mean "x"?)` when one of candidates is a near
// miss for s, and "" otherwise.
func Suggest(s string, candidates []string) string {
	m := make(map[string][]int, len(candidates))
	for _, c := range candidates {
		m[c] = nil
	}
	return suggest(s, m)
}

// suggest returns ` (did you mean "x"?)` for a near miss among fields' keys.
func suggest(key string, fields map[string][]int) string {
	best, bestD := "", 3
	for k := range fields {
		dd := editDistance(key, k)
		if dd < bestD || (dd == bestD && best != "" && k < best) {
			best, bestD = k, dd
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
