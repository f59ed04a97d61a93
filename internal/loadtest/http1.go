package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// h1Conn is the lean HTTP/1.1 client: one keep-alive connection owned by
// one VU, requests written from prebuilt bytes, responses parsed in place
// from a bufio.Reader. Nothing is allocated per request once the buffers
// have grown; nothing is shared between VUs, so there are no locks.
type h1Conn struct {
	addr    string
	timeout time.Duration // dial timeout
	conn    net.Conn
	br      *bufio.Reader
	reused  bool
	// pub is the open connection, for the timeout sweeper and the final
	// cut (SetDeadline is safe from another goroutine; conn is not).
	pub atomic.Pointer[net.TCPConn]
}

// response is what a step saw; its buffers are reused across requests.
type response struct {
	status int
	header []byte // raw header lines, kept only when a check or extract reads headers
	body   []byte // kept only when a check or extract reads the body
	recv   int64  // bytes read from the wire
	sent   int64
}

var errMalformed = errors.New("malformed HTTP response")

func (c *h1Conn) close() {
	if c.conn != nil {
		c.pub.Store(nil)
		c.conn.Close()
		c.conn = nil
	}
}

// interrupt makes a read or write in flight fail now.
func (c *h1Conn) interrupt() {
	if c == nil {
		return // a net/http step: its context and client timeout cut it
	}
	if tc := c.pub.Load(); tc != nil {
		tc.SetDeadline(time.Unix(1, 0))
	}
}

func (c *h1Conn) dial() error {
	conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
	if err != nil {
		return err
	}
	c.conn = conn
	if tc, ok := conn.(*net.TCPConn); ok {
		c.pub.Store(tc)
	}
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 4096)
	} else {
		c.br.Reset(conn)
	}
	c.reused = false
	return nil
}

// do sends req and reads the response into r. head marks a HEAD request
// (no body follows). A request on a reused connection that the server had
// closed is retried once on a new connection, as browsers and net/http do
// for idempotent requests; requests with a body are retried only when no
// byte of the response arrived.
func (c *h1Conn) do(req []byte, head, keepHeader, keepBody bool, r *response) error {
	r.status, r.recv, r.sent = 0, 0, 0
	r.header, r.body = r.header[:0], r.body[:0]
	for attempt := 0; ; attempt++ {
		if c.conn == nil {
			if err := c.dial(); err != nil {
				return err
			}
		}
		reused := c.reused
		_, err := c.conn.Write(req)
		if err == nil {
			r.sent = int64(len(req))
			err = c.read(head, keepHeader, keepBody, r)
		}
		if err == nil {
			c.reused = true
			return nil
		}
		c.close()
		if reused && attempt == 0 && r.recv == 0 && retriable(err) {
			continue
		}
		return err
	}
}

func retriable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err)
}

func isConnReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// line reads one CRLF-terminated line; long lines are an error.
func (c *h1Conn) line(r *response) ([]byte, error) {
	b, err := c.br.ReadSlice('\n')
	r.recv += int64(len(b))
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, fmt.Errorf("%w: header line longer than 4 KiB", errMalformed)
		}
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

// headers reads header lines up to the empty line, giving each to fn.
func (c *h1Conn) headers(r *response, fn func([]byte) error) error {
	for {
		l, err := c.line(r)
		if err != nil || len(l) == 0 {
			return err
		}
		if fn != nil {
			if err := fn(l); err != nil {
				return err
			}
		}
	}
}

func (c *h1Conn) read(isHead, keepHeader, keepBody bool, r *response) error {
	var h head
	for {
		l, err := c.line(r)
		if err != nil {
			return err
		}
		interim, err := h.statusLine(l)
		if err != nil {
			return err
		}
		r.status = h.status
		if !interim {
			break
		}
		// An interim response: skip its headers and read the next.
		if err := c.headers(r, nil); err != nil {
			return err
		}
	}
	if err := c.headers(r, func(l []byte) error {
		if keepHeader {
			r.header = append(r.header, l...)
			r.header = append(r.header, '\n')
		}
		return h.headerLine(l)
	}); err != nil {
		return err
	}
	b := h.body(isHead, keepBody, &r.body)
	for done := b.mode == bodyNone; !done; {
		p, err := c.br.Peek(max(1, c.br.Buffered()))
		if len(p) == 0 {
			if err == io.EOF && b.eof() {
				break
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		n, d, ferr := b.feed(p)
		c.br.Discard(n)
		r.recv += int64(n)
		if ferr != nil {
			return ferr
		}
		done = d
	}
	if h.close {
		c.close()
	}
	return nil
}

// bodyLimit bounds what a step keeps of a body for checks and extract.
const bodyLimit = 1 << 20

func atoi3(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
