// Package probe holds PRF's probe kinds. A probe observes a system and
// returns a typed observation; it never decides pass or fail (that is the
// job of package expect).
package probe

import (
	"context"
	"fmt"
	"reflect"
	"sort"
)

// Spec is the decoded settings of one probe, as written under a
// checkpoint's `probe:` key. Validate reports a bad setting; the error should
// name the field (e.g. `url: must be absolute`).
type Spec interface {
	Validate() error
}

// FieldError is a Validate error that names the offending YAML field, so the
// checklist loader can point at its line and column.
type FieldError struct {
	Field string // YAML key, e.g. "url" or "tls.ca_file"
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Fieldf returns a *FieldError.
func Fieldf(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Env is what the runner gives every probe besides its spec.
type Env struct {
	// Logf records a line in the checkpoint's log, stored with its result
	// (like blackbox_exporter's per-probe logger). Never log a secret; the
	// runner redacts known secret values anyway.
	Logf func(format string, args ...any)
}

func (e Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

// Kind is one row of the registry in kinds.go.
type Kind struct {
	Name string // the `kind:` value, equal to the file name
	Doc  string // one line for --help, lint and the schema
	// NewSpec returns a pointer to a zero spec with its defaults applied.
	NewSpec func() Spec
	// Observation is the zero value of the kind's observation type; its
	// json-tagged fields are the names an `expect` expression can read.
	Observation any
	// Probe runs the probe. spec is the value NewSpec returned, decoded.
	Probe func(ctx context.Context, env Env, spec Spec) (any, error)
	// Alone is the default of a checkpoint's `exclusive`: the runner starts
	// it when nothing else runs and starts nothing else meanwhile, because
	// it loads the system under test (a load test) and would skew, and be
	// skewed by, checks running beside it.
	Alone bool
}

// Fields lists the top-level names an expectation over this kind can read.
func (k Kind) Fields() []string { return fieldNames(reflect.TypeOf(k.Observation)) }

// define builds a Kind from a typed probe function, so each kind's file keeps
// its own types and the registry stays one table.
func define[S any, PS interface {
	*S
	Spec
}, O any](name, doc string, fn func(ctx context.Context, env Env, spec *S) (O, error)) Kind {
	var zero O
	return Kind{
		Name:        name,
		Doc:         doc,
		Observation: zero,
		NewSpec: func() Spec {
			s := PS(new(S))
			if d, ok := any(s).(interface{ defaults() }); ok {
				d.defaults()
			}
			return s
		},
		Probe: func(ctx context.Context, env Env, spec Spec) (any, error) {
			s, ok := spec.(PS)
			if !ok {
				return nil, fmt.Errorf("probe %s: spec of type %T", name, spec)
			}
			return fn(ctx, env, (*S)(s))
		},
	}
}

// Registry maps a kind name to its Kind.
type Registry struct {
	kinds map[string]Kind
	names []string
}

// NewRegistry builds a registry; a duplicate or empty name panics, since it
// is a programming error in the kinds table.
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{kinds: make(map[string]Kind, len(kinds))}
	for _, k := range kinds {
		if k.Name == "" {
			panic("probe: kind with empty name")
		}
		if _, dup := r.kinds[k.Name]; dup {
			panic("probe: duplicate kind " + k.Name)
		}
		r.kinds[k.Name] = k
		r.names = append(r.names, k.Name)
	}
	sort.Strings(r.names)
	return r
}

// Lookup returns the kind with the given name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the registered kinds in order.
func (r *Registry) Names() []string { return append([]string(nil), r.names...) }

// Kinds lists the registered kinds in name order.
func (r *Registry) Kinds() []Kind {
	out := make([]Kind, 0, len(r.names))
	for _, n := range r.names {
		out = append(out, r.kinds[n])
	}
	return out
}
