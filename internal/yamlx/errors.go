package yamlx

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrEmpty is what an Error from Parse for a document with no content
// matches with errors.Is.
var ErrEmpty = errors.New("empty document")

// Error is one problem in a YAML file, with its position, the item it
// belongs to and the field.
type Error struct {
	File  string
	Line  int
	Col   int
	ID    string // item (checkpoint) id, when known
	Field string // YAML path, e.g. probe.url
	Msg   string

	err error // what errors.Is matches (ErrEmpty), nil for most
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Col)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.ID != "" {
		fmt.Fprintf(&b, "checkpoint %q: ", e.ID)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel the error stands for, if any.
func (e *Error) Unwrap() error { return e.err }

// Errors is every problem found in a file, in file order once Sorted.
type Errors []*Error

// Add appends e.
func (es *Errors) Add(e *Error) { *es = append(*es, e) }

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return fmt.Sprintf("%d problems:\n%s", len(es), strings.Join(lines, "\n"))
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, 0, len(es))
	for _, e := range es {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// Sorted sorts es in place by file, line and column, stably, and returns it.
func (es Errors) Sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File < es[j].File
		}
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
	return es
}

// Err returns nil when es is empty, and es sorted otherwise.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es.Sorted()
}
