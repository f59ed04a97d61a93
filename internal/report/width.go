package report

import (
	"strings"
	"unicode"
)

// runeWidth is the number of terminal cells r takes: 0, 1 or 2.
func runeWidth(r rune) int {
	switch {
	case r == 0, r == 0x200B, r == 0x200C, r == 0x200D, r == 0xFEFF,
		r >= 0xFE00 && r <= 0xFE0F, unicode.Is(unicode.Mn, r), unicode.Is(unicode.Me, r):
		return 0
	case r < 0x1100:
		return 1
	}
	// Code points a terminal draws two cells wide: East Asian wide and
	// full-width characters, and emoji with emoji presentation (the status
	// marks ✅ ❌ ❗ among them). Sorted.
	wide := [...][2]rune{
		{0x1100, 0x115F}, {0x231A, 0x231B}, {0x2329, 0x232A}, {0x23E9, 0x23EC},
		{0x23F0, 0x23F0}, {0x23F3, 0x23F3}, {0x25FD, 0x25FE}, {0x2614, 0x2615},
		{0x2648, 0x2653}, {0x267F, 0x267F}, {0x2693, 0x2693}, {0x26A1, 0x26A1},
		{0x26AA, 0x26AB}, {0x26BD, 0x26BE}, {0x26C4, 0x26C5}, {0x26CE, 0x26CE},
		{0x26D4, 0x26D4}, {0x26EA, 0x26EA}, {0x26F2, 0x26F3}, {0x26F5, 0x26F5},
		{0x26FA, 0x26FA}, {0x26FD, 0x26FD}, {0x2705, 0x2705}, {0x270A, 0x270B},
		{0x2728, 0x2728}, {0x274C, 0x274C}, {0x274E, 0x274E}, {0x2753, 0x2755},
		{0x2757, 0x2757}, {0x2795, 0x2797}, {0x27B0, 0x27B0}, {0x27BF, 0x27BF},
		{0x2B1B, 0x2B1C}, {0x2B50, 0x2B50}, {0x2B55, 0x2B55}, {0x2E80, 0x303E},
		{0x3041, 0x33FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xA000, 0xA4CF},
		{0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFE30, 0xFE4F}, {0xFF00, 0xFF60},
		{0xFFE0, 0xFFE6}, {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F900, 0x1F9FF},
		{0x1FA70, 0x1FAFF}, {0x20000, 0x3FFFD},
	}
	for _, rg := range wide {
		if r < rg[0] {
			return 1
		}
		if r <= rg[1] {
			return 2
		}
	}
	return 1
}

// textWidth is the number of terminal cells s takes (no escapes, one line).
func textWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// truncate cuts s to at most w cells, ending it with "…" when cut.
func truncate(s string, w int) string {
	if textWidth(s) <= w {
		return s
	}
	if w <= 0 {
		return ""
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		rw := runeWidth(r)
		if n+rw > w-1 {
			break
		}
		b.WriteRune(r)
		n += rw
	}
	b.WriteString("…")
	return b.String()
}

// pad fills s with spaces to w cells.
func pad(s string, w int) string {
	if n := textWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// oneLine replaces control characters (newlines, tabs, escapes) with
// spaces, so a cell stays on one line and cannot move the cursor.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// wrap breaks s into lines of at most w cells, at spaces where it can.
// Control characters other than newline become spaces.
func wrap(s string, w int) []string {
	if w < 8 {
		w = 8
	}
	var out []string
	for _, para := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		para = oneLine(para)
		line, lineW := "", 0
		flush := func() {
			out = append(out, strings.TrimRight(line, " "))
			line, lineW = "", 0
		}
		for _, word := range strings.SplitAfter(para, " ") {
			tw := textWidth(strings.TrimRight(word, " "))
			if lineW+tw > w && lineW > 0 {
				flush()
			}
			for tw > w { // a word longer than a line: break it
				head := truncateHard(word, w)
				line += head
				flush()
				word = word[len(head):]
				tw = textWidth(strings.TrimRight(word, " "))
			}
			line += word
			lineW += textWidth(word)
		}
		flush()
	}
	return out
}

// truncateHard cuts s to at most w cells, without an ellipsis.
func truncateHard(s string, w int) string {
	n := 0
	for i, r := range s {
		rw := runeWidth(r)
		if n+rw > w {
			return s[:i]
		}
		n += rw
	}
	return s
}
