// Package expect judges probe observations with CEL expressions
// (cel.dev/cel-go). An expression is compiled once per run; evaluating it
// yields a verdict that keeps the values the expression read, so a failure
// explains itself: `status == 200: got status=503`.
package expect

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// CompileError is an expression that does not compile, with the position of
// the problem inside the expression (1-based line and column).
type CompileError struct {
	Line, Col int
	Msg       string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
}

// CompileErrors holds every problem found in one expression.
type CompileErrors []*CompileError

func (es CompileErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Program is a compiled expectation.
type Program struct {
	src   string
	prg   cel.Program
	reads []read // the observation values the expression reads, in source order
	names map[string]bool
}

type read struct {
	id   int64
	text string
}

// Compiler compiles expressions, sharing one CEL environment per set of
// observation fields and one program per distinct expression: a checklist
// with thousands of checkpoints of a few kinds compiles each expression once.
// A Compiler is not safe for concurrent use; the programs it returns are.
type Compiler struct {
	envs  map[string]*cel.Env
	progs map[string]*Program
}

// NewCompiler returns an empty Compiler.
func NewCompiler() *Compiler {
	return &Compiler{envs: map[string]*cel.Env{}, progs: map[string]*Program{}}
}

// Compile compiles src for observations whose top-level fields are fields.
// Every field is typed dyn; an identifier that is not a field is an error.
func Compile(src string, fields []string) (*Program, error) {
	return NewCompiler().Compile(src, fields)
}

// Compile is like the package-level Compile, with caching.
func (c *Compiler) Compile(src string, fields []string) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, CompileErrors{{Line: 1, Col: 1, Msg: "empty expression"}}
	}
	envKey := strings.Join(fields, "\x00")
	progKey := envKey + "\x01" + src
	if p, ok := c.progs[progKey]; ok {
		return p, nil
	}
	names := make(map[string]bool, len(fields))
	for _, f := range fields {
		names[f] = true
	}
	env, ok := c.envs[envKey]
	if !ok {
		opts := []cel.EnvOption{cel.CrossTypeNumericComparisons(true)}
		for _, f := range fields {
			opts = append(opts, cel.Variable(f, cel.DynType))
		}
		var err error
		if env, err = cel.NewEnv(opts...); err != nil {
			return nil, fmt.Errorf("cel environment: %w", err)
		}
		c.envs[envKey] = env
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		var out CompileErrors
		for _, e := range iss.Errors() {
			out = append(out, &CompileError{Line: e.Location.Line(), Col: e.Location.Column() + 1, Msg: e.Message})
		}
		if len(out) == 0 {
			out = CompileErrors{{Line: 1, Col: 1, Msg: iss.Err().Error()}}
		}
		return nil, out
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, CompileErrors{{Line: 1, Col: 1, Msg: fmt.Sprintf("expression yields %s, not bool", t)}}
	}
	prg, err := env.Program(ast,
		cel.EvalOptions(cel.OptTrackState),
		cel.CostLimit(1_000_000),
		cel.InterruptCheckFrequency(100),
	)
	if err != nil {
		return nil, CompileErrors{{Line: 1, Col: 1, Msg: err.Error()}}
	}
	p := &Program{src: src, prg: prg, names: names}
	p.reads = collectReads(ast.NativeRep().Expr(), names)
	c.progs[progKey] = p
	return p, nil
}

// Source returns the expression text.
func (p *Program) Source() string { return p.src }

// Value is one value the expression read from the observation.
type Value struct {
	Expr  string `json:"expr"`
	Value any    `json:"value"`
}

// Verdict is the outcome of evaluating an expectation.
type Verdict struct {
	Pass bool
	// Err is set when the expression could not be evaluated to a bool (a
	// missing key, a type mismatch); such a verdict does not pass.
	Err    error
	Values []Value
}

// Message explains the verdict: the expression and the values it read,
// e.g. `status == 200: got status=503`.
func (v Verdict) Message(src string) string {
	var b strings.Builder
	b.WriteString(src)
	switch {
	case v.Err != nil:
		b.WriteString(": ")
		b.WriteString(v.Err.Error())
		if len(v.Values) > 0 {
			b.WriteString(" (")
			writeValues(&b, v.Values)
			b.WriteString(")")
		}
	case v.Pass:
		b.WriteString(": ok")
		if len(v.Values) > 0 {
			b.WriteString(" (")
			writeValues(&b, v.Values)
			b.WriteString(")")
		}
	default:
		b.WriteString(": got ")
		if len(v.Values) == 0 {
			b.WriteString("false")
		}
		writeValues(&b, v.Values)
	}
	return b.String()
}

func writeValues(b *strings.Builder, vs []Value) {
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.Expr)
		b.WriteString("=")
		b.WriteString(Format(v.Value))
	}
}

// Format renders a value read by an expression compactly.
func Format(v any) string {
	const max = 120
	var s string
	switch x := v.(type) {
	case nil:
		s = "null"
	case time.Duration:
		s = x.String()
	case time.Time:
		s = x.UTC().Format(time.RFC3339)
	case string:
		s = fmt.Sprintf("%q", x)
	default:
		bs, err := json.Marshal(x)
		if err != nil {
			s = fmt.Sprint(x)
		} else {
			s = string(bs)
		}
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Eval judges one observation, in the generic form of probe.Flatten.
func (p *Program) Eval(obs map[string]any) Verdict {
	act := make(map[string]any, len(p.names))
	for n := range p.names {
		v, ok := obs[n]
		if !ok {
			v = nil
		}
		act[n] = v
	}
	out, det, err := p.prg.Eval(act)
	v := Verdict{Values: p.values(det)}
	if err != nil {
		v.Err = err
		return v
	}
	b, ok := out.Value().(bool)
	if !ok {
		v.Err = fmt.Errorf("expression yields %s (%s), not bool", out.Type().TypeName(), Format(out.Value()))
		return v
	}
	v.Pass = b
	return v
}

func (p *Program) values(det *cel.EvalDetails) []Value {
	if det == nil || det.State() == nil {
		return nil
	}
	st := det.State()
	var out []Value
	seen := map[string]bool{}
	for _, r := range p.reads {
		if seen[r.text] {
			continue
		}
		val, ok := st.Value(r.id)
		if !ok || val == nil || types.IsUnknownOrError(val) {
			continue
		}
		seen[r.text] = true
		out = append(out, Value{Expr: r.text, Value: native(val)})
	}
	return out
}

// native turns a CEL value into plain Go: maps keyed by strings and []any,
// so that the values read can be stored as JSON and redacted.
func native(v ref.Val) any {
	switch x := v.Value().(type) {
	case time.Duration, time.Time, string, bool, int64, uint64, float64:
		return x
	}
	if v.Type() == types.NullType {
		return nil
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]any{}
		for it := m.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			key, ok := k.Value().(string)
			if !ok {
				key = fmt.Sprint(native(k))
			}
			out[key] = native(m.Get(k))
		}
		return out
	}
	if l, ok := v.(traits.Lister); ok {
		n, _ := l.Size().Value().(int64)
		out := make([]any, 0, n)
		for i := int64(0); i < n; i++ {
			out = append(out, native(l.Get(types.Int(i))))
		}
		return out
	}
	if n, err := v.ConvertToNative(reflectAny); err == nil {
		return n
	}
	return v.Value()
}

// collectReads finds the maximal field paths (`body.status`,
// `headers["Content-Type"]`, `latency`) rooted at observation fields.
func collectReads(e celast.Expr, names map[string]bool) []read {
	var out []read
	var walk func(e celast.Expr)
	walk = func(e celast.Expr) {
		if text, ok := pathText(e, names); ok {
			out = append(out, read{id: e.ID(), text: text})
			return
		}
		switch e.Kind() {
		case celast.CallKind:
			c := e.AsCall()
			if c.IsMemberFunction() {
				walk(c.Target())
			}
			for _, a := range c.Args() {
				walk(a)
			}
		case celast.SelectKind:
			walk(e.AsSelect().Operand())
		case celast.ListKind:
			for _, el := range e.AsList().Elements() {
				walk(el)
			}
		case celast.MapKind:
			for _, en := range e.AsMap().Entries() {
				me := en.AsMapEntry()
				walk(me.Key())
				walk(me.Value())
			}
		case celast.ComprehensionKind:
			c := e.AsComprehension()
			walk(c.IterRange())
			walk(c.LoopStep())
			walk(c.Result())
		}
	}
	walk(e)
	return out
}

// pathText renders e when it is a path rooted at an observation field.
func pathText(e celast.Expr, names map[string]bool) (string, bool) {
	switch e.Kind() {
	case celast.IdentKind:
		n := e.AsIdent()
		return n, names[n]
	case celast.SelectKind:
		s := e.AsSelect()
		if s.IsTestOnly() {
			return "", false
		}
		base, ok := pathText(s.Operand(), names)
		if !ok {
			return "", false
		}
		return base + "." + s.FieldName(), true
	case celast.CallKind:
		c := e.AsCall()
		if c.FunctionName() != "_[_]" || len(c.Args()) != 2 {
			return "", false
		}
		base, ok := pathText(c.Args()[0], names)
		if !ok || c.Args()[1].Kind() != celast.LiteralKind {
			return "", false
		}
		lit := c.Args()[1].AsLiteral()
		switch k := lit.Value().(type) {
		case string:
			return fmt.Sprintf("%s[%q]", base, k), true
		case int64:
			return fmt.Sprintf("%s[%d]", base, k), true
		}
	}
	return "", false
}
