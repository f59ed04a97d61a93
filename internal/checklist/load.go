package checklist

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/expect"
	"github.com/prfhq/prf/internal/probe"
	"github.com/prfhq/prf/internal/yamlx"
)

// Options control loading.
type Options struct {
	// Registry of probe kinds; nil means probe.Default().
	Registry *probe.Registry
	// Vars override the file's vars (from --var NAME=VALUE).
	Vars map[string]string
	// Secrets override the file's secret references (from --secret
	// NAME=REF).
	Secrets map[string]string
	// ResolveSecrets makes an unresolvable secret reference an error (lint
	// and check do; loading for a report does not).
	ResolveSecrets bool
}

// Load reads and validates a checklist file. The error, if any, is Errors
// listing every problem with its file:line:col.
func Load(path string, opts Options) (*Checklist, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checklist: %w", err)
	}
	return Parse(data, path, opts)
}

// Parse validates a checklist held in memory; file names it in errors and
// is the directory its relative includes are read from.
func Parse(data []byte, file string, opts Options) (*Checklist, error) {
	if opts.Registry == nil {
		opts.Registry = probe.Default()
	}
	var errs Errors
	l := &loader{errs: &errs, file: file, opts: opts, exprs: expect.NewCompiler()}
	root := l.parseDoc(Source{Name: file, Data: data}, nil)
	if root == nil {
		return nil, errs.Err()
	}
	l.c = l.assemble(root)
	l.validate()
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return l.c, nil
}

type loader struct {
	c     *Checklist
	errs  *Errors
	file  string
	opts  Options
	exprs *expect.Compiler
}

func (l *loader) errAt(p Pos, id, field, format string, args ...any) {
	l.errs.Add(&Error{File: l.file, Line: p.Line, Col: p.Col, ID: id, Field: field, Msg: fmt.Sprintf(format, args...)})
}

var (
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$`)
	nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (l *loader) validate() {
	c := l.c
	seenRole := map[string]bool{}
	for i, a := range c.Approvals {
		if a == nil {
			l.errAt(c.Pos.At("approvals"), "", fmt.Sprintf("approvals[%d]", i), "empty entry")
			continue
		}
		role := strings.ToLower(strings.Join(strings.Fields(a.Role), " "))
		switch {
		case role == "":
			l.errAt(a.Pos.At(""), "", fmt.Sprintf("approvals[%d].role", i), "is required")
		case role == "cto":
			l.errAt(a.Pos.At("role"), "", fmt.Sprintf("approvals[%d].role", i), "the CTO authorizes the deployment (prf authorize); leave it out of the approvals")
		case seenRole[role]:
			l.errAt(a.Pos.At("role"), "", fmt.Sprintf("approvals[%d].role", i), "duplicate role %q", a.Role)
		}
		seenRole[role] = true
	}
	for k, v := range l.opts.Vars {
		c.Vars[k] = v
	}
	for k, v := range l.opts.Secrets {
		c.Secrets[k] = v
	}
	for _, k := range sortedKeys(c.Secrets) {
		p := c.Pos.At("secrets")
		if !nameRE.MatchString(k) {
			l.errAt(p, "", "secrets."+k, "invalid name (letters, digits, _)")
		}
		if c.Secrets[k] == "" {
			continue // declared, not configured
		}
		if err := checkSecretRef(c.Secrets[k]); err != nil {
			l.errAt(p, "", "secrets."+k, "%v", err)
			continue
		}
		if l.opts.ResolveSecrets {
			if _, err := ResolveSecret(c.Secrets[k]); err != nil {
				l.errAt(p, "", "secrets."+k, "cannot resolve: %v", err)
			}
		}
	}
	if len(c.Checkpoints) == 0 {
		l.errAt(c.Pos.At("checkpoints"), "", "checkpoints", "at least one checkpoint is required")
	}
	ids := map[string]*Checkpoint{}
	for i, cp := range c.Checkpoints {
		if cp == nil {
			l.errAt(c.Pos.At("checkpoints"), "", fmt.Sprintf("checkpoints[%d]", i), "empty checkpoint")
			continue
		}
		if cp.ID == "" {
			continue
		}
		if prev, dup := ids[cp.ID]; dup {
			l.file = cp.File
			where := fmt.Sprintf("line %d", prev.Pos.At("id").Line)
			if prev.File != cp.File {
				where = fmt.Sprintf("%s:%d; change an included checkpoint with override:", prev.File, prev.Pos.At("id").Line)
			}
			l.errAt(cp.Pos.At("id"), cp.ID, "id", "duplicate id (first at %s)", where)
			continue
		}
		ids[cp.ID] = cp
	}
	l.applyOverrides(ids)
	for _, cp := range c.Checkpoints {
		if cp != nil {
			l.file = cp.File
			l.checkpoint(cp)
		}
	}
	l.dependencies(ids)
	l.file = c.File
}

// oneOf says why v is not one of valid, or "" when it is. The checkpoint
// fields and their overrides share it.
func oneOf(what, v string, valid []string) string {
	if slices.Contains(valid, v) {
		return ""
	}
	return fmt.Sprintf("unknown %s %q (one of %s)", what, v, strings.Join(valid, ", "))
}

// retriesError says why n is not a valid retry count, or "".
func retriesError(n int) string {
	if n < 0 || n > 10 {
		return "must be between 0 and 10"
	}
	return ""
}

func (l *loader) checkpoint(cp *Checkpoint) {
	id := cp.ID
	switch {
	case id == "":
		l.errAt(cp.Pos.At(""), "", "id", "is required")
	case !idRE.MatchString(id):
		l.errAt(cp.Pos.At("id"), id, "id", "invalid id (letters, digits, - and _ in dot-separated parts)")
	}
	if strings.TrimSpace(cp.Title) == "" {
		l.errAt(cp.Pos.At(""), id, "title", "is required")
	}
	if cp.Domain == "" {
		l.errAt(cp.Pos.At(""), id, "domain", "is required (one of %s)", strings.Join(Domains, ", "))
	} else if !slices.Contains(Domains, cp.Domain) {
		l.errAt(cp.Pos.At("domain"), id, "domain", "unknown domain %q (one of %s)", cp.Domain, strings.Join(Domains, ", "))
	}
	if strings.TrimSpace(cp.Owner) == "" {
		l.errAt(cp.Pos.At(""), id, "owner", "is required (the role that owns it)")
	}
	if cp.Severity == "" {
		cp.Severity = SeverityBlocking
	} else if msg := oneOf("severity", cp.Severity, Severities); msg != "" {
		l.errAt(cp.Pos.At("severity"), id, "severity", "%s", msg)
	}
	if cp.Mode == "" {
		cp.Mode = ModeEnforce
	} else if msg := oneOf("mode", cp.Mode, Modes); msg != "" {
		l.errAt(cp.Pos.At("mode"), id, "mode", "%s", msg)
	}
	if msg := retriesError(cp.Retries); msg != "" {
		l.errAt(cp.Pos.At("retries"), id, "retries", "%s", msg)
	}
	if cp.Timeout == 0 {
		cp.Timeout = DefaultTimeout
	}
	for i, ctl := range cp.Controls {
		if fw, ref, ok := strings.Cut(ctl, ":"); !ok || fw == "" || ref == "" {
			l.errAt(cp.Pos.At("controls"), id, fmt.Sprintf("controls[%d]", i), "control %q: want FRAMEWORK:REF, e.g. NIST-800-53:SC-8", ctl)
		}
	}
	hasProbe := cp.ProbeNode.Kind != 0
	hasManual := cp.ManualNode.Kind != 0 && !(cp.ManualNode.Kind == yaml.ScalarNode && cp.ManualNode.Value == "false")
	switch {
	case hasProbe && hasManual:
		l.errAt(cp.Pos.At("manual"), id, "manual", "a checkpoint has either probe or manual, not both")
	case !hasProbe && !hasManual:
		l.errAt(cp.Pos.At(""), id, "probe", "a checkpoint needs a probe (with expect) or manual")
	case hasManual:
		l.manual(cp)
		if cp.Expect != "" {
			l.errAt(cp.Pos.At("expect"), id, "expect", "a manual checkpoint has no expect")
		}
	default:
		l.probe(cp)
	}
}

func (l *loader) manual(cp *Checkpoint) {
	n := &cp.ManualNode
	m := &Manual{}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!bool" && n.Value == "true":
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		m.Evidence = n.Value
	case n.Kind == yaml.MappingNode:
		d := &yamlx.Decoder{Errs: l.errs, File: l.file, ID: cp.ID, Prefix: "manual."}
		d.Decode(n, m, "")
	default:
		l.errAt(yamlx.PosOf(n), cp.ID, "manual", "want true, the evidence as text, or {evidence, instructions}")
		return
	}
	cp.Manual = m
}

func (l *loader) probe(cp *Checkpoint) {
	n := &cp.ProbeNode
	if n.Kind != yaml.MappingNode {
		l.errAt(yamlx.PosOf(n), cp.ID, "probe", "expected a mapping with kind and settings, got %s", yamlx.KindName(n))
		return
	}
	settings := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	var kindNode *yaml.Node
	for _, p := range yamlx.Pairs(n) {
		if p[0].Value == "kind" {
			kindNode = p[1]
			continue
		}
		settings.Content = append(settings.Content, p[0], p[1])
	}
	if kindNode == nil {
		l.errAt(yamlx.PosOf(n), cp.ID, "probe.kind", "is required (one of %s)", strings.Join(l.opts.Registry.Names(), ", "))
		return
	}
	k, ok := l.opts.Registry.Lookup(kindNode.Value)
	if !ok {
		l.errAt(yamlx.PosOf(kindNode), cp.ID, "probe.kind", "unknown probe kind %q (one of %s)", kindNode.Value, strings.Join(l.opts.Registry.Names(), ", "))
		return
	}
	cp.Kind, cp.probeKind, cp.settings = k.Name, k, settings
	cp.Alone = k.Alone
	if cp.Exclusive != nil {
		cp.Alone = *cp.Exclusive
	}
	// Decode at load time with secrets as placeholders, to report unknown
	// settings, wrong types and invalid values with their position. A
	// checkpoint that reads an empty variable is not configured: it is
	// skipped at run time, and its settings are judged once it is.
	var errs Errors
	unset := map[string]bool{}
	spec := l.c.decodeSpec(cp, &errs, func(ref string) (string, error) {
		return notConfigured(unset)(l.c.lookupRef(ref, func(name string) (string, error) { return "SECRET-" + name, nil }))
	})
	if strings.TrimSpace(cp.Expect) == "" {
		l.errAt(cp.Pos.At(""), cp.ID, "expect", "an automated checkpoint needs an expect expression")
		return
	}
	file := l.file
	if cp.expectFile != "" {
		file = cp.expectFile
	}
	src, err := interpolate(cp.Expect, func(ref string) (string, error) {
		if strings.HasPrefix(ref, "secrets.") {
			return "", fmt.Errorf("secrets cannot be used in expect")
		}
		return notConfigured(unset)(l.c.lookupRef(ref, nil))
	})
	if len(unset) > 0 {
		cp.NotConfigured = sortedKeys(unset)
		return
	}
	for _, e := range errs {
		l.errs.Add(e)
	}
	if len(errs) == 0 {
		if err := spec.Validate(); err != nil {
			l.specError(cp, err)
		}
	}
	if err != nil {
		l.errs.Add(&Error{File: file, Line: cp.Pos.At("expect").Line, Col: cp.Pos.At("expect").Col, ID: cp.ID, Field: "expect", Msg: err.Error()})
		return
	}
	prog, err := l.exprs.Compile(src, k.Fields())
	if err != nil {
		var ces expect.CompileErrors
		if errors.As(err, &ces) {
			for _, ce := range ces {
				l.errs.Add(&Error{File: file, ID: cp.ID, Field: "expect", Msg: ce.Msg + fieldsHint(ce.Msg, k),
					Line: exprPos(cp, ce).Line, Col: exprPos(cp, ce).Col})
			}
			return
		}
		l.errs.Add(&Error{File: file, Line: cp.Pos.At("expect").Line, Col: cp.Pos.At("expect").Col, ID: cp.ID, Field: "expect", Msg: err.Error()})
		return
	}
	cp.Program = prog
}

// NotConfiguredError is returned for a reference to an empty variable or
// secret that has no default.
type NotConfiguredError struct{ Name string }

func (e *NotConfiguredError) Error() string {
	return fmt.Sprintf("%s is not configured", e.Name)
}

// notConfigured turns a not-configured reference into a recorded name and
// an empty value, so that interpolation goes on and finds every one.
func notConfigured(unset map[string]bool) func(string, error) (string, error) {
	return func(v string, err error) (string, error) {
		var nc *NotConfiguredError
		if errors.As(err, &nc) {
			unset[nc.Name] = true
			return "", nil
		}
		return v, err
	}
}

func fieldsHint(msg string, k probe.Kind) string {
	if !strings.Contains(msg, "undeclared reference") {
		return ""
	}
	f := k.Fields()
	sort.Strings(f)
	return fmt.Sprintf(" (a %s observation has: %s)", k.Name, strings.Join(f, ", "))
}

// exprPos maps a position inside the expression to the file.
func exprPos(cp *Checkpoint, ce *expect.CompileError) Pos {
	p := cp.Pos.At("expect")
	switch p.Style() {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Block scalar: the expression starts on the next line; its
		// indentation is not recorded, so the column is approximate.
		return Pos{Line: p.Line + ce.Line, Col: p.Col + ce.Col - 1}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		return Pos{Line: p.Line + ce.Line - 1, Col: p.Col + ce.Col}
	}
	return Pos{Line: p.Line + ce.Line - 1, Col: p.Col + ce.Col - 1}
}

// specError places a probe Validate error on its field.
func (l *loader) specError(cp *Checkpoint, err error) {
	var fe *probe.FieldError
	if errors.As(err, &fe) {
		l.errAt(yamlx.FieldPos(cp.settings, fe.Field), cp.ID, "probe."+fe.Field, "%s", fe.Msg)
		return
	}
	l.errAt(yamlx.PosOf(cp.settings), cp.ID, "probe", "%v", err)
}

func (c *Checklist) decodeSpec(cp *Checkpoint, errs *Errors, lookup func(ref string) (string, error)) probe.Spec {
	spec := cp.probeKind.NewSpec()
	d := &yamlx.Decoder{Errs: errs, File: cp.File, ID: cp.ID, Prefix: "probe.", Interp: func(s string) (string, error) {
		return interpolate(s, lookup)
	}}
	d.Decode(cp.settings, spec, "")
	return spec
}

// lookupRef resolves "vars.NAME" and, with secret set, "secrets.NAME".
// "vars.NAME:-DEFAULT" gives DEFAULT when NAME is empty; without a default
// an empty variable or secret is a *NotConfiguredError.
func (c *Checklist) lookupRef(ref string, secret func(name string) (string, error)) (string, error) {
	ref, def, hasDef := strings.Cut(ref, ":-")
	ns, name, _ := strings.Cut(ref, ".")
	switch ns {
	case "vars":
		v, ok := c.Vars[name]
		if !ok {
			return "", fmt.Errorf("undefined variable ${%s}", ref)
		}
		if v == "" {
			if hasDef {
				return def, nil
			}
			return "", &NotConfiguredError{Name: name}
		}
		return v, nil
	case "secrets":
		r, ok := c.Secrets[name]
		if !ok {
			return "", fmt.Errorf("undeclared secret ${%s} (declare it under secrets:)", ref)
		}
		if secret == nil {
			return "", fmt.Errorf("secrets cannot be used here")
		}
		if r == "" {
			if hasDef {
				return def, nil
			}
			return "", &NotConfiguredError{Name: "secrets." + name}
		}
		return secret(name)
	}
	return "", fmt.Errorf("unknown reference ${%s} (want ${vars.NAME} or ${secrets.NAME})", ref)
}

// Secrets holds resolved secret values for one run. Never store or print it.
type Secrets map[string]string

// ResolveSecrets resolves every declared secret.
func (c *Checklist) ResolveSecrets() (Secrets, error) {
	s := make(Secrets, len(c.Secrets))
	for _, k := range sortedKeys(c.Secrets) {
		if c.Secrets[k] == "" {
			continue // not configured
		}
		v, err := ResolveSecret(c.Secrets[k])
		if err != nil {
			return nil, fmt.Errorf("secret %q: %w", k, err)
		}
		s[k] = v
	}
	return s, nil
}

// Values lists the secret values, for redaction.
func (s Secrets) Values() []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

// Spec decodes cp's probe settings for a run, with secrets filled in.
func (c *Checklist) Spec(cp *Checkpoint, secrets Secrets) (probe.Spec, error) {
	if cp.settings == nil {
		return nil, fmt.Errorf("checkpoint %q has no probe", cp.ID)
	}
	var errs Errors
	spec := c.decodeSpec(cp, &errs, func(ref string) (string, error) {
		return c.lookupRef(ref, func(name string) (string, error) {
			v, ok := secrets[name]
			if !ok {
				return "", fmt.Errorf("secret %q is not resolved", name)
			}
			return v, nil
		})
	})
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	return spec, nil
}

func (l *loader) dependencies(ids map[string]*Checkpoint) {
	for _, cp := range l.c.Checkpoints {
		if cp == nil {
			continue
		}
		l.file = cp.File
		for i, dep := range cp.DependsOn {
			switch {
			case dep == cp.ID:
				l.errAt(cp.Pos.At("depends_on"), cp.ID, fmt.Sprintf("depends_on[%d]", i), "a checkpoint cannot depend on itself")
			case ids[dep] == nil:
				l.errAt(cp.Pos.At("depends_on"), cp.ID, fmt.Sprintf("depends_on[%d]", i), "unknown checkpoint %q", dep)
			}
		}
	}
	// Cycle detection: depth-first, reporting each cycle once at the
	// checkpoint where it closes.
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(id string)
	visit = func(id string) {
		l.file = ids[id].File
		color[id] = grey
		stack = append(stack, id)
		cp := ids[id]
		for _, dep := range cp.DependsOn {
			if ids[dep] == nil || dep == id {
				continue
			}
			switch color[dep] {
			case white:
				visit(dep)
			case grey:
				i := slices.Index(stack, dep)
				cycle := append(append([]string{}, stack[i:]...), dep)
				l.file = cp.File
				l.errAt(cp.Pos.At("depends_on"), cp.ID, "depends_on", "dependency cycle: %s", strings.Join(cycle, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
	}
	for _, cp := range l.c.Checkpoints {
		if cp != nil && ids[cp.ID] == cp && color[cp.ID] == white {
			visit(cp.ID)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
