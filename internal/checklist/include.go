package checklist

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/yamlx"
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
	root, err := yamlx.Parse(file, src.Data)
	if err != nil {
		if errors.Is(err, yamlx.ErrEmpty) {
			l.errs.Add(&Error{File: file, Line: 1, Col: 1, Msg: "empty checklist"})
			return nil
		}
		var es Errors
		if errors.As(err, &es) {
			*l.errs = append(*l.errs, es...)
		}
		return nil
	}
	c := &Checklist{File: file}
	before := len(*l.errs)
	d := &yamlx.Decoder{Errs: l.errs, File: file}
	d.Decode(root, c, "")
	if len(*l.errs) > before && c.Pos == nil {
		return nil
	}
	c.Decls = decls(root.Content[0])
	errAt := func(p Pos, field, format string, args ...any) {
		l.errs.Add(&Error{File: file, Line: p.Line, Col: p.Col, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Version != Version {
		errAt(c.Pos.At("version"), "version", "unsupported version %d (this prf reads version %d)", c.Version, Version)
	}
	if strings.TrimSpace(c.Name) == "" {
		errAt(c.Pos.At("name"), "name", "is required")
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
		p := c.Pos.At("include")
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
	vars, secrets := map[string]string{}, map[string]string{}
	var declared []Decl
	at := map[string]int{} // key → index in declared
	// declare adds declarations in order; a comment fills in a missing one,
	// and the including file's own comments win.
	declare := func(ds []Decl, own bool) {
		for _, d := range ds {
			i, ok := at[d.Key]
			switch {
			case !ok:
				at[d.Key] = len(declared)
				declared = append(declared, d)
			case d.Doc != "" && (own || declared[i].Doc == ""):
				declared[i].Doc = d.Doc
			}
		}
	}
	from := map[string]string{}
	var cps []*Checkpoint
	var disables []*Disable
	var overrides []*Override
	var approvals []*Approval
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
			declare(sub.c.Decls, false)
			cps = append(cps, sub.c.Checkpoints...)
			disables = append(disables, sub.c.Disable...)
			overrides = append(overrides, sub.c.Override...)
			if len(sub.c.Approvals) > 0 {
				approvals = sub.c.Approvals
			}
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
	declare(c.Decls, true)
	c.Vars, c.Secrets, c.Decls = vars, secrets, declared
	c.Checkpoints = append(cps, c.Checkpoints...)
	c.Disable = append(disables, c.Disable...)
	c.Override = append(overrides, c.Override...)
	if len(c.Approvals) == 0 {
		c.Approvals = approvals
	}
	return c
}

func (l *loader) mergeDecl(m, from map[string]string, ns, k, v string, c *Checklist) {
	key := ns + "." + k
	if prev, ok := m[k]; ok && prev != v {
		p := c.Pos.At(ns)
		l.errs.Add(&Error{File: c.File, Line: p.Line, Col: p.Col, Field: key,
			Msg: fmt.Sprintf("declared as %q here and as %q in %s", v, prev, from[key])})
		return
	}
	m[k] = v
	from[key] = c.File
}

// entryErr reports a problem with a disable or override entry, at the
// position of its key ("" for the entry itself), in the file it is in.
func (l *loader) entryErr(file string, pos Positions, id, field, key, format string, args ...any) {
	p := pos.At(key)
	if key != "" {
		field += "." + key
	}
	l.errs.Add(&Error{File: file, Line: p.Line, Col: p.Col, ID: id, Field: field, Msg: fmt.Sprintf(format, args...)})
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
		if strings.TrimSpace(x.Reason) == "" {
			l.entryErr(x.file, x.Pos, "", field, "", "a reason is required (it is shown in reports)")
		}
		switch {
		case (x.ID == "") == (x.Tag == ""):
			l.entryErr(x.file, x.Pos, "", field, "", "give either id or tag")
		case x.ID != "":
			cp := ids[x.ID]
			if cp == nil {
				l.entryErr(x.file, x.Pos, "", field, "id", "unknown checkpoint %q%s", x.ID, Suggest(x.ID, sortedKeys(ids)))
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
				l.entryErr(x.file, x.Pos, "", field, "tag", "no checkpoint has the tag %q", x.Tag)
			}
		}
	}
	for i, o := range c.Override {
		if o == nil {
			continue
		}
		field := fmt.Sprintf("override[%d]", i)
		cp := ids[o.ID]
		switch {
		case o.ID == "":
			l.entryErr(o.file, o.Pos, "", field, "id", "id is required")
			continue
		case cp == nil:
			l.entryErr(o.file, o.Pos, "", field, "id", "unknown checkpoint %q%s", o.ID, Suggest(o.ID, sortedKeys(ids)))
			continue
		}
		// Invalid values are reported here, where the override wrote them,
		// and not applied.
		if o.Severity != "" {
			if msg := oneOf("severity", o.Severity, Severities); msg != "" {
				l.entryErr(o.file, o.Pos, o.ID, field, "severity", "%s", msg)
			} else {
				cp.Severity = o.Severity
			}
		}
		if o.Mode != "" {
			if msg := oneOf("mode", o.Mode, Modes); msg != "" {
				l.entryErr(o.file, o.Pos, o.ID, field, "mode", "%s", msg)
			} else {
				cp.Mode = o.Mode
			}
		}
		if o.Retries != nil {
			if msg := retriesError(*o.Retries); msg != "" {
				l.entryErr(o.file, o.Pos, o.ID, field, "retries", "%s", msg)
			} else {
				cp.Retries = *o.Retries
			}
		}
		if o.Owner != "" {
			cp.Owner = o.Owner
		}
		if o.Timeout != 0 {
			cp.Timeout = o.Timeout
		}
		if o.Expect != "" {
			cp.Expect = o.Expect
			cp.Pos["expect"] = o.Pos.At("expect")
			cp.expectFile = o.file
		}
	}
}

// decls lists the variables and secrets a document declares, in order,
// with the comment above each.
func decls(n *yaml.Node) []Decl {
	var out []Decl
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for _, p := range yamlx.Pairs(n) {
		ns := p[0].Value
		if (ns != "vars" && ns != "secrets") || p[1].Kind != yaml.MappingNode {
			continue
		}
		for _, kv := range yamlx.Pairs(p[1]) {
			out = append(out, Decl{Key: ns + "." + kv[0].Value, Doc: commentText(kv[0].HeadComment)})
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
