package checklist

import "github.com/prfhq/prf/internal/yamlx"

// Pos is a position in a YAML file, 1-based.
type Pos = yamlx.Pos

// Positions records where each key of a decoded mapping was written: the
// key "" holds the mapping itself, other keys the position of the value.
type Positions = yamlx.Positions

// Error is one problem in a checklist file, with its position, the
// checkpoint it belongs to and the field.
type Error = yamlx.Error

// Errors is every problem found in a checklist, in file order. It is the
// error type Load and Lint return; cmd/prf maps it to exit code 2.
type Errors = yamlx.Errors

// Suggest returns ` (did you mean "x"?)` when one of candidates is a near
// miss for s, and "" otherwise.
func Suggest(s string, candidates []string) string { return yamlx.Suggest(s, candidates) }
