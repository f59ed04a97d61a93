package yamlx

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

var (
	durationType  = reflect.TypeFor[time.Duration]()
	nodeType      = reflect.TypeFor[yaml.Node]()
	positionsType = reflect.TypeFor[Positions]()
	unmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Decoder decodes a yaml.Node tree into Go values strictly: unknown keys,
// wrong types and duplicate keys are errors with their line and column, and
// decoding goes on after an error so that every problem is reported.
//
// Struct fields are named by their `yaml` tag (the lower-cased field name
// without one; `,inline` embeds a struct's keys; `-` skips). A field of
// type Positions is filled with where each key was written, a yaml.Node
// field receives the node as written, and an interface field gets yaml.v3's
// loose decoding.
type Decoder struct {
	// Errs collects the errors; nil makes Decode start a new list.
	Errs *Errors
	// File names the file in errors.
	File string
	// Interp rewrites a string scalar (variable interpolation); nil keeps
	// it. Its error is reported at the scalar.
	Interp func(s string) (string, error)
	// Prefix is prepended to field paths in errors (e.g. "probe.").
	Prefix string
	// ID is the item (checkpoint) id for errors, when known. A list element
	// that is a mapping with an "id" key names itself, when ID is "".
	ID string

	st *state // of the Decode in progress
}

// state bounds what aliases can make a decode do: an alias inside its own
// anchor (a cycle, endless with a recursive Go type) is an error, and so is
// a document that is mostly expansions of aliases (a "billion laughs"), by
// the same ratio yaml.v3 allows.
type state struct {
	active         map[*yaml.Node]bool // anchored nodes being decoded
	nodes, aliased int                 // nodes decoded; of them, reached through an alias
	aliasDepth     int
	excessive      bool
}

func allowedAliasRatio(nodes int) float64 {
	switch {
	case nodes <= 400_000:
		return 0.99
	case nodes >= 4_000_000:
		return 0.10
	}
	return 0.10 + 0.89*(1-float64(nodes-400_000)/float64(4_000_000-400_000))
}

// Errorf records an error at n's position for field (Prefix is prepended).
func (d *Decoder) Errorf(n *yaml.Node, field, format string, args ...any) {
	if d.Errs == nil {
		d.Errs = &Errors{}
	}
	p := PosOf(n)
	d.Errs.Add(&Error{File: d.File, Line: p.Line, Col: p.Col, ID: d.ID, Field: d.Prefix + field, Msg: fmt.Sprintf(format, args...)})
}

// Decode decodes n into out, a non-nil pointer, strictly; field is the
// path of n in errors ("" for the root). A nil n leaves out alone.
func (d *Decoder) Decode(n *yaml.Node, out any, field string) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		d.Errorf(n, field, "internal: cannot decode into %T, want a non-nil pointer", out)
		return
	}
	d.DecodeValue(n, v.Elem(), field)
}

// DecodeValue is Decode into a settable reflect.Value.
func (d *Decoder) DecodeValue(n *yaml.Node, out reflect.Value, field string) {
	if d.Errs == nil {
		d.Errs = &Errors{}
	}
	d.st = &state{active: map[*yaml.Node]bool{}}
	d.decode(n, out, field)
}

func (d *Decoder) decode(n *yaml.Node, out reflect.Value, field string) {
	if n == nil {
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	st := d.st
	if st.excessive {
		return
	}
	st.nodes++
	if st.aliasDepth > 0 {
		st.aliased++
		if st.aliased > 100 && st.nodes > 1000 && float64(st.aliased)/float64(st.nodes) > allowedAliasRatio(st.nodes) {
			st.excessive = true
			d.Errorf(n, field, "document contains excessive aliasing")
			return
		}
	}
	if n.Kind == yaml.AliasNode {
		a := n.Alias
		if a == nil {
			return
		}
		if st.active[a] {
			d.Errorf(n, field, "anchor %q value contains itself", n.Value)
			return
		}
		st.active[a] = true
		st.aliasDepth++
		defer func() {
			delete(st.active, a)
			st.aliasDepth--
		}()
		n = a
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
			d.Errorf(n, field, "%v", err)
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
			d.Errorf(n, field, "invalid duration %q (use e.g. 500ms, 30s, 2m)", s)
			return
		}
		if v < 0 {
			d.Errorf(n, field, "duration %s is negative", s)
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
			d.Errorf(n, field, "expected a mapping, got %s", KindName(n))
			return
		}
		if t.Key().Kind() != reflect.String {
			d.Errorf(n, field, "internal: map key must be a string")
			return
		}
		if out.IsNil() {
			out.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
		}
		seen := map[string]bool{}
		for _, p := range Pairs(n) {
			k, v := p[0], p[1]
			if k.Kind != yaml.ScalarNode {
				d.Errorf(k, field, "a key must be a plain value, not %s", KindName(k))
				continue
			}
			key := k.Value
			if seen[key] {
				d.Errorf(k, join(field, key), "duplicate key %q", key)
				continue
			}
			seen[key] = true
			ev := reflect.New(t.Elem()).Elem()
			d.decode(v, ev, join(field, key))
			out.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), ev)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.Errorf(n, field, "expected a list, got %s", KindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			// An element with an id (a checkpoint) names itself in errors.
			if id := mappingID(c); id != "" && d.ID == "" {
				sub := *d
				sub.ID, sub.Prefix = id, ""
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
			d.Errorf(n, field, "expected true or false, got %q", s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s, ok := d.scalarOf(n, field, "integer")
		if !ok {
			return
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
		if err != nil || out.OverflowInt(v) {
			d.Errorf(n, field, "expected an integer, got %q", s)
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
			d.Errorf(n, field, "expected a non-negative integer, got %q", s)
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
			d.Errorf(n, field, "expected a number, got %q", s)
			return
		}
		out.SetFloat(v)
	case reflect.Interface:
		var v any
		if err := n.Decode(&v); err != nil {
			d.Errorf(n, field, "%v", err)
			return
		}
		if d.Interp != nil {
			r, err := interpAny(v, d.Interp)
			if err != nil {
				d.Errorf(n, field, "%v", err)
				return
			}
			v = r
		}
		if v == nil {
			return
		}
		out.Set(reflect.ValueOf(&v).Elem())
	default:
		d.Errorf(n, field, "internal: cannot decode into %s", t)
	}
}

func (d *Decoder) decodeStruct(n *yaml.Node, out reflect.Value, field string) {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, field, "expected a mapping, got %s", KindName(n))
		return
	}
	fields := StructFields(out.Type())
	var positions reflect.Value
	for i := 0; i < out.NumField(); i++ {
		if out.Type().Field(i).Type == positionsType {
			positions = out.Field(i)
			if positions.IsNil() {
				positions.Set(reflect.ValueOf(Positions{}))
			}
			positions.SetMapIndex(reflect.ValueOf(""), reflect.ValueOf(PosOf(n)))
		}
	}
	seen := map[string]bool{}
	for _, p := range Pairs(n) {
		k, v := p[0], p[1]
		key := k.Value
		if seen[key] {
			d.Errorf(k, join(field, key), "duplicate key %q", key)
			continue
		}
		seen[key] = true
		if strings.HasPrefix(key, "x-") {
			continue // an extension field: a home for YAML anchors, ignored
		}
		idx, ok := fields[key]
		if !ok {
			d.Errorf(k, join(field, key), "unknown field %q%s", key, suggest(key, fields))
			continue
		}
		if positions.IsValid() {
			positions.SetMapIndex(reflect.ValueOf(key), reflect.ValueOf(PosOf(v)))
		}
		d.decode(v, out.FieldByIndex(idx), join(field, key))
	}
}

// scalar returns a string scalar's value, interpolated.
func (d *Decoder) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.Errorf(n, field, "expected a string, got %s", KindName(n))
		return "", false
	}
	s := n.Value
	if d.Interp != nil {
		r, err := d.Interp(s)
		if err != nil {
			d.Errorf(n, field, "%v", err)
			return "", false
		}
		s = r
	}
	return s, true
}

func (d *Decoder) scalarOf(n *yaml.Node, field, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.Errorf(n, field, "expected a %s, got %s", want, KindName(n))
		return "", false
	}
	return d.scalar(n, field)
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// StructFields maps a struct type's YAML keys to field index paths (for
// reflect.Value.FieldByIndex), following `,inline`; the decoder accepts
// exactly these keys.
func StructFields(t reflect.Type) map[string][]int {
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
			for k, idx := range StructFields(f.Type) {
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

// interpAny interpolates the strings of a free-form value (a JSON body
// written as YAML).
func interpAny(v any, interp func(string) (string, error)) (any, error) {
	switch x := v.(type) {
	case string:
		return interp(x)
	case map[string]any:
		for k, e := range x {
			r, err := interpAny(e, interp)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := interpAny(e, interp)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}
