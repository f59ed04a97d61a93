// Package catalog is PRF's built-in catalogue: every checkpoint of the
// production checklist document (and those it implies), mapped to controls,
// as embedded YAML that any checklist can build on with `include: [catalog]`
// and that `prf check --catalog` runs directly. Variables say where the
// system is; a checkpoint whose variables are not set is skipped as not
// configured.
package catalog

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/checklist"
)

// Name is the include name of the catalogue.
const Name = "catalog"

//go:embed catalog/*.yaml
var files embed.FS

//go:embed controls.yaml
var controlsYAML []byte

func init() { checklist.RegisterBuiltin(Name, Sources) }

// Sources returns the catalogue's documents in load order. They are read
// from the binary once; callers must not modify them.
var Sources = sync.OnceValue(readSources)

func readSources() []checklist.Source {
	names, err := fs.Glob(files, "catalog/*.yaml")
	if err != nil {
		panic(err) // a constant pattern
	}
	sort.Strings(names)
	out := make([]checklist.Source, 0, len(names))
	for _, n := range names {
		data, err := files.ReadFile(n)
		if err != nil {
			panic(err) // embedded
		}
		out = append(out, checklist.Source{Name: "catalog/" + path.Base(n), Data: data})
	}
	return out
}

// Root is the checklist `prf check --catalog` runs: the catalogue alone.
const Root = "version: 1\nname: prf-catalog\ninclude: [catalog]\n"

// Load loads the catalogue as a checklist on its own, with opts' variables
// and secrets applied.
func Load(opts checklist.Options) (*checklist.Checklist, error) {
	return checklist.Parse([]byte(Root), "prf-catalog.yaml", opts)
}

// Control is one entry of the controls table.
type Control struct {
	ID        string `json:"id"` // FRAMEWORK:REF
	Framework string `json:"framework"`
	Ref       string `json:"ref"`
	Title     string `json:"title"`
}

// Controls is the reviewed table of control references.
type Controls struct {
	Frameworks map[string]string // id → name
	List       []Control         // in table order
	byID       map[string]int
}

// Lookup returns the control with id.
func (c *Controls) Lookup(id string) (Control, bool) {
	i, ok := c.byID[id]
	if !ok {
		return Control{}, false
	}
	return c.List[i], true
}

// ControlTable returns the controls table, parsed once.
var ControlTable = sync.OnceValues(func() (*Controls, error) { return parseControls(controlsYAML) })

func parseControls(data []byte) (*Controls, error) {
	var doc struct {
		Frameworks yaml.Node `yaml:"frameworks"`
		Controls   yaml.Node `yaml:"controls"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("controls.yaml: %w", err)
	}
	c := &Controls{Frameworks: map[string]string{}, byID: map[string]int{}}
	if err := doc.Frameworks.Decode(&c.Frameworks); err != nil {
		return nil, fmt.Errorf("controls.yaml: frameworks: %w", err)
	}
	n := &doc.Controls
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("controls.yaml: controls: want a mapping")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		fw, ref, ok := strings.Cut(k.Value, ":")
		if !ok {
			return nil, fmt.Errorf("controls.yaml:%d: %q: want FRAMEWORK:REF", k.Line, k.Value)
		}
		if _, ok := c.Frameworks[fw]; !ok {
			return nil, fmt.Errorf("controls.yaml:%d: %q: unknown framework %q", k.Line, k.Value, fw)
		}
		if _, dup := c.byID[k.Value]; dup {
			return nil, fmt.Errorf("controls.yaml:%d: %q listed twice", k.Line, k.Value)
		}
		c.byID[k.Value] = len(c.List)
		c.List = append(c.List, Control{ID: k.Value, Framework: fw, Ref: ref, Title: v.Value})
	}
	return c, nil
}
