package checklist

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Source is one checklist document held in memory.
type Source struct {
	Name string // shown in errors, e.g. "catalog/03-security.yaml"
	Data []byte
}

var (
	builtinsMu sync.RWMutex
	builtins   = map[string]func() []Source{}
)

// RegisterBuiltin makes name includable (`include: [name]`) as the given
// documents, loaded in order. The catalog package registers "catalog".
func RegisterBuiltin(name string, docs func() []Source) {
	builtinsMu.Lock()
	defer builtinsMu.Unlock()
	builtins[name] = docs
}

func builtin(name string) (func() []Source, bool) {
	builtinsMu.RLock()
	defer builtinsMu.RUnlock()
	f, ok := builtins[name]
	return f, ok
}

// BuiltinNames lists the registered built-in includes.
func BuiltinNames() []string {
	builtinsMu.RLock()
	defer builtinsMu.RUnlock()
	return sortedKeys(builtins)
}

const (
	maxIncludeDepth = 8
	maxIncludeSize  = 16 << 20
)

// doc is one parsed document and the documents it includes.
type doc struct {
	c        *Checklist
	src      Source
	included []*doc
}

// parseDoc decodes one document and, recursively, what it includes. stack
// holds the names being included, to report cycles.
func (l *loader) parseDoc(src Source, stack []string) *doc {
	file := src.Name
	var root yaml.Node
	if err := yaml.Unmarshal(src.Data, &root); err != nil {
		line, msg := yamlErrorLine(err)
		l.errs.add(&Error{File: file, Line: line, Col: 1, Msg: msg})
		return nil
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		l.errs.add(&Error{File: file, Line: 1, Col: 1, Msg: "empty checklist"})
		return nil
	}
	c := &Checklist{File: file}
	before := len(*l.errs)
	d := &decoder{errs: l.errs, file: file}
	d.decode(&root, reflect.ValueOf(c).Elem(), "")
	if len(*l.errs) > before && c.Pos == nil {
		return nil
	}
	c.VarDocs = varDocs(root.Content[0])
	errAt := func(p Pos, field, format string, args ...any) {
		l.errs.add(&Error{File: file, Line: p.Line, Col: p.Col, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Version != Version {
		errAt(c.Pos.at("version"), "version", "unsupported version %d (this prf reads version %d)", c.Version, Version)
	}
	if strings.TrimSpace(c.Name) == "" {
		errAt(c.Pos.at("name"), "name", "is required")
	}
	for _, cp := range c.Checkpoints {
		if cp != nil {
			cp.File = file
		}
	}
	for _, x := range c.Disable {
		if x != nil {
			x.file = file
		}
	}
	for _, x := range c.Override {
		if x != nil {
			x.file = file
		}
	}
	out := &doc{c: c, src: src}
	for i, name := range c.Include {
		p := c.Pos.at("include")
		field := fmt.Sprintf("include[%d]", i)
		if len(stack) >= maxIncludeDepth {
			errAt(p, field, "includes nested deeper than %d", maxIncludeDepth)
			continue
		}
		srcs, key, err := resolveInclude(name, file)
		if err != nil {
			errAt(p, field, "%v", err)
			continue
		}
		if slices.Contains(stack, key) || key == file {
			errAt(p, field, "include cycle: %s", strings.Join(append(append([]string{}, stack...), key), " -> "))
			continue
		}
		for _, s := range srcs {
			if sub := l.parseDoc(s, append(stack, key)); sub != nil {
				out.included = append(out.included, sub)
			}
		}
	}
	return out
}

// resolveInclude finds the documents an include names: a built-in, or a
// file relative to the including file.
func resolveInclude(name, from string) ([]Source, string, error) {
	if strings.TrimSpace(name) == "" {
		return nil, "", fmt.Errorf("empty include")
	}
	if f, ok := builtin(name); ok {
		return f(), name, nil
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(from), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) && !strings.ContainsAny(name, "/.") {
			return nil, "", fmt.Errorf("no file %s and no built-in %q (built-ins: %s)", path, name, strings.Join(BuiltinNames(), ", "))
		}
		return nil, "", fmt.Errorf("include %s: %w", name, err)
	}
	// A device or a FIFO would block or never end; a huge file is not a
	// checklist.
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("include %s: not a regular file", name)
	}
	if fi.Size() > maxIncludeSize {
		return nil, "", fmt.Errorf("include %s: %d bytes, more than the %d a checklist may have", name, fi.Size(), maxIncludeSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("include %s: %w", name, err)
	}
	return []Source{{Name: path, Data: data}}, path, nil
}

// assemble merges a document tree into one checklist: included checkpoints
// first, in include order, then the document's own. Variables and secrets
// of the including document override included ones; two included
// documents may not declare the same variable differently.
func (l *loader) assemble(root *doc) *Checklist {
	c := root.c
	vars, secrets, docs := map[string]string{}, map[string]string{}, map[string]string{}
	from := map[string]string{}
	var cps []*Checkpoint
	var disables []*Disable
	var overrides []*Override
	h := sha256.New()
	var walk func(d *doc)
	walk = func(d *doc) {
		for _, sub := range d.included {
			walk(sub)
			for _, k := range sortedKeys(sub.c.Vars) {
				l.mergeDecl(vars, from, "vars", k, sub.c.Vars[k], sub.c)
			}
			for _, k := range sortedKeys(sub.c.Secrets) {
				l.mergeDecl(secrets, from, "secrets", k, sub.c.Secrets[k], sub.c)
			}
			for k, v := range sub.c.VarDocs {
				if _, ok := docs[k]; !ok {
					docs[k] = v
				}
			}
			cps = append(cps, sub.c.Checkpoints...)
			disables = append(disables, sub.c.Disable...)
			overrides = append(overrides, sub.c.Override...)
			sum := sha256.Sum256(sub.src.Data)
			h.Write(sum[:])
		}
	}
	walk(root)
	sum := sha256.Sum256(root.src.Data)
	if len(root.included) == 0 {
		c.Digest = hex.EncodeToString(sum[:])
	} else {
		h.Write(sum[:])
		c.Digest = hex.EncodeToString(h.Sum(nil))
	}
	for k, v := range c.Vars {
		vars[k] = v
	}
	for k, v := range c.Secrets {
		secrets[k] = v
	}
	for k, v := range c.VarDocs {
		docs[k] = v
	}
	c.Vars, c.Secrets, c.VarDocs = vars, secrets, docs
	c.Checkpoints = append(cps, c.Checkpoints...)
	c.Disable = append(disables, c.Disable...)
	c.Override = append(overrides, c.Override...)
	return c
}

func (l *loader) mergeDecl(m, from map[string]string, ns, k, v string, c *Checklist) {
	key := ns + "." + k
	if prev, ok := m[k]; ok && prev != v {
		p := c.Pos.at(ns)
		l.errs.add(&Error{File: c.File, Line: p.Line, Col: p.Col, Field: key,
			Msg: fmt.Sprintf("declared as %q here and as %q in %s", v, prev, from[key])})
		return
	}
	m[k] = v
	from[key] = c.File
}

// applyOverrides applies the disable and override entries to the merged
// checkpoints, before they are validated.
func (l *loader) applyOverrides(ids map[string]*Checkpoint) {
	c := l.c
	for i, x := range c.Disable {
		if x == nil {
			continue
		}
		field := fmt.Sprintf("disable[%d]", i)
		errAt := func(key, format string, args ...any) {
			p := x.Pos.at(key)
			l.errs.add(&Error{File: x.file, Line: p.Line, Col: p.Col, Field: field + suffix(key), Msg: fmt.Sprintf(format, args...)})
		}
		if strings.TrimSpace(x.Reason) == "" {
			errAt("", "a reason is required (it is shown in reports)")
		}
		switch {
		case (x.ID == "") == (x.Tag == ""):
			errAt("", "give either id or tag")
		case x.ID != "":
			cp := ids[x.ID]
			if cp == nil {
				errAt("id", "unknown checkpoint %q%s", x.ID, Suggest(x.ID, sortedKeys(ids)))
				continue
			}
			cp.Disabled = x.Reason
		default:
			n := 0
			for _, cp := range c.Checkpoints {
				if cp != nil && slices.Contains(cp.Tags, x.Tag) {
					cp.Disabled = x.Reason
					n++
				}
			}
			if n == 0 {
				errAt("tag", "no checkpoint has the tag %q", x.Tag)
			}
		}
	}
	for i, o := range c.Override {
		if o == nil {
			continue
		}
		field := fmt.Sprintf("override[%d]", i)
		cp := ids[o.ID]
		if cp == nil {
			p := o.Pos.at("id")
			msg := "id is required"
			if o.ID != "" {
				msg = fmt.Sprintf("unknown checkpoint %q%s", o.ID, Suggest(o.ID, sortedKeys(ids)))
			}
			l.errs.add(&Error{File: o.file, Line: p.Line, Col: p.Col, Field: field + ".id", Msg: msg})
			continue
		}
		errAt := func(key, format string, args ...any) {
			p := o.Pos.at(key)
			l.errs.add(&Error{File: o.file, Line: p.Line, Col: p.Col, ID: o.ID, Field: field + "." + key, Msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case o.Severity == "":
		case !slices.Contains(Severities, o.Severity):
			errAt("severity", "unknown severity %q (one of %s)", o.Severity, strings.Join(Severities, ", "))
		default:
			cp.Severity = o.Severity
		}
		switch {
		case o.Mode == "":
		case !slices.Contains(Modes, o.Mode):
			errAt("mode", "unknown mode %q (one of %s)", o.Mode, strings.Join(Modes, ", "))
		default:
			cp.Mode = o.Mode
		}
		if o.Owner != "" {
			cp.Owner = o.Owner
		}
		if o.Timeout != 0 {
			cp.Timeout = o.Timeout
		}
		switch {
		case o.Retries == nil:
		case *o.Retries < 0 || *o.Retries > 10:
			errAt("retries", "must be between 0 and 10")
		default:
			cp.Retries = *o.Retries
		}
		if o.Expect != "" {
			cp.Expect = o.Expect
			cp.Pos["expect"] = o.Pos.at("expect")
			cp.expectFile = o.file
		}
	}
}

func suffix(key string) string {
	if key == "" {
		return ""
	}
	return "." + key
}

// varDocs reads the comment above each variable and secret.
func varDocs(n *yaml.Node) map[string]string {
	out := map[string]string{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for _, p := range pairs(n) {
		ns := p[0].Value
		if (ns != "vars" && ns != "secrets") || p[1].Kind != yaml.MappingNode {
			continue
		}
		for _, kv := range pairs(p[1]) {
			if text := commentText(kv[0].HeadComment); text != "" {
				out[ns+"."+kv[0].Value] = text
			}
		}
	}
	return out
}

func commentText(c string) string {
	var lines []string
	for _, line := range strings.Split(c, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		if line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, " ")
}
