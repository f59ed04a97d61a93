package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedServer answers each request (a head without a body) with resp,
// written in pieces of chunk bytes (0: at once); closeAfter closes the
// connection after each response without announcing it. Reading lines
// from the connection's bufio.Reader, it allocates nothing per request.
func scriptedServer(tb testing.TB, resp string, chunk int, closeAfter bool) (*h1Srv, *atomic.Int64) {
	tb.Helper()
	var n atomic.Int64
	raw := []byte(resp)
	s := newH1Srv(tb, func(_ int, c net.Conn, br *bufio.Reader) {
		defer c.Close()
		for {
			for {
				l, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(bytes.TrimRight(l, "\r\n")) == 0 {
					break
				}
			}
			n.Add(1)
			b := raw
			for len(b) > 0 {
				k := len(b)
				if chunk > 0 {
					k = min(chunk, len(b))
				}
				if _, err := c.Write(b[:k]); err != nil {
					return
				}
				b = b[k:]
				if chunk > 0 {
					time.Sleep(50 * time.Microsecond)
				}
			}
			if closeAfter {
				return
			}
		}
	})
	return s, &n
}

// The event loop parses responses incrementally, from whatever bytes have
// arrived: each framing, dribbled a few bytes at a time, must count as
// exactly one good response.
func TestEventLoopFraming(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the event loop needs Linux")
	}
	for _, tc := range []struct {
		name       string
		resp       string
		closeAfter bool
		failed     bool
		errKind    string
	}{
		{name: "content-length", resp: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "chunked with trailer", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"},
		{name: "close-delimited", resp: "HTTP/1.1 200 OK\r\n\r\nuntil the end", closeAfter: true},
		{name: "HTTP/1.0", resp: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", closeAfter: true},
		{name: "connection close", resp: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", closeAfter: true},
		{name: "interim 100", resp: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{name: "204 no body", resp: "HTTP/1.1 204 No Content\r\n\r\n"},
		{name: "server closes kept-alive connections silently", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", closeAfter: true},
		{name: "404 fails", resp: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", failed: true},
		{name: "malformed", resp: "HTTX/1.1 200 OK\r\n\r\n", closeAfter: true, failed: true, errKind: "malformed response"},
		{name: "bad chunk", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", closeAfter: true, failed: true, errKind: "malformed response"},
	} {
		for _, chunk := range []int{0, 3} {
			t.Run(tc.name, func(t *testing.T) {
				srv, served := scriptedServer(t, tc.resp, chunk, tc.closeAfter)
				sc, err := Quick(srv.url()+"/", 2, 0, 0, 300*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				_, s := run(t, sc, Options{Engine: EngineLoop})
				if s.Requests == 0 || s.Requests != served.Load() {
					t.Fatalf("%d requests recorded, the server answered %d (errors %v)", s.Requests, served.Load(), s.Errors)
				}
				if tc.failed != (s.Failed == s.Requests) || (!tc.failed && s.Failed != 0) {
					t.Errorf("failed %d of %d, want all failed: %v (errors %v)", s.Failed, s.Requests, tc.failed, s.Errors)
				}
				if tc.errKind != "" && s.Errors[tc.errKind] == 0 {
					t.Errorf("errors %v, want %q", s.Errors, tc.errKind)
				}
			})
		}
	}
}

// Both closed-model engines measure the same things.
func TestEventLoopMatchesGoroutineEngine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the event loop needs Linux")
	}
	for _, tc := range []struct {
		engine  string
		workers int
	}{{EngineVU, 0}, {EngineLoop, 1}, {EngineLoop, 3}} {
		engine := tc.engine
		t.Run(fmt.Sprintf("%s-%d", engine, tc.workers), func(t *testing.T) {
			tg := newTarget(t, nil)
			sc := mustScenario(t, `
base_url: `+tg.URL+`
stages: [{duration: 200ms, target: 4}, {duration: 200ms, target: 4}, {duration: 200ms, target: 1}]
steps: [{name: a, path: /a}, {name: b, method: POST, path: /b, body: "x=1"}]
thresholds: {http_req_failed: ["rate<0.01"]}
`, nil)
			_, s := run(t, sc, Options{Engine: engine, Workers: tc.workers})
			if s.Requests != tg.reqs.Load() || s.Failed != 0 || !s.ThresholdsOK {
				t.Errorf("requests %d (server %d) failed %d thresholds %v errors %v", s.Requests, tg.reqs.Load(), s.Failed, s.ThresholdsOK, s.Errors)
			}
			if s.VUsMax != 4 || tg.conns.Load() != 4 {
				t.Errorf("vus_max %d, connections %d, want 4 and 4", s.VUsMax, tg.conns.Load())
			}
			if d := s.Steps[0].Requests - s.Steps[1].Requests; d < 0 || d > 4 {
				t.Errorf("steps a %d and b %d: each iteration does both", s.Steps[0].Requests, s.Steps[1].Requests)
			}
			if s.Iterations < s.Steps[1].Requests-4 || s.Iterations > s.Steps[0].Requests {
				t.Errorf("iterations %d for steps %d/%d", s.Iterations, s.Steps[0].Requests, s.Steps[1].Requests)
			}
		})
	}
	if _, _, err := Run(t.Context(), mustScenario(t, "base_url: http://127.0.0.1:1\nvus: 1\nduration: 1s\nsteps: [{path: /, checks: {ok: status == 200}}]\n", nil), Options{Engine: EngineLoop}); err == nil {
		t.Error("engine loop accepted a scenario with checks")
	}
}

func TestEventLoopConnectionRefused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the event loop needs Linux")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sc, _ := Quick("http://"+addr+"/", 2, 0, 0, 300*time.Millisecond)
	_, s := run(t, sc, Options{Engine: EngineLoop})
	if s.Requests == 0 || s.Failed != s.Requests || s.Errors["connection refused"] != s.Requests {
		t.Errorf("requests %d failed %d errors %v", s.Requests, s.Failed, s.Errors)
	}
}
