package checklist

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/prfhq/prf/internal/probe"
	"github.com/prfhq/prf/internal/yamlx"
)

// Schema returns a JSON Schema (draft 2020-12) of the checklist format, for
// editors. It is generated from the same Go types the loader decodes into,
// and from the probe registry, so it cannot drift from what lint accepts.
func Schema(reg *probe.Registry) ([]byte, error) {
	if reg == nil {
		reg = probe.Default()
	}
	cp := schemaOf(reflect.TypeOf(Checkpoint{}))
	props := cp["properties"].(map[string]any)
	props["domain"] = map[string]any{"enum": Domains, "description": "one of the document's domains"}
	props["severity"] = map[string]any{"enum": Severities, "default": SeverityBlocking}
	props["mode"] = map[string]any{"enum": Modes, "default": ModeEnforce}
	props["id"].(map[string]any)["pattern"] = idRE.String()
	props["timeout"].(map[string]any)["default"] = DefaultTimeout.String()
	props["manual"] = map[string]any{
		"description": "needs an attestation by the owner",
		"oneOf": []any{
			map[string]any{"type": "boolean"},
			map[string]any{"type": "string", "description": "the evidence that satisfies it"},
			schemaOf(reflect.TypeOf(Manual{})),
		},
	}
	var kinds []any
	for _, k := range reg.Kinds() {
		s := schemaOf(reflect.TypeOf(k.NewSpec()))
		s["properties"].(map[string]any)["kind"] = map[string]any{"const": k.Name}
		s["required"] = []string{"kind"}
		s["description"] = k.Doc + ". expect can read: " + strings.Join(k.Fields(), ", ")
		s["title"] = k.Name
		kinds = append(kinds, s)
	}
	props["probe"] = map[string]any{"description": "the probe: kind plus its settings", "oneOf": kinds}
	cp["required"] = []string{"id", "title", "domain", "owner"}

	root := schemaOf(reflect.TypeOf(Checklist{}))
	rp := root["properties"].(map[string]any)
	rp["version"] = map[string]any{"const": Version}
	rp["checkpoints"] = map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/checkpoint"}}
	rp["secrets"].(map[string]any)["additionalProperties"] = map[string]any{"type": "string", "pattern": "^(env|file):.+$"}
	root["required"] = []string{"version", "name", "checkpoints"}
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["title"] = "PRF checklist"
	root["$defs"] = map[string]any{"checkpoint": cp}
	return json.MarshalIndent(root, "", "  ")
}

func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[time.Duration]():
		return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
	case reflect.TypeFor[yaml.Node]():
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		addProps(t, props)
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false,
			"patternProperties": map[string]any{"^x-": map[string]any{}}}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{}
}

func addProps(t reflect.Type, props map[string]any) {
	// The same field walk as the decoder, so the schema names exactly the
	// keys the loader accepts.
	for name, idx := range yamlx.StructFields(t) {
		f := t.FieldByIndex(idx)
		s := schemaOf(f.Type)
		if doc := f.Tag.Get("doc"); doc != "" {
			s["description"] = doc
		}
		props[name] = s
	}
}
