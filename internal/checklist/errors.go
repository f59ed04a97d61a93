package checklist

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a checklist file, with its position, the
// checkpoint it belongs to and the field.
type Error struct {
	File  string
	Line  int
	Col   int
	ID    string // checkpoint id, when known
	Field string // YAML path, e.g. probe.url
	Msg   string
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

// Errors is every problem found in a checklist, in file order. It is the
// error type Load and Lint return; cmd/prf maps it to exit code 2.
type Errors []*Error

func (es *Errors) add(e *Error) { *es = append(*es, e) }

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

func (es Errors) sorted() Errors {
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

func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es.sorted()
}
