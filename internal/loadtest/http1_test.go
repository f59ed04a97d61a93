package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// h1Srv is a raw TCP server on 127.0.0.1 for hand-made responses: handle
// gets each accepted connection with its 0-based number. Cleanup closes
// the listener and every connection and waits for the handlers.
type h1Srv struct {
	ln       net.Listener
	accepted atomic.Int32
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newH1Srv(tb testing.TB, handle func(n int, c net.Conn, br *bufio.Reader)) *h1Srv {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &h1Srv{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(s.accepted.Add(1)) - 1
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				handle(n, c, bufio.NewReader(c))
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *h1Srv) url() string { return "http://" + s.ln.Addr().String() }

func (s *h1Srv) client() *h1Conn {
	return &h1Conn{addr: s.ln.Addr().String(), timeout: 5 * time.Second}
}

// h1ReadReq reads one request with its body; false at EOF or on an error.
func h1ReadReq(br *bufio.Reader) (*http.Request, []byte, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, false
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, nil, false
	}
	return req, body, true
}

// h1Answer answers every request on a connection with resp, until the
// client closes it.
func h1Answer(resp string) func(int, net.Conn, *bufio.Reader) {
	return func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, ok := h1ReadReq(br); !ok {
				return
			}
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	}
}

// h1Seq answers the requests of each connection with resps in turn and
// closes the connection after the last one when closeAfter is set (else
// it waits for the client to close).
func h1Seq(closeAfter bool, resps ...string) func(int, net.Conn, *bufio.Reader) {
	return func(_ int, c net.Conn, br *bufio.Reader) {
		defer c.Close()
		for _, r := range resps {
			if _, _, ok := h1ReadReq(br); !ok {
				return
			}
			if _, err := io.WriteString(c, r); err != nil {
				return
			}
		}
		if !closeAfter {
			io.Copy(io.Discard, br)
		}
	}
}

const h1GetReq = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: prf-loadtest\r\n\r\n"

// h1DoWatched is c.do with a watchdog: a response the client waits for
// past 5 s (a framing bug) fails the request instead of hanging the test.
func h1DoWatched(c *h1Conn, req []byte, head, keepHeader, keepBody bool, r *response) error {
	w := time.AfterFunc(5*time.Second, c.interrupt)
	defer w.Stop()
	return c.do(req, head, keepHeader, keepBody, r)
}

func h1Do(t *testing.T, c *h1Conn, req string, head, keepHeader, keepBody bool) *response {
	t.Helper()
	r := &response{}
	if err := h1DoWatched(c, []byte(req), head, keepHeader, keepBody, r); err != nil {
		t.Fatalf("do: %v", err)
	}
	return r
}

func h1Check(t *testing.T, r *response, status int, recv int, header, body string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d", r.status, status)
	}
	if r.recv != int64(recv) {
		t.Errorf("recv %d bytes, want %d", r.recv, recv)
	}
	if string(r.header) != header {
		t.Errorf("header %q, want %q", r.header, header)
	}
	if string(r.body) != body {
		t.Errorf("body %q, want %q", r.body, body)
	}
}

func TestH1ContentLength(t *testing.T) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world"
	for _, tc := range []struct {
		name                 string
		keepHeader, keepBody bool
		header, body         string
	}{
		{"discarded", false, false, "", ""},
		{"body kept", false, true, "", "hello world"},
		{"headers kept", true, false, "Content-Length: 11\nX-A: b\n", ""},
		{"both kept", true, true, "Content-Length: 11\nX-A: b\n", "hello world"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newH1Srv(t, h1Answer(resp))
			c := s.client()
			defer c.close()
			r := &response{}
			for i := range 3 {
				// The response's buffers are reused: each request starts afresh.
				if err := h1DoWatched(c, []byte(h1GetReq), false, tc.keepHeader, tc.keepBody, r); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				h1Check(t, r, 200, len(resp), tc.header, tc.body)
				if r.sent != int64(len(h1GetReq)) {
					t.Errorf("sent %d, want %d", r.sent, len(h1GetReq))
				}
			}
			if n := s.accepted.Load(); n != 1 {
				t.Errorf("%d connections for 3 keep-alive requests, want 1", n)
			}
		})
	}
}

func TestH1Chunked(t *testing.T) {
	const resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;name=value\r\nhello\r\n" +
		"B ; x=\"y\"\r\n world, and\r\n" +
		"a\r\n more text\r\n" +
		"0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n"
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			s := newH1Srv(t, h1Answer(resp))
			c := s.client()
			defer c.close()
			want := ""
			if keep {
				want = "hello world, and more text"
			}
			// Twice on one connection: the trailers were read to the end.
			for range 2 {
				r := h1Do(t, c, h1GetReq, false, false, keep)
				h1Check(t, r, 200, len(resp), "", want)
			}
			if n := s.accepted.Load(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
		})
	}
}

func TestH1CloseDelimited(t *testing.T) {
	long := strings.Repeat("x", 10_000) + "\nend\n" + strings.Repeat("y", 5000)
	for _, tc := range []struct{ name, body string }{
		{"short", "no length, the close ends it"},
		{"longer than the buffer", long},
		{"empty", ""},
	} {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keep=%v", tc.name, keep), func(t *testing.T) {
				resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + tc.body
				s := newH1Srv(t, h1Seq(true, resp))
				c := s.client()
				defer c.close()
				r := h1Do(t, c, h1GetReq, false, false, keep)
				want := ""
				if keep {
					want = tc.body
				}
				h1Check(t, r, 200, len(resp), "", want)
				if c.conn != nil {
					t.Error("the connection is still open after a close-delimited body")
				}
			})
		}
	}
}

// HEAD, 204 and 304 have no body whatever their headers say: the next
// response on the connection is read where it starts.
func TestH1NoBody(t *testing.T) {
	const next = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
	for _, tc := range []struct {
		name string
		head bool
		resp string
	}{
		{"HEAD with Content-Length", true, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
		{"HEAD chunked", true, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"HEAD without length", true, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"},
		{"204", false, "HTTP/1.1 204 No Content\r\n\r\n"},
		{"Content-Length: 0", false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"HEAD with Content-Length: 0", true, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"304 with Content-Length", false, "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\nETag: \"x\"\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newH1Srv(t, h1Seq(false, tc.resp, next))
			c := s.client()
			defer c.close()
			r := h1Do(t, c, h1GetReq, tc.head, false, true)
			st, _ := strconv.Atoi(tc.resp[9:12])
			h1Check(t, r, st, len(tc.resp), "", "")
			r = h1Do(t, c, h1GetReq, false, false, true)
			h1Check(t, r, 200, len(next), "", "next")
			if n := s.accepted.Load(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
		})
	}
}

// Responses that end the connection: the client closes its side and the
// next request dials again.
func TestH1ConnectionEnds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resp   string
		closes bool
	}{
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", true},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false},
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true},
		{"connection: CLOSE", "HTTP/1.1 200 OK\r\nconnection: CLOSE\r\nContent-Length: 2\r\n\r\nok", true},
		{"HTTP/1.1 keep-alive", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The server keeps its side open: only the client ends it.
			s := newH1Srv(t, h1Answer(tc.resp))
			c := s.client()
			defer c.close()
			for i := range 2 {
				r := h1Do(t, c, h1GetReq, false, false, true)
				h1Check(t, r, 200, len(tc.resp), "", "ok")
				if closed := c.conn == nil; closed != tc.closes {
					t.Errorf("request %d: connection closed %v, want %v", i, closed, tc.closes)
				}
			}
			want := int32(1)
			if tc.closes {
				want = 2
			}
			if n := s.accepted.Load(); n != want {
				t.Errorf("%d connections, want %d", n, want)
			}
		})
	}
}

func TestH1InterimResponses(t *testing.T) {
	const resp = "HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
		"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nLocation: /x\r\n\r\nok"
	s := newH1Srv(t, h1Answer(resp))
	c := s.client()
	defer c.close()
	for range 2 {
		r := h1Do(t, c, h1GetReq, false, true, true)
		// Only the final response's headers are kept; every byte is counted.
		h1Check(t, r, 201, len(resp), "Content-Length: 2\nLocation: /x\n", "ok")
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// A server that closes an idle kept-alive connection without saying so:
// the request that finds it closed is sent again on a new connection.
func TestH1RetryOnStaleConnection(t *testing.T) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, tc := range []struct{ name, req string }{
		{"GET", h1GetReq},
		{"POST", "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newH1Srv(t, h1Seq(true, resp))
			c := s.client()
			defer c.close()
			for i := range 3 {
				r := &response{}
				if err := h1DoWatched(c, []byte(tc.req), false, false, true, r); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				h1Check(t, r, 200, len(resp), "", "ok")
				if r.sent != int64(len(tc.req)) {
					t.Errorf("sent %d, want %d", r.sent, len(tc.req))
				}
				if i == 0 {
					// Let the server's close arrive before the next request.
					time.Sleep(20 * time.Millisecond)
				}
			}
			if n := s.accepted.Load(); n != 3 {
				t.Errorf("%d connections, want 3", n)
			}
		})
	}
}

// A fresh connection that fails is not retried: the server is not stale,
// it is broken (a second connection would be answered).
func TestH1NoRetryOnFreshConnection(t *testing.T) {
	s := newH1Srv(t, func(n int, c net.Conn, br *bufio.Reader) {
		if n == 0 {
			h1ReadReq(br)
			c.Close()
			return
		}
		h1Answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")(n, c, br)
	})
	c := s.client()
	defer c.close()
	r := &response{}
	err := h1DoWatched(c, []byte(h1GetReq), false, false, true, r)
	if err == nil {
		t.Fatalf("do succeeded (status %d): the failed fresh connection was retried", r.status)
	}
	if c.conn != nil {
		t.Error("the failed connection is still open")
	}
}

// A kept-alive connection that breaks after part of the response arrived
// is not retried: the server had the request.
func TestH1NoRetryAfterPartialResponse(t *testing.T) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	s := newH1Srv(t, func(n int, c net.Conn, br *bufio.Reader) {
		if n == 0 {
			h1Seq(true, resp, "HTTP/1.1 200 OK\r\nContent-Le")(n, c, br)
			return
		}
		h1Answer(resp)(n, c, br)
	})
	c := s.client()
	defer c.close()
	h1Do(t, c, h1GetReq, false, false, true)
	r := &response{}
	err := h1DoWatched(c, []byte(h1GetReq), false, false, true, r)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("do: %v (status %d), want io.ErrUnexpectedEOF and no retry", err, r.status)
	}
	if r.recv != int64(len("HTTP/1.1 200 OK\r\nContent-Le")) {
		t.Errorf("recv %d", r.recv)
	}
}

func TestH1Malformed(t *testing.T) {
	long := strings.Repeat("a", 5000)
	for _, tc := range []struct{ name, resp, msg string }{
		{"status code not a number", "HTTP/1.1 2x0 OK\r\n\r\n", "status line"},
		{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", "status line"},
		{"not HTTP", "ICY 200 OK\r\n\r\n", "status line"},
		{"short status line", "HTTP/1.1\r\n\r\n", "status line"},
		{"no space after version", "HTTP/1.1-200 OK\r\n\r\n", "status line"},
		{"header without colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "header line"},
		{"Content-Length not a number", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", "Content-Length"},
		{"negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "chunk size"},
		{"negative chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", "chunk size"},
		{"no CRLF after chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n", "no CRLF after chunk"},
		{"long header line", "HTTP/1.1 200 OK\r\nX-Big: " + long + "\r\nContent-Length: 0\r\n\r\n", "header line longer than 4 KiB"},
		{"long chunk extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + long + "\r\nhello\r\n0\r\n\r\n", "longer than 4 KiB"},
		{"long trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + long + "\r\n\r\n", "longer than 4 KiB"},
		{"long status line", "HTTP/1.1 200 " + long + "\r\nContent-Length: 0\r\n\r\n", "header line longer than 4 KiB"},
	} {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keep=%v", tc.name, keep), func(t *testing.T) {
				// The server keeps the connection open: the error is the
				// response's, not an EOF.
				s := newH1Srv(t, h1Seq(false, tc.resp))
				c := s.client()
				defer c.close()
				r := &response{}
				err := h1DoWatched(c, []byte(h1GetReq), false, keep, keep, r)
				if !errors.Is(err, errMalformed) {
					t.Fatalf("do: %v, want errMalformed", err)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q does not say %q", err, tc.msg)
				}
				if c.conn != nil {
					t.Error("the connection is still open after a malformed response")
				}
			})
		}
	}
}

func TestH1Truncated(t *testing.T) {
	for _, tc := range []struct{ name, resp string }{
		{"Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"},
		{"chunked without the last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"},
		{"headers", "HTTP/1.1 200 OK\r\nContent-Len"},
	} {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keep=%v", tc.name, keep), func(t *testing.T) {
				s := newH1Srv(t, h1Seq(true, tc.resp))
				c := s.client()
				defer c.close()
				r := &response{}
				err := h1DoWatched(c, []byte(h1GetReq), false, keep, keep, r)
				if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
					t.Fatalf("do: %v, want an unexpected EOF", err)
				}
				if r.recv != int64(len(tc.resp)) {
					t.Errorf("recv %d, want %d", r.recv, len(tc.resp))
				}
			})
		}
	}
}

func TestH1BodyLimit(t *testing.T) {
	body := make([]byte, bodyLimit+1000)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	resp := "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	s := newH1Srv(t, h1Answer(resp))
	c := s.client()
	defer c.close()
	r := h1Do(t, c, h1GetReq, false, false, true)
	if r.recv != int64(len(resp)) {
		t.Errorf("recv %d, want %d", r.recv, len(resp))
	}
	if len(r.body) != bodyLimit || !bytes.Equal(r.body, body[:bodyLimit]) {
		t.Errorf("kept %d bytes (a prefix: %v), want the first %d", len(r.body), bytes.HasPrefix(body, r.body), bodyLimit)
	}
	// Discarded, nothing is kept and everything is counted.
	r = h1Do(t, c, h1GetReq, false, false, false)
	if r.recv != int64(len(resp)) || len(r.body) != 0 {
		t.Errorf("recv %d, kept %d", r.recv, len(r.body))
	}
}

// What is kept of a body over the limit must be its beginning: a check or
// an extract must never see bytes that were not next to each other.
func TestH1BodyLimitKeepsAPrefix(t *testing.T) {
	a := strings.Repeat("a", bodyLimit-10)
	b := strings.Repeat("b", 100)
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n5\r\nccccc\r\n0\r\n\r\n", len(a), a, len(b), b)
	var lines strings.Builder
	for i := 0; lines.Len() < 2*bodyLimit; i++ {
		lines.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+(i*997)%6000))
		lines.WriteByte('\n')
	}
	for _, tc := range []struct{ name, resp, body string }{
		{"chunked", chunked, a + b + "ccccc"},
		{"close-delimited", "HTTP/1.1 200 OK\r\n\r\n" + lines.String(), lines.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newH1Srv(t, h1Seq(true, tc.resp))
			c := s.client()
			defer c.close()
			r := h1Do(t, c, h1GetReq, false, false, true)
			if r.recv != int64(len(tc.resp)) {
				t.Errorf("recv %d, want %d", r.recv, len(tc.resp))
			}
			if !strings.HasPrefix(tc.body, string(r.body)) || len(r.body) != bodyLimit {
				n := 0
				for n < len(r.body) && r.body[n] == tc.body[n] {
					n++
				}
				t.Errorf("kept %d bytes, equal to the body for only the first %d", len(r.body), n)
			}
		})
	}
}

// interrupt, from another goroutine, fails a read that waits for a
// server that never answers, at once and without a retry.
func TestH1Interrupt(t *testing.T) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, tc := range []struct {
		name     string
		answered int // requests answered before the server goes silent
	}{
		{"fresh connection", 0},
		{"reused connection", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			waiting := make(chan struct{}, 1)
			s := newH1Srv(t, func(n int, c net.Conn, br *bufio.Reader) {
				if n > 0 {
					h1Answer(resp)(n, c, br) // a retry would be answered
					return
				}
				for i := 0; ; i++ {
					if _, _, ok := h1ReadReq(br); !ok {
						return
					}
					if i < tc.answered {
						io.WriteString(c, resp)
						continue
					}
					waiting <- struct{}{}
					io.Copy(io.Discard, br) // never answers
					return
				}
			})
			c := s.client()
			defer c.close()
			c.interrupt() // no connection yet: nothing to do
			for range tc.answered {
				h1Do(t, c, h1GetReq, false, false, false)
			}
			done := make(chan error, 1)
			r := &response{}
			go func() { done <- c.do([]byte(h1GetReq), false, false, false, r) }()
			<-waiting
			start := time.Now()
			c.interrupt()
			select {
			case err := <-done:
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("do: %v (status %d), want a timeout error", err, r.status)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("do returned %v after interrupt", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("do still blocked 5s after interrupt")
			}
			if n := s.accepted.Load(); n != 1 {
				t.Errorf("%d connections, want 1 (no retry after an interrupt)", n)
			}
		})
	}
}

const h1Scenario = `base_url: http://127.0.0.1:8080
vus: 1
duration: 1s
steps:
  - name: health
    path: /health?full=1
  - name: login
    path: /login
    extract:
      token: json.token
      id: string(json.id)
  - name: post
    path: /items/{{id}}
    headers:
      X-Static: "1"
      Authorization: Bearer {{token}}
    body: '{"t":"{{token}}"}'
  - name: json
    path: http://example.com/api
    headers:
      User-Agent: custom/1
    json: {a: 1}
  - name: empty
    method: POST
    path: /empty
`

func h1Compile(t *testing.T, doc string) *compiled {
	t.Helper()
	c, err := compile(scnParse(t, doc, LoadOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestH1RequestBytes(t *testing.T) {
	c := h1Compile(t, h1Scenario)
	steps := map[string]*cstep{}
	for _, cs := range c.steps {
		steps[cs.name] = cs
		if !cs.h1 {
			t.Errorf("%s: not on the h1 client", cs.name)
		}
	}
	tests := []struct {
		step   string
		vars   map[string]string
		static bool
		addr   string
		want   string
	}{
		{"health", nil, true, "127.0.0.1:8080",
			"GET /health?full=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: prf-loadtest\r\n\r\n"},
		{"login", nil, true, "127.0.0.1:8080",
			"GET /login HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: prf-loadtest\r\n\r\n"},
		{"post", map[string]string{"token": "abc", "id": "7"}, false, "127.0.0.1:8080",
			"POST /items/7 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer abc\r\nX-Static: 1\r\nUser-Agent: prf-loadtest\r\nContent-Length: 11\r\n\r\n" + `{"t":"abc"}`},
		{"post", map[string]string{"token": "", "id": "12345"}, false, "127.0.0.1:8080",
			"POST /items/12345 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer \r\nX-Static: 1\r\nUser-Agent: prf-loadtest\r\nContent-Length: 8\r\n\r\n" + `{"t":""}`},
		{"json", nil, true, "example.com:80",
			"POST /api HTTP/1.1\r\nHost: example.com\r\nUser-Agent: custom/1\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n" + `{"a":1}`},
		{"empty", nil, true, "127.0.0.1:8080",
			"POST /empty HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: prf-loadtest\r\nContent-Length: 0\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.step, func(t *testing.T) {
			cs := steps[tc.step]
			if cs == nil {
				t.Fatalf("no step %q", tc.step)
			}
			if cs.addr != tc.addr {
				t.Errorf("addr %q, want %q", cs.addr, tc.addr)
			}
			if got := string(cs.appendRequest(nil, tc.vars)); got != tc.want {
				t.Errorf("request\n got %q\nwant %q", got, tc.want)
			}
			if (cs.static != nil) != tc.static {
				t.Errorf("prebuilt %v, want %v", cs.static != nil, tc.static)
			}
			if cs.static != nil && string(cs.static) != tc.want {
				t.Errorf("prebuilt request\n got %q\nwant %q", cs.static, tc.want)
			}
			// Appending into a reused buffer writes the same bytes and
			// allocates nothing once it is big enough.
			buf := cs.appendRequest(make([]byte, 0, 1024), tc.vars)
			if string(buf) != tc.want {
				t.Errorf("appended %q", buf)
			}
			if n := testing.AllocsPerRun(100, func() { buf = cs.appendRequest(buf[:0], tc.vars) }); n != 0 {
				t.Errorf("appendRequest: %v allocations", n)
			}
		})
	}
}

// The requests the h1 client writes are read as they were meant by
// net/http's server, one keep-alive connection for all of them.
func TestH1AgainstNetHTTPServer(t *testing.T) {
	big := strings.Repeat("0123456789", 10_000)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s host=%s ua=%s auth=%q ct=%q cl=%d body=%s",
			r.Method, r.URL.RequestURI(), r.Host, r.UserAgent(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.ContentLength, body))
		mu.Unlock()
		switch r.URL.Path {
		case "/login":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"token":"tok-1","id":42}`)
		case "/big":
			// Streamed: net/http sends it chunked.
			for i := 0; i < len(big); i += 7000 {
				io.WriteString(w, big[i:min(i+7000, len(big))])
				w.(http.Flusher).Flush()
			}
		case "/none":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("X-Path", r.URL.Path)
			fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
		}
	}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := h1Compile(t, strings.Replace(h1Scenario, "http://127.0.0.1:8080", srv.URL, 1)+`  - name: big
    path: /big
  - name: head
    method: HEAD
    path: /big
  - name: none
    path: /none
`)
	conn := &h1Conn{addr: host, timeout: 5 * time.Second}
	defer conn.close()
	vars := map[string]string{"token": "tok-1", "id": "42"}
	var buf []byte
	r := &response{}
	for _, cs := range c.steps {
		if cs.name == "json" {
			continue // example.com
		}
		if cs.addr != host {
			t.Fatalf("%s: addr %q, want %q", cs.name, cs.addr, host)
		}
		buf = cs.appendRequest(buf[:0], vars)
		if err := h1DoWatched(conn, buf, cs.head, true, true, r); err != nil {
			t.Fatalf("%s: %v", cs.name, err)
		}
		switch cs.name {
		case "login":
			if r.status != 200 || string(r.body) != `{"token":"tok-1","id":42}` || !bytes.Contains(r.header, []byte("Content-Type: application/json\n")) {
				t.Errorf("login: %d %q %q", r.status, r.header, r.body)
			}
		case "post":
			if r.status != 200 || string(r.body) != "POST /items/42" || !bytes.Contains(r.header, []byte("X-Path: /items/42\n")) {
				t.Errorf("post: %d %q %q", r.status, r.header, r.body)
			}
		case "big":
			if r.status != 200 || string(r.body) != big || !bytes.Contains(r.header, []byte("Transfer-Encoding: chunked\n")) {
				t.Errorf("big: %d, %d bytes, %q", r.status, len(r.body), r.header)
			}
		case "head", "none":
			if len(r.body) != 0 {
				t.Errorf("%s: body %q", cs.name, r.body)
			}
		}
		if r.recv <= int64(len(r.body)) {
			t.Errorf("%s: recv %d for a %d-byte body", cs.name, r.recv, len(r.body))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		`GET /health?full=1 host=` + host + ` ua=prf-loadtest auth="" ct="" cl=0 body=`,
		`GET /login host=` + host + ` ua=prf-loadtest auth="" ct="" cl=0 body=`,
		`POST /items/42 host=` + host + ` ua=prf-loadtest auth="Bearer tok-1" ct="" cl=13 body={"t":"tok-1"}`,
		`POST /empty host=` + host + ` ua=prf-loadtest auth="" ct="" cl=0 body=`,
		`GET /big host=` + host + ` ua=prf-loadtest auth="" ct="" cl=0 body=`,
		`HEAD /big host=` + host + ` ua=prf-loadtest auth="" ct="" cl=0 body=`,
		`GET /none host=` + host + ` ua=prf-loadtest auth="" ct="" cl=0 body=`,
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("the server saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// BenchmarkH1Do is one h1Conn doing keep-alive GETs against a raw server
// on loopback that allocates nothing per request: allocs/op are the
// client's (goal 0).
func BenchmarkH1Do(b *testing.B) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
	s, _ := scriptedServer(b, resp, 0, false)
	c := s.client()
	defer c.close()
	req := []byte(h1GetReq)
	r := &response{}
	// Warm up: dial and grow the buffers.
	if err := c.do(req, false, false, false, r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.do(req, false, false, false, r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if r.status != 200 || r.recv != int64(len(resp)) {
		b.Fatalf("status %d, recv %d", r.status, r.recv)
	}
	if n := s.accepted.Load(); n != 1 {
		b.Fatalf("%d connections, want 1", n)
	}
}
