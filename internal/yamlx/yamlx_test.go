package yamlx

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// level is a TextUnmarshaler scalar.
type level int

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return fmt.Errorf("unknown level %q (low or high)", b)
	}
	return nil
}

type inner struct {
	Rate float64   `yaml:"rate"`
	Pos  Positions `yaml:"-"`
}

type item struct {
	ID string `yaml:"id"`
	N  int    `yaml:"n"`
}

type common struct {
	Note string `yaml:"note"`
}

type target struct {
	Name    string            `yaml:"name"`
	Timeout time.Duration     `yaml:"timeout"`
	Count   int               `yaml:"count"`
	Workers uint8             `yaml:"workers"`
	On      bool              `yaml:"on"`
	Level   level             `yaml:"level"`
	Tags    []string          `yaml:"tags"`
	Env     map[string]string `yaml:"env"`
	Inner   *inner            `yaml:"inner"`
	Items   []item            `yaml:"items"`
	Raw     yaml.Node         `yaml:"raw"`
	Any     any               `yaml:"any"`
	Common  common            `yaml:",inline"`
	Pos     Positions         `yaml:"-"`
}

// interp replaces ${v} with "val"; any other ${...} is an error.
func interp(s string) (string, error) {
	s = strings.ReplaceAll(s, "${v}", "val")
	if i := strings.Index(s, "${"); i >= 0 {
		return "", fmt.Errorf("undefined variable %s", s[i:])
	}
	return s, nil
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		dec   Decoder
		want  []string // Error() of each error, sorted
		check func(t *testing.T, v *target)
	}{
		{
			name: "good",
			doc:  "name: a\ntimeout: 1m30s\ncount: 1_000\nworkers: 0x10\non: true\nlevel: high\ntags: [x, y]\nenv: {A: b}\nnote: n\nany: {k: [1, 2]}\nraw: {whatever: 1}\n",
			check: func(t *testing.T, v *target) {
				want := target{Name: "a", Timeout: 90 * time.Second, Count: 1000, Workers: 16, On: true, Level: 2,
					Tags: []string{"x", "y"}, Env: map[string]string{"A": "b"}, Common: common{Note: "n"},
					Any: map[string]any{"k": []any{1, 2}}}
				v.Raw, v.Pos = yaml.Node{}, nil
				if !reflect.DeepEqual(*v, want) {
					t.Errorf("got %+v\nwant %+v", *v, want)
				}
			},
		},
		{
			name: "unknown key with suggestion",
			doc:  "name: a\ntimout: 1s\nbogus: 1\n",
			want: []string{
				`f.yaml:2:1: timout: unknown field "timout" (did you mean "timeout"?)`,
				`f.yaml:3:1: bogus: unknown field "bogus"`,
			},
		},
		{
			name: "unknown key in a nested mapping",
			doc:  "inner:\n  rte: 1\n",
			want: []string{`f.yaml:2:3: inner.rte: unknown field "rte" (did you mean "rate"?)`},
		},
		{
			name: "duplicate key",
			doc:  "name: a\nenv: {A: b, A: c}\nname: b\n",
			want: []string{
				`f.yaml:2:13: env.A: duplicate key "A"`,
				`f.yaml:3:1: name: duplicate key "name"`,
			},
			check: func(t *testing.T, v *target) {
				if v.Name != "a" || v.Env["A"] != "b" {
					t.Errorf("the first value should stay: %q %q", v.Name, v.Env["A"])
				}
			},
		},
		{
			name: "wrong types, every one reported",
			doc:  "count: many\ntags: x\nenv: [a]\ninner: 3\non: yes\nworkers: 300\nname: {a: 1}\nitems:\n  - n: [1]\n",
			want: []string{
				`f.yaml:1:8: count: expected an integer, got "many"`,
				`f.yaml:2:7: tags: expected a list, got "x"`,
				`f.yaml:3:6: env: expected a mapping, got a list`,
				`f.yaml:4:8: inner: expected a mapping, got "3"`,
				`f.yaml:5:5: on: expected true or false, got "yes"`,
				`f.yaml:6:10: workers: expected a non-negative integer, got "300"`,
				`f.yaml:7:7: name: expected a string, got a mapping`,
				`f.yaml:9:8: items[0].n: expected a integer, got a list`, // sic: the checklist's messages, kept byte for byte,
			},
		},
		{
			name: "bad durations",
			doc:  "timeout: soon\n---\n",
			want: []string{`f.yaml:1:10: timeout: invalid duration "soon" (use e.g. 500ms, 30s, 2m)`},
		},
		{
			name: "negative duration",
			doc:  "timeout: -1s\n",
			want: []string{`f.yaml:1:10: timeout: duration -1s is negative`},
		},
		{
			name: "merge keys and x- keys",
			doc:  "x-base: &b\n  count: 3\n  name: base\nx-more: &m {on: true, name: more}\nname: own\n<<: [*b, *m]\n",
			check: func(t *testing.T, v *target) {
				if v.Name != "own" || v.Count != 3 || !v.On {
					t.Errorf("got name %q count %d on %v, want own 3 true", v.Name, v.Count, v.On)
				}
				if got := v.Pos["count"]; got.Line != 2 || got.Col != 10 {
					t.Errorf("merged count at %d:%d, want 2:10", got.Line, got.Col)
				}
			},
		},
		{
			name: "positions",
			doc:  "name: a\ninner:\n  rate: 1.5\n",
			check: func(t *testing.T, v *target) {
				at := func(p Pos) string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }
				got := []string{at(v.Pos[""]), at(v.Pos["name"]), at(v.Pos["inner"]), at(v.Inner.Pos["rate"]), at(v.Pos.At("count"))}
				want := []string{"1:1", "1:7", "3:3", "3:9", "1:1"}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("positions %v, want %v", got, want)
				}
				if v.Inner.Rate != 1.5 {
					t.Errorf("rate %v", v.Inner.Rate)
				}
			},
		},
		{
			name: "text unmarshaler error at the scalar",
			doc:  "name: a\nlevel:   medium\n",
			want: []string{`f.yaml:2:10: level: unknown level "medium" (low or high)`},
		},
		{
			name: "interp applied",
			doc:  "name: \"${v}-x\"\nlevel: ${v}\n",
			dec:  Decoder{Interp: func(s string) (string, error) { return interp(strings.ReplaceAll(s, "${v}", "low")) }},
			check: func(t *testing.T, v *target) {
				if v.Name != "low-x" || v.Level != 1 {
					t.Errorf("got %q %d", v.Name, v.Level)
				}
			},
		},
		{
			name: "interp error at the scalar",
			doc:  "name: ok ${v}\ntags:\n  - fine\n  - '${nope}'\ntimeout: ${later}\n",
			dec:  Decoder{Interp: interp},
			want: []string{
				`f.yaml:4:5: tags[1]: undefined variable ${nope}`,
				`f.yaml:5:10: timeout: undefined variable ${later}`,
			},
			check: func(t *testing.T, v *target) {
				if v.Name != "ok val" {
					t.Errorf("name %q", v.Name)
				}
			},
		},
		{
			name: "prefix and id",
			doc:  "nam: a\n",
			dec:  Decoder{Prefix: "probe.", ID: "web.tls"},
			want: []string{`f.yaml:1:1: checkpoint "web.tls": probe.nam: unknown field "nam" (did you mean "name"?)`},
		},
		{
			name: "a list element with an id names itself",
			doc:  "items:\n  - id: one\n    n: x\n  - n: y\n",
			want: []string{
				`f.yaml:3:8: checkpoint "one": n: expected an integer, got "x"`,
				`f.yaml:4:8: items[1].n: expected an integer, got "y"`,
			},
		},
		{
			name: "null leaves the zero value",
			doc:  "name: ~\ninner: null\ncount:\n",
			check: func(t *testing.T, v *target) {
				if v.Name != "" || v.Inner != nil || v.Count != 0 {
					t.Errorf("got %+v", v)
				}
			},
		},
		{
			name: "not a mapping",
			doc:  "- a\n",
			want: []string{`f.yaml:1:1: expected a mapping, got a list`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := Parse("f.yaml", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var errs Errors
			d := tc.dec
			d.Errs, d.File = &errs, "f.yaml"
			var v target
			d.Decode(root, &v, "")
			var got []string
			for _, e := range errs.Sorted() {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.check != nil {
				tc.check(t, &v)
			}
		})
	}
}

// node is a recursive type, which an alias cycle would decode forever.
type node struct {
	Name string `yaml:"name"`
	Sub  []node `yaml:"sub"`
}

func TestDecodeAliases(t *testing.T) {
	laughs := "x-a: &a {sub: [{name: x}, {name: x}, {name: x}, {name: x}, {name: x}, {name: x}, {name: x}, {name: x}, {name: x}]}\n"
	prev := "a"
	for _, c := range "bcdefgh" {
		laughs += fmt.Sprintf("x-%c: &%c {sub: [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]}\n", c, c, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = string(c)
	}
	laughs += "sub: [*h]\n"
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"cycle", "sub: &a [{name: x, sub: *a}]\n", []string{`f.yaml:1:25: sub[0].sub[0].sub: anchor "a" value contains itself`}},
		{"cycle through a mapping", "sub:\n  - &a {name: x, sub: [*a]}\n", []string{`f.yaml:2:24: sub[0].sub[0].sub[0]: anchor "a" value contains itself`}},
		{"reuse is no cycle", "x-n: &n {name: x}\nsub: [*n, *n, {sub: [*n]}]\n", nil},
		{"billion laughs", laughs, []string{`excessive aliasing`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := Parse("f.yaml", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			d := &Decoder{File: "f.yaml"}
			var v node
			d.Decode(root, &v, "")
			if len(*d.Errs) != len(tc.want) {
				t.Fatalf("errors %v, want %q", *d.Errs, tc.want)
			}
			for i, e := range d.Errs.Sorted() {
				if !strings.Contains(e.Error(), tc.want[i]) {
					t.Errorf("error %q, want %q", e, tc.want[i])
				}
			}
		})
	}
}

func TestDecodeNotAPointer(t *testing.T) {
	var d Decoder
	var v target
	d.Decode(&yaml.Node{Kind: yaml.MappingNode, Line: 1, Column: 1}, v, "")
	if d.Errs.Err() == nil || !strings.Contains(d.Errs.Error(), "want a non-nil pointer") {
		t.Errorf("got %v", d.Errs)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, doc, want string
		empty           bool
	}{
		// yaml.v3 reports a line and no column: the column is 1.
		{name: "unterminated quote", doc: "version: 1\nname: bad\nitems:\n  - id: a\n    title: \"A\n    domain: x\n", want: "f.yaml:5:1: found unexpected end of stream"},
		{name: "tab indent", doc: "a: 1\n\tb: 2\n", want: "f.yaml:2:1: found a tab character that violates indentation"},
		{name: "bad mapping", doc: "a: 1\nb: c: d\n", want: "f.yaml:2:1: mapping values are not allowed in this context"},
		{name: "empty", doc: "", want: "f.yaml:1:1: empty document", empty: true},
		{name: "only a comment", doc: "# nothing\n", want: "f.yaml:1:1: empty document", empty: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := Parse("f.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("no error; root %v", root)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 || es[0].File != "f.yaml" {
				t.Fatalf("error %T %v, want Errors with one error in f.yaml", err, err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if errors.Is(err, ErrEmpty) != tc.empty {
				t.Errorf("errors.Is(err, ErrEmpty) = %v", !tc.empty)
			}
		})
	}
	root, err := Parse("f.yaml", []byte("a: 1\n"))
	if err != nil || root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		t.Errorf("Parse(a: 1) = %v, %v", root, err)
	}
}

func TestHelpers(t *testing.T) {
	root, err := Parse("f.yaml", []byte("x-b: &b {tls: {ca: c}, port: 1}\nprobe:\n  <<: *b\n  port: 2\n  list: [a]\n"))
	if err != nil {
		t.Fatal(err)
	}
	probe := Pairs(root.Content[0])[1][1]
	var keys []string
	for _, p := range Pairs(probe) {
		keys = append(keys, p[0].Value+"="+KindName(p[1]))
	}
	if got, want := strings.Join(keys, " "), `tls=a mapping port="2" list=a list`; got != want {
		t.Errorf("Pairs: %s, want %s", got, want)
	}
	for _, tc := range []struct {
		field string
		line  int
		col   int
	}{
		{"tls.ca", 1, 20},
		{"tls.nope", 1, 15},
		{"port", 4, 9},
		{"list[0]", 5, 10}, // the element itself
		{"list[7]", 5, 9},  // out of range: the list
		{"missing", 3, 3},
	} {
		if p := FieldPos(probe, tc.field); p.Line != tc.line || p.Col != tc.col {
			t.Errorf("FieldPos(%s) = %d:%d, want %d:%d", tc.field, p.Line, p.Col, tc.line, tc.col)
		}
	}
	if got := Suggest("prot", []string{"port", "path", "list"}); got != ` (did you mean "port"?)` {
		t.Errorf("Suggest: %q", got)
	}
	if got := Suggest("zzzzzz", []string{"port"}); got != "" {
		t.Errorf("Suggest: %q", got)
	}
	if Pairs(nil) != nil || PosOf(nil) != (Pos{}) {
		t.Error("nil node")
	}
	if s := PosOf(&yaml.Node{Style: yaml.LiteralStyle}).Style(); s != yaml.LiteralStyle {
		t.Errorf("Style() = %v", s)
	}
	fields := StructFields(reflect.TypeFor[target]())
	if _, ok := fields["note"]; !ok {
		t.Errorf("StructFields misses the inline field: %v", fields)
	}
	if _, ok := fields["pos"]; ok {
		t.Errorf("StructFields has a yaml:\"-\" field: %v", fields)
	}
}

func TestErrors(t *testing.T) {
	var es Errors
	if es.Err() != nil {
		t.Error("empty Errors is not nil")
	}
	es.Add(&Error{File: "b.yaml", Line: 1, Col: 1, Msg: "m"})
	es.Add(&Error{File: "a.yaml", Line: 3, Col: 2, ID: "x", Field: "f", Msg: "m"})
	es.Add(&Error{File: "a.yaml", Line: 3, Col: 1, Msg: "m"})
	es.Add(&Error{Msg: "no position"})
	want := "4 problems:\nno position\na.yaml:3:1: m\na.yaml:3:2: checkpoint \"x\": f: m\nb.yaml:1:1: m"
	if got := es.Err().Error(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	var e *Error
	if !errors.As(es.Err(), &e) || e.Msg != "no position" {
		t.Errorf("errors.As *Error: %v", e)
	}
}

// fuzzTarget has a field of each kind the decoder handles.
type fuzzTarget struct {
	Name    string            `yaml:"name"`
	Timeout time.Duration     `yaml:"timeout"`
	N       int8              `yaml:"n"`
	U       uint              `yaml:"u"`
	F       float32           `yaml:"f"`
	B       bool              `yaml:"b"`
	Level   *level            `yaml:"level"`
	Tags    []string          `yaml:"tags"`
	Env     map[string]string `yaml:"env"`
	Inner   *inner            `yaml:"inner"`
	Items   []item            `yaml:"items"`
	Tree    []node            `yaml:"tree"`
	Raw     yaml.Node         `yaml:"raw"`
	Any     any               `yaml:"any"`
	Common  common            `yaml:",inline"`
	Pos     Positions         `yaml:"-"`
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"name: a\ntimeout: 1s\nn: 3\nu: 4\nf: 1.5\nb: true\nlevel: low\ntags: [a, b]\nenv: {k: v}\n",
		"x-b: &b {n: 1, name: ${v}}\n<<: *b\ninner: {rate: 2}\nitems: [{id: a, n: 1}, {n: x}]\n",
		"tree: &t [{name: a, sub: *t}]\nany: &x [*x]\n",
		"name: a\nname: b\nnmae: c\ntimeout: -1s\nlevel: mid\nraw: [1, {a: b}]\n",
		"- a\n- b\n",
		"a: &a [*a, *a]\nb: &b [*a, *a]\ntree: [{sub: *b}]\n",
		"\t",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := Parse("f.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 || es[0].File != "f.yaml" || es[0].Line < 1 {
				t.Fatalf("Parse error %#v", err)
			}
			return
		}
		d := &Decoder{File: "f.yaml", Interp: interp}
		var v fuzzTarget
		d.Decode(root, &v, "")
		for _, e := range *d.Errs {
			if e.File != "f.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("error without a position or message: %#v", e)
			}
		}
		_ = d.Errs.Err()
		FieldPos(root.Content[0], "inner.rate")
	})
}
