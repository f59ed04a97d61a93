package report

// Truncate cuts s to at most w terminal cells, ending it with "…" when
// cut (wide characters count two cells): for commands that print tables
// of their own.
func Truncate(s string, w int) string { return truncate(s, w) }
