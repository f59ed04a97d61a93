package loadtest

import (
	"bytes"
	"fmt"
	"strconv"
)

// head is what the status line and headers of a response say about it.
// Both HTTP/1.1 clients (the per-VU one and the event loop) parse with it.
type head struct {
	status        int
	contentLength int64 // -1 when absent
	chunked       bool
	close         bool
}

// statusLine parses "HTTP/1.1 200 OK"; interim reports a 1xx response
// (other than 101) after which the real one follows.
func (h *head) statusLine(l []byte) (interim bool, err error) {
	if len(l) < 12 || !bytes.HasPrefix(l, []byte("HTTP/1.")) || l[8] != ' ' {
		return false, fmt.Errorf("%w: status line %q", errMalformed, truncate(l))
	}
	st, ok := atoi3(l[9:12])
	if !ok {
		return false, fmt.Errorf("%w: status line %q", errMalformed, truncate(l))
	}
	*h = head{status: st, contentLength: -1, close: l[7] == '0'} // HTTP/1.0 closes unless keep-alive
	return st >= 100 && st < 200 && st != 101, nil
}

func (h *head) headerLine(l []byte) error {
	name, value, ok := bytes.Cut(l, []byte(":"))
	if !ok {
		return fmt.Errorf("%w: header line %q", errMalformed, truncate(l))
	}
	value = bytes.TrimSpace(value)
	switch {
	case asciiEqualFold(name, "content-length"):
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: Content-Length %q", errMalformed, truncate(value))
		}
		h.contentLength = n
	case asciiEqualFold(name, "transfer-encoding"):
		h.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
	case asciiEqualFold(name, "connection"):
		if asciiEqualFold(value, "close") {
			h.close = true
		} else if asciiEqualFold(value, "keep-alive") {
			h.close = false
		}
	}
	return nil
}

// body returns the reader for the body this head announces.
func (h *head) body(isHead bool, keep bool, dst *[]byte) bodyReader {
	b := bodyReader{keep: keep, dst: dst}
	switch {
	case isHead || h.status == 204 || h.status == 304 || (h.contentLength == 0 && !h.chunked):
		b.mode = bodyNone
	case h.chunked:
		b.mode = bodyChunked
	case h.contentLength >= 0:
		b.mode, b.left = bodyLength, h.contentLength
	default:
		b.mode = bodyUntilClose
		h.close = true
	}
	return b
}

const (
	bodyNone = iota
	bodyLength
	bodyChunked
	bodyUntilClose
)

// chunked-body states
const (
	chSize = iota
	chData
	chDataEnd
	chTrailer
)

// bodyReader consumes a response body incrementally, from whatever bytes
// have arrived: fixed length, chunked (extensions and trailers skipped) or
// delimited by the end of the connection.
type bodyReader struct {
	mode  int
	left  int64 // bytes left of the body or of the current chunk
	state int
	line  []byte // a partial chunk-size or trailer line
	keep  bool
	dst   *[]byte
}

func (b *bodyReader) data(p []byte) {
	if !b.keep {
		return
	}
	if room := bodyLimit - len(*b.dst); room > 0 {
		*b.dst = append(*b.dst, p[:min(room, len(p))]...)
	}
}

// feed consumes bytes of p; done reports the end of the body. A
// close-delimited body is done only at EOF (see eof).
func (b *bodyReader) feed(p []byte) (n int, done bool, err error) {
	switch b.mode {
	case bodyNone:
		return 0, true, nil
	case bodyUntilClose:
		b.data(p)
		return len(p), false, nil
	case bodyLength:
		k := int(min(int64(len(p)), b.left))
		b.data(p[:k])
		b.left -= int64(k)
		return k, b.left == 0, nil
	}
	for n < len(p) {
		switch b.state {
		case chData:
			k := int(min(int64(len(p)-n), b.left))
			b.data(p[n : n+k])
			b.left -= int64(k)
			n += k
			if b.left == 0 {
				b.state = chDataEnd
			}
			continue
		}
		// A line: the chunk size, the CRLF after data, or a trailer.
		i := bytes.IndexByte(p[n:], '\n')
		if i < 0 {
			if len(b.line)+len(p)-n > 4096 {
				return n, false, fmt.Errorf("%w: chunk line longer than 4 KiB", errMalformed)
			}
			b.line = append(b.line, p[n:]...)
			return len(p), false, nil
		}
		if len(b.line)+i > 4096 {
			return n, false, fmt.Errorf("%w: chunk line longer than 4 KiB", errMalformed)
		}
		l := append(b.line, p[n:n+i]...)
		b.line = l[:0]
		n += i + 1
		l = bytes.TrimRight(l, "\r")
		switch b.state {
		case chSize:
			if k := bytes.IndexByte(l, ';'); k >= 0 {
				l = l[:k]
			}
			size, perr := strconv.ParseInt(string(bytes.TrimSpace(l)), 16, 64)
			if perr != nil || size < 0 {
				return n, false, fmt.Errorf("%w: chunk size %q", errMalformed, truncate(l))
			}
			if size == 0 {
				b.state = chTrailer
			} else {
				b.state, b.left = chData, size
			}
		case chDataEnd:
			if len(l) != 0 {
				return n, false, fmt.Errorf("%w: no CRLF after chunk", errMalformed)
			}
			b.state = chSize
		case chTrailer:
			if len(l) == 0 {
				return n, true, nil
			}
		}
	}
	return n, false, nil
}

// eof reports whether the end of the connection completes the body.
func (b *bodyReader) eof() bool { return b.mode == bodyUntilClose }
