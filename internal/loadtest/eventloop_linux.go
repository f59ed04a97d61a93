//go:build linux

package loadtest

import (
	"bytes"
	"errors"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// The event loop runs the closed model the way wrk does: one worker per
// core, each an epoll loop over its VUs' non-blocking sockets, with no
// goroutine, channel or netpoller wake-up per request. It serves scenarios
// whose steps are static plain-HTTP requests with no checks, extract or
// think time (quick mode among them): the saturation case, where the
// client's own CPU decides how much load one machine can make. Everything
// else runs on one goroutine per VU.

func (e *engine) eventLoopEligible() bool {
	if e.open || e.sc.ThinkTime > 0 || e.opt.Engine == EngineVU {
		return false
	}
	// A handful of VUs leave the loop idle between responses, where the
	// goroutines' netpoller waits more cheaply: auto picks the loop for
	// saturation-sized tests only.
	if e.opt.Engine == "" && e.sc.peakVUs() < 16 {
		return false
	}
	addr := ""
	for _, cs := range e.c.steps {
		if !cs.h1 || cs.static == nil || len(cs.checks) > 0 || len(cs.extract) > 0 || cs.thinkTime > 0 {
			return false
		}
		if addr != "" && cs.addr != addr {
			return false
		}
		addr = cs.addr
	}
	return true
}

// connection states
const (
	evConnecting = iota
	evWriting
	evHead
	evBody
)

type evConn struct {
	fd        int
	id        int // VU id
	step      int
	state     int
	wpos      int
	sent      time.Time
	iterStart time.Time
	hdr       []byte // a partial response head
	h         head
	body      bodyReader
	recv      int64
	reused    bool
	retried   bool
	leaving   bool // ramped down: close after this iteration
	wblocked  bool // a short write armed EPOLLOUT
}

type evWorker struct {
	e      *engine
	idx, n int // worker index and count
	epfd   int
	sa     syscall.Sockaddr
	family int
	conns  map[int]*evConn
	byID   []*evConn
	sh     *shard
	rbuf   []byte
	smp    sample
}

// runEventLoop starts one worker per core; the ramp goroutine of the
// closed model keeps e.target, and each worker owns the VUs whose id is
// its index modulo the worker count.
func (e *engine) runEventLoop() error {
	ta, err := net.ResolveTCPAddr("tcp", e.c.steps[0].addr)
	if err != nil {
		return err
	}
	// One Sockaddr per worker: Connect writes into it.
	sockaddr := func() (syscall.Sockaddr, int) {
		if ip4 := ta.IP.To4(); ip4 != nil {
			s := &syscall.SockaddrInet4{Port: ta.Port}
			copy(s.Addr[:], ip4)
			return s, syscall.AF_INET
		}
		s := &syscall.SockaddrInet6{Port: ta.Port}
		copy(s.Addr[:], ta.IP.To16())
		return s, syscall.AF_INET6
	}
	n := e.opt.Workers
	if n <= 0 {
		// Half the cores: measured on 2 cores against a server on the same
		// machine, one worker made 1.0-1.3x the requests of two against
		// nginx and as many against a Go server (bench/loadtest.sh).
		n = max(1, runtime.GOMAXPROCS(0)/2)
	}
	for i := 0; i < n; i++ {
		sa, family := sockaddr()
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return err
		}
		w := &evWorker{e: e, idx: i, n: n, epfd: epfd, sa: sa, family: family, conns: map[int]*evConn{},
			sh: &e.rec.shards[i%len(e.rec.shards)], rbuf: make([]byte, 64<<10)}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			w.loop()
		}()
	}
	return nil
}

func (w *evWorker) loop() {
	e := w.e
	defer func() {
		for _, c := range w.conns {
			w.drop(c)
		}
		syscall.Close(w.epfd)
	}()
	events := make([]syscall.EpollEvent, 256)
	lastTick := time.Time{}
	for {
		now := time.Now()
		if now.Sub(lastTick) >= 5*time.Millisecond {
			lastTick = now
			if e.hard.Err() != nil {
				return
			}
			w.rampAndSweep(now)
			if e.stopped.Load() && w.inFlight() == 0 {
				return
			}
		}
		n, err := syscall.EpollWait(w.epfd, events, 5)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
		for i := 0; i < n; i++ {
			c := w.conns[int(events[i].Fd)]
			if c == nil {
				continue
			}
			if c.state == evConnecting || c.state == evWriting {
				w.writable(c)
				continue
			}
			w.readable(c)
		}
	}
}

func (w *evWorker) inFlight() int {
	k := 0
	for _, c := range w.byID {
		if c != nil {
			k++
		}
	}
	return k
}

// rampAndSweep opens or retires VUs to match this worker's share of the
// target and fails requests older than the timeout.
func (w *evWorker) rampAndSweep(now time.Time) {
	e := w.e
	target := int(e.target.Load())
	want := 0
	if target > w.idx {
		want = (target - w.idx + w.n - 1) / w.n
	}
	if e.stopped.Load() || now.Sub(e.start) >= e.total {
		want = 0
	}
	for len(w.byID) < want {
		w.byID = append(w.byID, nil)
	}
	for i := range w.byID {
		c := w.byID[i]
		switch {
		case i < want && c == nil && !e.stopped.Load():
			raiseTo(&e.alive, int64(w.idx+i*w.n+1))
			e.active.Add(1)
			w.open(i, nil)
		case i < want && c != nil:
			c.leaving = false
		case i >= want && c != nil:
			c.leaving = true
		}
	}
	var waiting, late []*evConn
	for k, c := range w.conns {
		if k < 0 {
			waiting = append(waiting, c)
		} else if now.Sub(c.sent) > e.sc.Timeout {
			late = append(late, c)
		}
	}
	for _, c := range late {
		w.fail(c, now, os.ErrDeadlineExceeded)
	}
	for _, c := range waiting {
		delete(w.conns, -1-c.id)
		w.next(c, now)
	}
}

// open starts a VU's connection (or a replacement for its closed one) and
// sends its current step once connected.
func (w *evWorker) open(slot int, c *evConn) {
	if c == nil {
		c = &evConn{id: w.idx + slot*w.n}
		w.byID[slot] = c
		c.iterStart = time.Now()
	}
	c.state, c.reused, c.wpos, c.fd, c.wblocked = evConnecting, false, 0, -1, false
	c.sent = time.Now()
	fd, err := syscall.Socket(w.family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err == nil {
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		err = syscall.Connect(fd, w.sa)
		if errors.Is(err, syscall.EINPROGRESS) {
			err = nil
		}
		if err == nil {
			err = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLOUT, Fd: int32(fd)})
		}
		if err != nil {
			syscall.Close(fd)
		}
	}
	if err != nil {
		// Record the failure; the next tick moves the VU on and retries.
		x := &w.smp
		*x = sample{step: c.step, failed: true, errKind: errKind(err, false)}
		w.sh.request(x)
		w.conns[-1-c.id] = c
		return
	}
	c.fd = fd
	w.conns[fd] = c
}

func (w *evWorker) slot(c *evConn) int { return (c.id - w.idx) / w.n }

// drop closes a connection without recording anything.
func (w *evWorker) drop(c *evConn) {
	if c.fd >= 0 {
		syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
		syscall.Close(c.fd)
		delete(w.conns, c.fd)
		c.fd = -1
	}
	delete(w.conns, -1-c.id)
}

func (w *evWorker) writable(c *evConn) {
	if c.state == evConnecting {
		if v, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR); err != nil || v != 0 {
			if err == nil {
				err = syscall.Errno(v)
			}
			w.fail(c, time.Now(), err)
			return
		}
		c.state = evWriting
		w.arm(c, syscall.EPOLLIN) // from now on the socket is watched for reads only
	}
	w.send(c)
}

// send writes the current step's request; a short write waits for EPOLLOUT.
func (w *evWorker) send(c *evConn) {
	req := w.e.c.steps[c.step].static
	for c.wpos < len(req) {
		n, err := syscall.Write(c.fd, req[c.wpos:])
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) {
				c.wblocked = true
				w.arm(c, syscall.EPOLLOUT)
				return
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			w.fail(c, time.Now(), err)
			return
		}
		c.wpos += n
	}
	c.state, c.hdr, c.recv = evHead, c.hdr[:0], 0
	if c.wblocked {
		c.wblocked = false
		w.arm(c, syscall.EPOLLIN)
	}
}

func (w *evWorker) arm(c *evConn, ev uint32) {
	syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: ev, Fd: int32(c.fd)})
}

func (w *evWorker) readable(c *evConn) {
	n, err := syscall.Read(c.fd, w.rbuf)
	if err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return
		}
		w.fail(c, time.Now(), err)
		return
	}
	if n == 0 {
		if c.state == evBody && c.body.eof() {
			w.complete(c, time.Now())
			return
		}
		w.fail(c, time.Now(), errEOF)
		return
	}
	c.recv += int64(n)
	p := w.rbuf[:n]
	for len(p) > 0 && (c.state == evHead || c.state == evBody) {
		if c.state == evHead {
			var rest []byte
			var ok bool
			rest, ok, err = w.parseHead(c, p)
			if err != nil {
				w.fail(c, time.Now(), err)
				return
			}
			if !ok {
				return
			}
			p = rest
			if c.body.mode == bodyNone {
				w.complete(c, time.Now())
				return
			}
			continue
		}
		k, done, ferr := c.body.feed(p)
		if ferr != nil {
			w.fail(c, time.Now(), ferr)
			return
		}
		p = p[k:]
		if done {
			w.complete(c, time.Now())
			return
		}
	}
}

var errEOF = errors.New("connection closed by the server")

// parseHead consumes the status line and headers once all have arrived.
func (w *evWorker) parseHead(c *evConn, p []byte) (rest []byte, ok bool, err error) {
	buf := p
	if len(c.hdr) > 0 {
		c.hdr = append(c.hdr, p...)
		buf = c.hdr
	}
	for {
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		if end < 0 {
			if len(buf) > 16<<10 {
				return nil, false, errMalformedHead
			}
			c.hdr = append(c.hdr[:0], buf...)
			return nil, false, nil
		}
		block, after := buf[:end], buf[end+4:]
		line, hdrs, _ := bytes.Cut(block, []byte("\r\n"))
		interim, err := c.h.statusLine(line)
		if err != nil {
			return nil, false, err
		}
		if interim {
			buf = after
			continue
		}
		for len(hdrs) > 0 {
			var l []byte
			l, hdrs, _ = bytes.Cut(hdrs, []byte("\r\n"))
			if err := c.h.headerLine(l); err != nil {
				return nil, false, err
			}
		}
		c.body = c.h.body(w.e.c.steps[c.step].head, false, nil)
		c.state = evBody
		// after may point into c.hdr: copy it out before hdr is reused.
		rest = after
		if len(c.hdr) > 0 {
			rest = append([]byte(nil), after...)
			c.hdr = c.hdr[:0]
		}
		return rest, true, nil
	}
}

var errMalformedHead = errors.New("malformed HTTP response: head longer than 16 KiB")

// complete records a response and sends the VU's next request.
func (w *evWorker) complete(c *evConn, now time.Time) {
	e := w.e
	x := &w.smp
	*x = sample{step: c.step, dur: now.Sub(c.sent), status: c.h.status, sent: int64(len(e.c.steps[c.step].static)), recv: c.recv}
	x.failed = c.h.status >= 400
	w.sh.request(x)
	c.reused, c.retried = true, false
	if c.h.close {
		w.drop(c)
	}
	w.next(c, now)
}

// fail records a failed request (retrying once, silently, a kept-alive
// connection the server closed before answering) and moves on.
func (w *evWorker) fail(c *evConn, now time.Time, err error) {
	e := w.e
	retry := c.reused && !c.retried && c.recv == 0 && c.state == evHead && (errors.Is(err, errEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
	w.drop(c)
	if retry {
		c.retried = true
		w.open(w.slot(c), c)
		return
	}
	c.retried = false
	if e.hard.Err() != nil {
		return
	}
	x := &w.smp
	*x = sample{step: c.step, dur: now.Sub(c.sent), failed: true, sent: int64(c.wpos), recv: c.recv, errKind: errKind(err, false)}
	w.sh.request(x)
	w.next(c, now)
}

// next advances the VU to its next step or iteration, or retires it.
func (w *evWorker) next(c *evConn, now time.Time) {
	e := w.e
	if e.sc.MaxRequests > 0 && e.reqs.Add(1) >= e.share(e.sc.MaxRequests) {
		e.stop("")
	}
	c.step++
	if c.step == len(e.c.steps) {
		c.step = 0
		w.sh.iteration(now.Sub(c.iterStart))
		c.iterStart = now
		if c.leaving || e.stopped.Load() || now.Sub(e.start) >= e.total {
			w.drop(c)
			w.byID[w.slot(c)] = nil
			e.active.Add(-1)
			return
		}
	}
	if e.hard.Err() != nil {
		return
	}
	c.sent, c.wpos = now, 0
	if c.fd < 0 {
		if _, waiting := w.conns[-1-c.id]; waiting {
			return // a failed connect: retried on the next tick
		}
		w.open(w.slot(c), c)
		return
	}
	c.state = evWriting
	w.send(c)
}

// raiseTo raises v to n unless it is already higher: the workers open
// VUs side by side, and a plain load-then-store could lower a peak
// another worker had just set.
func raiseTo(v *atomic.Int64, n int64) {
	for {
		cur := v.Load()
		if cur >= n || v.CompareAndSwap(cur, n) {
			return
		}
	}
}
