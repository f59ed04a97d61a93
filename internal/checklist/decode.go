package checklist

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Pos is a position in a YAML file, 1-based.
type Pos struct {
	Line  int `json:"line"`
	Col   int `json:"col"`
	style yaml.Style
}

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Col: n.Column, style: n.Style}
}

// Positions records where each key of a decoded mapping was written. A
// struct that has a field of this type (tagged `yaml:"-"`) gets it filled:
// the key "" holds the mapping itself, other keys the position of the value.
type Positions map[string]Pos

var (
	durationType  = reflect.TypeOf(time.Duration(0))
	nodeType      = reflect.TypeOf(yaml.Node{})
	positionsType = reflect.TypeOf(Positions{})
	unmarshalType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// decoder decodes a yaml.Node tree into Go values strictly: unknown keys,
// wrong types and duplicate keys are errors with their line and column, and
// decoding goes on after an error so that every problem is reported.
type decoder struct {
	errs *Errors
	file string
	// interp rewrites a string scalar (variable interpolation); nil keeps it.
	interp func(s string) (string, error)
	// prefix is prepended to field paths in errors (e.g. "probe.").
	prefix string
	id     string // checkpoint id for errors, when known
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	p := posOf(n)
	d.errs.add(&Error{File: d.file, Line: p.Line, Col: p.Col, ID: d.id, Field: d.prefix + field, Msg: fmt.Sprintf(format, args...)})
}

// DecodeNode decodes n into out (a pointer) strictly. It is how probe
// settings and other YAML sections are decoded, at load time for lint and at
// run time with secrets interpolated.
func (d *decoder) decode(n *yaml.Node, out reflect.Value, field string) {
	if n == nil {
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	t := out.Type()
	if t == nodeType {
		out.Set(reflect.ValueOf(*n))
		return
	}
	if t.Kind() == reflect.Pointer {
		if n.Tag == "!!null" {
			return
		}
		if out.IsNil() {
			out.Set(reflect.New(t.Elem()))
		}
		d.decode(n, out.Elem(), field)
		return
	}
	if n.Tag == "!!null" && n.Kind == yaml.ScalarNode {
		return // leave the zero value (or default)
	}
	if reflect.PointerTo(t).Implements(unmarshalType) && n.Kind == yaml.ScalarNode {
		s, ok := d.scalar(n, field)
		if !ok {
			return
		}
		if err := out.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.errorf(n, field, "%v", err)
		}
		return
	}
	switch {
	case t == durationType:
		s, ok := d.scalarOf(n, field, "duration")
		if !ok {
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(n, field, "invalid duration %q (use e.g. 500ms, 30s, 2m)", s)
			return
		}
		if v < 0 {
			d.errorf(n, field, "duration %s is negative", s)
			return
		}
		out.SetInt(int64(v))
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, out, field)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, field, "expected a mapping, got %s", kindName(n))
			return
		}
		if t.Key().Kind() != reflect.String {
			d.errorf(n, field, "internal: map key must be a string")
			return
		}
		if out.IsNil() {
			out.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
		}
		seen := map[string]bool{}
		for _, p := range pairs(n) {
			k, v := p[0], p[1]
			if k.Kind != yaml.ScalarNode {
				d.errorf(k, field, "a key must be a plain value, not %s", kindName(k))
				continue
			}
			key := k.Value
			if seen[key] {
				d.errorf(k, join(field, key), "duplicate key %q", key)
				continue
			}
			seen[key] = true
			ev := reflect.New(t.Elem()).Elem()
			d.decode(v, ev, join(field, key))
			out.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), ev)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, field, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			// An element with an id (a checkpoint) names itself in errors.
			if id := mappingID(c); id != "" && d.id == "" {
				sub := *d
				sub.id, sub.prefix = id, ""
				sub.decode(c, s.Index(i), "")
				continue
			}
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", field, i))
		}
		out.Set(s)
	case reflect.String:
		if s, ok := d.scalar(n, field); ok {
			out.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalarOf(n, field, "boolean")
		if !ok {
			return
		}
		switch s {
		case "true", "True", "TRUE":
			out.SetBool(true)
		case "false", "False", "FALSE":
			out.SetBool(false)
		default:
			d.errorf(n, field, "expected true or false, got %q", s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s, ok := d.scalarOf(n, field, "integer")
		if !ok {
			return
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
		if err != nil || out.OverflowInt(v) {
			d.errorf(n, field, "expected an integer, got %q", s)
			return
		}
		out.SetInt(v)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s, ok := d.scalarOf(n, field, "non-negative integer")
		if !ok {
			return
		}
		v, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 0, 64)
		if err != nil || out.OverflowUint(v) {
			d.errorf(n, field, "expected a non-negative integer, got %q", s)
			return
		}
		out.SetUint(v)
	case reflect.Float32, reflect.Float64:
		s, ok := d.scalarOf(n, field, "number")
		if !ok {
			return
		}
		v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
		if err != nil || math.IsNaN(v) {
			d.errorf(n, field, "expected a number, got %q", s)
			return
		}
		out.SetFloat(v)
	case reflect.Interface:
		var v any
		if err := n.Decode(&v); err != nil {
			d.errorf(n, field, "%v", err)
			return
		}
		out.Set(reflect.ValueOf(&v).Elem())
	default:
		d.errorf(n, field, "internal: cannot decode into %s", t)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, out reflect.Value, field string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := structFields(out.Type())
	var positions reflect.Value
	for i := 0; i < out.NumField(); i++ {
		if out.Type().Field(i).Type == positionsType {
			positions = out.Field(i)
			if positions.IsNil() {
				positions.Set(reflect.ValueOf(Positions{}))
			}
			positions.SetMapIndex(reflect.ValueOf(""), reflect.ValueOf(posOf(n)))
		}
	}
	seen := map[string]bool{}
	for _, p := range pairs(n) {
		k, v := p[0], p[1]
		key := k.Value
		if seen[key] {
			d.errorf(k, join(field, key), "duplicate key %q", key)
			continue
		}
		seen[key] = true
		if strings.HasPrefix(key, "x-") {
			continue // an extension field: a home for YAML anchors, ignored
		}
		idx, ok := fields[key]
		if !ok {
			d.errorf(k, join(field, key), "unknown field %q%s", key, suggest(key, fields))
			continue
		}
		if positions.IsValid() {
			positions.SetMapIndex(reflect.ValueOf(key), reflect.ValueOf(posOf(v)))
		}
		d.decode(v, out.FieldByIndex(idx), join(field, key))
	}
}

// scalar returns a string scalar's value, interpolated.
func (d *decoder) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, field, "expected a string, got %s", kindName(n))
		return "", false
	}
	s := n.Value
	if d.interp != nil {
		r, err := d.interp(s)
		if err != nil {
			d.errorf(n, field, "%v", err)
			return "", false
		}
		s = r
	}
	return s, true
}

func (d *decoder) scalarOf(n *yaml.Node, field, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, field, "expected a %s, got %s", want, kindName(n))
		return "", false
	}
	return d.scalar(n, field)
}

func kindName(n *yaml.Node) string {
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

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// structFields maps YAML keys to field index paths, following `,inline`.
func structFields(t reflect.Type) map[string][]int {
	m := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			for k, idx := range structFields(f.Type) {
				m[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = []int{i}
	}
	return m
}

// suggest returns `, did you mean "x"?` for a near miss.
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

// mappingID returns the scalar value of an "id" key in a mapping node.
func mappingID(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for _, p := range pairs(n) {
		if p[0].Value == "id" && p[1].Kind == yaml.ScalarNode {
			return p[1].Value
		}
	}
	return ""
}

// pairs returns a mapping's key/value pairs with YAML merge keys
// (`<<: *base` or `<<: [*a, *b]`) expanded: merged pairs come first and
// are overridden by the mapping's own keys, as YAML 1.1 defines. depth
// bounds merges of merges.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	return pairsDepth(n, 0, map[*yaml.Node][][2]*yaml.Node{})
}

// pairsDepth memoizes per node, so merges of merges (a "billion laughs"
// document) cost the number of distinct mappings, not their expansion.
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

// Suggest returns ` (did you mean "x"?)` when one of candidates is a near
// miss for s, and "" otherwise.
func Suggest(s string, candidates []string) string {
	m := make(map[string][]int, len(candidates))
	for _, c := range candidates {
		m[c] = nil
	}
	return suggest(s, m)
}
