package signoff

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/atomicfile"
	"github.com/prfhq/prf/internal/yamlx"
)

// Person is one entry of the trust file: who they are, the roles they
// hold and the public key their signatures verify against.
type Person struct {
	Name      string          `yaml:"name" json:"name"`
	Email     string          `yaml:"email" json:"email"`           // the key id
	Roles     []string        `yaml:"roles" json:"roles"`           // e.g. "Security Lead", "CTO"
	PublicKey string          `yaml:"public_key" json:"public_key"` // "ed25519:<base64 raw 32 bytes>"
	Pos       yamlx.Positions `yaml:"-" json:"-"`
}

// HasRole reports whether p holds role, compared as NormalizeRole does.
func (p *Person) HasRole(role string) bool {
	want := NormalizeRole(role)
	if p == nil || want == "" {
		return false
	}
	for _, r := range p.Roles {
		if NormalizeRole(r) == want {
			return true
		}
	}
	return false
}

// Trust is a loaded trust file: the people whose signatures PRF accepts,
// and the two-person rule their emergency overrides follow.
type Trust struct {
	File     string
	Digest   string // hex SHA-256 of the file's bytes
	People   []*Person
	Override OverridePolicy // DefaultOverridePolicy where the file is silent
}

// overrideSpec is the trust file's optional override: mapping. Fields it
// leaves out keep DefaultOverridePolicy's values.
type overrideSpec struct {
	Roles    []string        `yaml:"roles"`
	Required int             `yaml:"required"`
	Window   time.Duration   `yaml:"window"`
	Pos      yamlx.Positions `yaml:"-"`
}

// maxOverrideWindow bounds how long an override request stays open.
const maxOverrideWindow = 24 * time.Hour

// overridePolicy reads the override: mapping into the policy, reporting
// a rule that is not a two-person rule.
func overridePolicy(n *yaml.Node, dec yamlx.Decoder, bad func(yamlx.Pos, string, string, ...any)) OverridePolicy {
	p := DefaultOverridePolicy
	p.Roles = slices.Clone(p.Roles)
	if n == nil {
		return p
	}
	var o overrideSpec
	before := len(*dec.Errs)
	dec.Decode(n, &o, "override")
	if o.Pos == nil {
		if len(*dec.Errs) == before {
			bad(yamlx.PosOf(n), "override", "expected a mapping (roles, required, window), got %s", yamlx.KindName(n))
		}
		return p
	}
	if _, ok := o.Pos["roles"]; ok {
		p.Roles = o.Roles
		if len(o.Roles) == 0 {
			bad(o.Pos["roles"], "override.roles", "empty: name the roles that may request and approve an override")
		}
		checkRoles(n, o.Roles, "override", bad)
	}
	if _, ok := o.Pos["required"]; ok {
		if o.Required < 2 {
			bad(o.Pos["required"], "override.required", "%d: an override needs at least 2 people (the two-person rule)", o.Required)
		}
		p.Required = o.Required
	}
	if _, ok := o.Pos["window"]; ok {
		if o.Window <= 0 || o.Window > maxOverrideWindow {
			bad(o.Pos["window"], "override.window", "%s: want more than 0 and at most %s", o.Window, maxOverrideWindow)
		}
		p.Window = o.Window
	}
	return p
}

// keyPrefix starts every public key in a trust file.
const keyPrefix = "ed25519:"

// FormatPublicKey writes a public key as the trust file holds it.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return keyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads "ed25519:<base64 of 32 bytes>".
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(s, keyPrefix)
	if !ok {
		if typ, _, found := strings.Cut(s, ":"); found && typ != "" && !strings.ContainsAny(typ, " \t") {
			return nil, fmt.Errorf("unknown key type %q (want ed25519:<base64 of 32 bytes>)", typ)
		}
		return nil, errors.New("want ed25519:<base64 of 32 bytes>")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("key is not valid base64 (%v)", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key is %d bytes long, an Ed25519 public key is %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// Fingerprint is a short, comparable name for a public key, in the form
// ssh-keygen -l prints: SHA256:<base64 of the key's SHA-256>.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// LoadTrust reads and checks a trust file. Every problem is reported, as
// yamlx.Errors with file:line:col: unknown keys, a missing or malformed
// name, email, roles or public key, and an email or public key listed twice.
func LoadTrust(path string) (*Trust, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trust file: %w", err)
	}
	return ParseTrust(path, data)
}

// ParseTrust is LoadTrust on bytes already read; file names them in errors.
func ParseTrust(file string, data []byte) (*Trust, error) {
	sum := sha256.Sum256(data)
	t := &Trust{File: file, Digest: hex.EncodeToString(sum[:])}
	root, err := yamlx.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var errs yamlx.Errors
	bad := func(p yamlx.Pos, field, format string, args ...any) {
		errs.Add(&yamlx.Error{File: file, Line: p.Line, Col: p.Col, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	// One document only: a reader must not trust people that PRF ignores.
	docs := yaml.NewDecoder(bytes.NewReader(data))
	var doc1, doc2 yaml.Node
	if docs.Decode(&doc1) == nil {
		if err := docs.Decode(&doc2); err != io.EOF {
			p := yamlx.PosOf(&doc2)
			if p.Line == 0 {
				p = yamlx.Pos{Line: 1, Col: 1}
			}
			bad(p, "", "more than one YAML document: a trust file is one document")
		}
	}
	dec := yamlx.Decoder{Errs: &errs, File: file}
	var doc struct {
		People   *yaml.Node      `yaml:"people"`
		Override *yaml.Node      `yaml:"override"`
		Pos      yamlx.Positions `yaml:"-"`
	}
	dec.Decode(root, &doc, "")
	if doc.Pos == nil { // not a mapping: reported, or else report it
		if len(errs) == 0 {
			bad(yamlx.PosOf(root), "", "expected a mapping with a people: list")
		}
		return nil, errs.Err()
	}
	if _, ok := doc.Pos["people"]; !ok {
		bad(doc.Pos[""], "people", "missing: a trust file lists its people under people:")
	}
	t.Override = overridePolicy(doc.Override, dec, bad)
	seq := doc.People
	for seq != nil && seq.Kind == yaml.AliasNode {
		seq = seq.Alias
	}
	if seq != nil && seq.Kind != yaml.SequenceNode {
		bad(yamlx.PosOf(seq), "people", "expected a list, got %s", yamlx.KindName(seq))
		seq = nil
	}
	emails := map[string]*Person{}
	keys := map[string]*Person{}
	if seq != nil {
		for i, item := range seq.Content {
			field := fmt.Sprintf("people[%d]", i)
			p := &Person{}
			n := len(errs)
			dec.Decode(item, p, field)
			if p.Pos == nil { // not a mapping: reported, or else report it
				if len(errs) == n {
					bad(yamlx.PosOf(item), field, "expected a mapping (name, email, roles, public_key), got %s", yamlx.KindName(item))
				}
				continue
			}
			t.People = append(t.People, p)
			at := p.Pos[""]
			if _, ok := p.Pos["name"]; !ok {
				bad(at, field+".name", "missing: the person's name")
			} else if strings.TrimSpace(p.Name) == "" {
				bad(p.Pos["name"], field+".name", "empty")
			} else if err := checkLine("name", p.Name); err != nil {
				bad(p.Pos["name"], field+".name", "%v", err)
			}
			if _, ok := p.Pos["email"]; !ok {
				bad(at, field+".email", "missing: the person's email, which names their key")
			} else if err := checkEmail(p.Email); err != nil {
				bad(p.Pos["email"], field+".email", "%v", err)
			} else if first, dup := emails[strings.ToLower(p.Email)]; dup {
				bad(p.Pos["email"], field+".email", "%s is already listed at line %d (an email names one key)", p.Email, first.Pos["email"].Line)
			} else {
				emails[strings.ToLower(p.Email)] = p
			}
			checkPersonRoles(p, item, field, bad)
			if _, ok := p.Pos["public_key"]; !ok {
				bad(at, field+".public_key", "missing: the person's public key (ed25519:<base64>), printed by prf identity new")
			} else if pub, err := ParsePublicKey(p.PublicKey); err != nil {
				bad(p.Pos["public_key"], field+".public_key", "%v", err)
			} else if first, dup := keys[string(pub)]; dup {
				bad(p.Pos["public_key"], field+".public_key", "the same key as %s at line %d (one key signs for one person)", first.Email, first.Pos["public_key"].Line)
			} else {
				keys[string(pub)] = p
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// checkPersonRoles reports a missing or empty role list, an empty role
// and a role listed twice, each at its position.
func checkPersonRoles(p *Person, item *yaml.Node, field string, bad func(yamlx.Pos, string, string, ...any)) {
	if _, ok := p.Pos["roles"]; !ok {
		bad(p.Pos[""], field+".roles", "missing: the roles the person holds (e.g. [Security Lead])")
		return
	}
	if len(p.Roles) == 0 {
		bad(p.Pos["roles"], field+".roles", "empty: a person holds at least one role")
		return
	}
	checkRoles(item, p.Roles, field, bad)
}

// checkRoles reports an empty role, one that is not a single line and one
// listed twice, each at its place in parent's roles list.
func checkRoles(parent *yaml.Node, roles []string, field string, bad func(yamlx.Pos, string, string, ...any)) {
	seen := map[string]bool{}
	for j, r := range roles {
		rf := fmt.Sprintf("%s.roles[%d]", field, j)
		rp := yamlx.FieldPos(parent, fmt.Sprintf("roles[%d]", j))
		n := NormalizeRole(r)
		switch {
		case n == "":
			bad(rp, rf, "empty role")
		case checkLine("role", r) != nil:
			bad(rp, rf, "%v", checkLine("role", r))
		case seen[n]:
			bad(rp, rf, "role %q listed twice", r)
		}
		seen[n] = true
	}
}

// Person returns the person with this email (compared case-insensitively).
func (t *Trust) Person(email string) (*Person, bool) {
	if t == nil {
		return nil, false
	}
	for _, p := range t.People {
		if p != nil && strings.EqualFold(p.Email, email) {
			return p, true
		}
	}
	return nil, false
}

// HasRole reports whether the person with this email holds role. Roles
// compare case-insensitively, with white space normalised.
func (t *Trust) HasRole(email, role string) bool {
	p, ok := t.Person(email)
	return ok && p.HasRole(role)
}

// HoldingAny counts the people who hold at least one of roles.
func (t *Trust) HoldingAny(roles []string) int {
	n := 0
	for _, p := range t.People {
		if slices.ContainsFunc(roles, p.HasRole) {
			n++
		}
	}
	return n
}

// WithRole returns the people who hold role, in file order.
func (t *Trust) WithRole(role string) []*Person {
	if t == nil {
		return nil
	}
	var out []*Person
	for _, p := range t.People {
		if p.HasRole(role) {
			out = append(out, p)
		}
	}
	return out
}

// PublicKey returns the public key of the person whose key id (email) is
// keyID; false when there is none or it does not parse.
func (t *Trust) PublicKey(keyID string) (ed25519.PublicKey, bool) {
	p, ok := t.Person(keyID)
	if !ok {
		return nil, false
	}
	pub, err := ParsePublicKey(p.PublicKey)
	if err != nil {
		return nil, false
	}
	return pub, true
}

// trustHeader starts a trust file that AppendPerson creates.
const trustHeader = `# PRF trust file: the people whose signatures PRF accepts, the roles each
# holds, and their public keys. Whoever can change this file can grant any
# role, so review changes to it like code. A private key never belongs here:
# it stays in its owner's config directory (prf identity new puts it there).
`

// FormatPerson writes p as one entry of the trust file's people list, a
// YAML list item ("- name: ...") followed by a newline.
func FormatPerson(p Person) ([]byte, error) {
	if err := checkPerson(&p); err != nil {
		return nil, err
	}
	s := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	roles := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, r := range p.Roles {
		roles.Content = append(roles.Content, s(r))
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		s("name"), s(p.Name), s("email"), s(p.Email), s("roles"), roles, s("public_key"), s(p.PublicKey),
	}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{m}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// checkPerson checks p as AppendPerson would write it, cleaning its roles
// and name.
func checkPerson(p *Person) error {
	name, roles, err := cleanIdentity(p.Name, p.Email, p.Roles)
	if err != nil {
		return err
	}
	p.Name, p.Roles = name, roles
	if _, err := ParsePublicKey(p.PublicKey); err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	return nil
}

// AppendPerson adds p at the end of the trust file's people list, keeping
// every byte already there (comments included). A missing file is created
// with a header comment that says what the file is. An email or a public
// key the file already lists is refused (ErrDuplicate), and so is a file
// that does not load: fix it first.
func AppendPerson(path string, p Person) error {
	entry, err := FormatPerson(p)
	if err != nil {
		return fmt.Errorf("add %s to %s: %w", p.Email, path, err)
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // lock beside and replace the file a link points to, not the link
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		out := append([]byte(trustHeader+"people:\n"), indentEntry(entry, "  ", 2, "\n")...)
		return atomicfile.WriteFile(path, out, 0o644)
	}
	if err != nil {
		return fmt.Errorf("trust file: %w", err)
	}
	old, err := ParseTrust(path, data)
	if err != nil {
		return fmt.Errorf("cannot add %s until %s loads: %w", p.Email, path, err)
	}
	if q, ok := old.Person(p.Email); ok {
		return fmt.Errorf("%s: %s is listed at line %d: %w", path, q.Email, q.Pos["email"].Line, ErrDuplicate)
	}
	pub, _ := ParsePublicKey(p.PublicKey)
	for _, q := range old.People {
		if k, err := ParsePublicKey(q.PublicKey); err == nil && k.Equal(pub) {
			return fmt.Errorf("%s: this public key is %s's (line %d): %w", path, q.Email, q.Pos["public_key"].Line, ErrDuplicate)
		}
	}
	out, ok := appendEntry(data, entry)
	if ok {
		// The result must load and hold exactly one more person: this one.
		nt, err := ParseTrust(path, out)
		ok = err == nil && len(nt.People) == len(old.People)+1
		if ok {
			q, found := nt.Person(p.Email)
			ok = found && q.PublicKey == p.PublicKey
		}
	}
	if !ok {
		return fmt.Errorf("cannot add %s to %s automatically (the people list is not a block list this tool can extend); add this entry to it by hand:\n%s", p.Email, path, entry)
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	return atomicfile.WriteFile(path, out, mode)
}

// appendEntry returns data with entry added to the people list, or false
// when the list is not laid out in a way it can extend (a flow list with
// items, a merge key): the caller then asks for a hand edit.
func appendEntry(data, entry []byte) ([]byte, bool) {
	root, err := yamlx.Parse("", data)
	if err != nil || len(root.Content) == 0 {
		return nil, false
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode || m.Style&yaml.FlowStyle != 0 {
		return nil, false
	}
	idx := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "people" && m.Content[i].Tag != "!!merge" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, false
	}
	key, val := m.Content[idx], m.Content[idx+1]
	nl := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		nl = "\r\n"
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	indent, pad := strings.Repeat(" ", key.Column-1+2), 2
	switch {
	case val.Kind == yaml.SequenceNode && val.Style&yaml.FlowStyle == 0 && len(val.Content) > 0:
		indent = strings.Repeat(" ", val.Column-1)
		if first := val.Content[0]; first.Line == val.Line && first.Column > val.Column {
			pad = first.Column - val.Column
		}
	case val.Kind == yaml.SequenceNode && val.Style&yaml.FlowStyle != 0 && len(val.Content) == 0,
		val.Kind == yaml.ScalarNode && val.Tag == "!!null":
		// "people: []", "people: ~" or "people:": drop the token, then
		// add a block list.
		if val.Value != "" || val.Kind == yaml.SequenceNode {
			if !removeToken(lines, val) {
				return nil, false
			}
		}
	default:
		return nil, false
	}
	item := indentEntry(entry, indent, pad, nl)
	// Where the list ends: before the next top-level key (and the comments
	// just above it, which belong to it), or at the end of the file.
	at := len(lines)
	if idx+2 < len(m.Content) {
		at = m.Content[idx+2].Line - 1
		for at > key.Line && at-1 < len(lines) {
			l := strings.TrimSpace(string(lines[at-1]))
			if l != "" && !strings.HasPrefix(l, "#") {
				break
			}
			at--
		}
		if at > len(lines) {
			return nil, false
		}
	}
	var out bytes.Buffer
	for _, l := range lines[:at] {
		out.Write(l)
	}
	if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteString(nl)
	}
	out.Write(item)
	for _, l := range lines[at:] {
		out.Write(l)
	}
	return out.Bytes(), true
}

// removeToken blanks out a one-line value token ("[]", "[ ]", "~", "null")
// in lines, in place; false when it is not where the node says.
func removeToken(lines [][]byte, n *yaml.Node) bool {
	if n.Line < 1 || n.Line > len(lines) {
		return false
	}
	l := lines[n.Line-1]
	start := n.Column - 1
	if start < 0 || start >= len(l) {
		return false
	}
	end := start + len(n.Value)
	if n.Kind == yaml.SequenceNode {
		close := bytes.IndexByte(l[start:], ']')
		if l[start] != '[' || close < 0 {
			return false
		}
		end = start + close + 1
	} else if end > len(l) || string(l[start:end]) != n.Value {
		return false
	}
	nl := bytes.Clone(l[:start])
	nl = append(nl, l[end:]...)
	lines[n.Line-1] = nl
	return true
}

// indentEntry re-indents a FormatPerson entry ("- k: v\n  k: v\n"): the
// dash at indent, the keys pad columns after it, lines ended by nl.
func indentEntry(entry []byte, indent string, pad int, nl string) []byte {
	var b bytes.Buffer
	for i, l := range strings.Split(strings.TrimSuffix(string(entry), "\n"), "\n") {
		b.WriteString(indent)
		if i == 0 {
			b.WriteString("-" + strings.Repeat(" ", pad-1) + strings.TrimPrefix(l, "- "))
		} else {
			b.WriteString(strings.Repeat(" ", pad) + strings.TrimPrefix(l, "  "))
		}
		b.WriteString(nl)
	}
	return b.Bytes()
}
