package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
)

// Export writes every entry in st, in seq order, as JSON Lines: one Entry
// object per line, fields as stored. It does not verify them, so that a
// damaged log can be examined elsewhere; VerifyJSONL checks the file.
func Export(ctx context.Context, st Store, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	// Payloads are written byte for byte: with HTML escaping on, a payload
	// holding '<' would be rewritten as \u003c and no longer match its hash.
	enc.SetEscapeHTML(false)
	var scratch bytes.Buffer
	err := st.AuditEntries(ctx, func(e Entry) error {
		// The encoder would compact a payload with spaces, and fail on one
		// that is not JSON: either way the line would not be the entry.
		if !isCompact(&scratch, e.Payload) {
			return fmt.Errorf("seq %d: payload is not compact JSON, so the file could not hold the entry as stored (the log is damaged there: prf audit verify says how)", e.Seq)
		}
		if err := enc.Encode(&e); err != nil {
			return fmt.Errorf("seq %d: %w", e.Seq, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	return nil
}

// isCompact reports whether p is JSON with no insignificant space, as
// Append writes payloads.
func isCompact(scratch *bytes.Buffer, p []byte) bool {
	scratch.Reset()
	return json.Compact(scratch, p) == nil && bytes.Equal(scratch.Bytes(), p)
}

// LineError is a line of a JSON Lines log that is not an entry.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ReadJSONL reads a log written by Export. It yields each entry with a nil
// error, in file order; empty lines are skipped. A line that is not exactly
// one Entry object (bad JSON, an unknown field, trailing data) is yielded as
// a *LineError with its line number, and a failing reader as its error;
// either ends the sequence. Lines may be of any length.
func ReadJSONL(r io.Reader) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		for line := 1; ; line++ {
			b, err := br.ReadSlice('\n')
			var long []byte
			for errors.Is(err, bufio.ErrBufferFull) { // a line longer than the buffer
				long = append(long, b...)
				b, err = br.ReadSlice('\n')
			}
			if long != nil {
				b = append(long, b...)
			}
			if err != nil && !errors.Is(err, io.EOF) {
				yield(Entry{}, fmt.Errorf("line %d: %w", line, err))
				return
			}
			if t := bytes.TrimSpace(b); len(t) > 0 {
				e, derr := decodeEntry(t)
				if derr != nil {
					yield(Entry{}, &LineError{Line: line, Err: derr})
					return
				}
				if !yield(e, nil) {
					return
				}
			}
			if err != nil { // io.EOF
				return
			}
		}
	}
}

func decodeEntry(b []byte) (Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e Entry
	if err := dec.Decode(&e); err != nil {
		return Entry{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Entry{}, errors.New("data after the entry's JSON object")
	}
	return e, nil
}
