package httpguard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testSettings cut a reader slower than 8 KiB/s after one second.
var testSettings = Settings{MinSendRate: 8 << 10, SendGrace: time.Second, ReadHeaderTimeout: time.Second,
	ReadTimeout: time.Second, IdleTimeout: 5 * time.Second}

// serve runs h behind NewServer and LimitListener on loopback; closed
// reports connections the server closed.
func serve(t *testing.T, s Settings, h http.Handler) (addr string, closed <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, s)
	ch := make(chan struct{}, 100)
	inner := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		inner(c, state)
		if state == http.StateClosed || state == http.StateHijacked {
			ch <- struct{}{}
		}
	}
	go func() { _ = srv.Serve(LimitListener(ln, s)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), ch
}

// dialSmall connects with a small receive buffer, as a reader that means
// to take nothing would.
func dialSmall(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func bigHandler(size int, result chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		_, err := w.Write(make([]byte, size))
		if result != nil {
			result <- err
		}
	})
}

func TestSlowReaderIsCut(t *testing.T) {
	result := make(chan error, 1)
	addr, closed := serve(t, testSettings, bigHandler(4<<20, result))
	c := dialSmall(t, addr)
	start := time.Now()
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	// Grace plus one chunk at the minimum rate, and scheduling slack.
	limit := testSettings.SendGrace + 2*time.Second + time.Second
	select {
	case err := <-result:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("write to a reader that takes nothing ended with %v, want a timeout", err)
		}
	case <-time.After(limit):
		t.Fatalf("write to a reader that takes nothing still blocked after %v", limit)
	}
	select {
	case <-closed:
		t.Logf("slow reader cut after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(time.Second):
		t.Fatal("connection of the slow reader not closed")
	}
}

func TestReaderAtTheMinimumRateKeepsUp(t *testing.T) {
	const size = 80 << 10
	addr, _ := serve(t, testSettings, bigHandler(size, nil))
	c := dialSmall(t, addr)
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 1024), nil)
	if err != nil {
		t.Fatal(err)
	}
	// 4 KiB every 250 ms: 16 KiB/s, twice the minimum, for 5 s in all, far
	// beyond the grace.
	buf := make([]byte, 4<<10)
	got := 0
	for {
		n, err := io.ReadFull(resp.Body, buf)
		got += n
		if err != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if got != size {
		t.Fatalf("a reader at twice the minimum rate got %d of %d bytes", got, size)
	}
}

func TestHeldRequestIsNotCut(t *testing.T) {
	// Held three times the grace and the read timeout, as a blocking
	// reload waits for its part.
	hold := 3 * testSettings.SendGrace
	addr, _ := serve(t, testSettings, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(hold):
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(make([]byte, 64<<10))
	}))
	c := dialSmall(t, addr)
	for i := range 2 { // and again on the same keep-alive connection
		start := time.Now()
		fmt.Fprintf(c, "GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != 64<<10 || time.Since(start) < hold {
			t.Fatalf("request %d held %v: %d bytes, %v", i, time.Since(start), n, err)
		}
	}
}

func TestHijackedConnectionKeepsNoDeadline(t *testing.T) {
	addr, _ := serve(t, testSettings, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		time.Sleep(2 * testSettings.SendGrace) // past every HTTP deadline
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\nhello")
		if err := brw.Flush(); err != nil {
			t.Errorf("write on the hijacked connection: %v", err)
		}
	}))
	c := dialSmall(t, addr)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(b), "hello") {
		t.Fatalf("hijacked connection got %q", b)
	}
}

// fakeListener hands out one end of a pipe per Accept, from a given address.
type fakeListener struct {
	conns chan net.Conn
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func (l *fakeListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l *fakeListener) Close() error   { return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// connect makes a connection from ip and returns the client's end.
func (l *fakeListener) connect(ip string) net.Conn {
	server, client := net.Pipe()
	l.conns <- addrConn{Conn: server, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 4000}}
	return client
}

// isClosed reports whether the server closed its end of c.
func isClosed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}

func TestConnectionsPerNetwork(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	fl := &fakeListener{conns: make(chan net.Conn)}
	ln := LimitListener(fl, Settings{MaxConnsPerNetwork: 2, Logger: log}).(*connLimiter)
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	next := func() net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(100 * time.Millisecond):
			return nil
		}
	}
	a1, a2 := fl.connect("198.51.100.7"), fl.connect("198.51.100.7")
	s1, s2 := next(), next()
	if s1 == nil || s2 == nil {
		t.Fatal("the first two connections from a network were not accepted")
	}
	for range 5 {
		if c := fl.connect("198.51.100.7"); !isClosed(c) {
			t.Fatal("a third connection from the network was not closed")
		}
	}
	if c := next(); c != nil {
		t.Fatal("a refused connection reached the server")
	}
	// IPv6 counts by /64: another address of the same /64 is the same network.
	fl.connect("2001:db8:1:2::1")
	fl.connect("2001:db8:1:2::2")
	next()
	next()
	if c := fl.connect("2001:db8:1:2:ffff::3"); !isClosed(c) {
		t.Fatal("a third connection from the same IPv6 /64 was not closed")
	}
	// Another network and loopback (a reverse proxy) still get in.
	fl.connect("198.51.100.8")
	if next() == nil {
		t.Fatal("another network was refused")
	}
	for range 5 {
		fl.connect("127.0.0.1")
		if next() == nil {
			t.Fatal("a loopback connection was refused")
		}
	}
	// Closing one frees its slot, once however often it is closed.
	_ = s1.Close()
	_ = s1.Close()
	fl.connect("198.51.100.7")
	if next() == nil {
		t.Fatal("a slot freed by a close was not given to the next connection")
	}
	if n := ln.Open(netip.MustParsePrefix("198.51.100.7/32")); n != 2 {
		t.Fatalf("%d connections counted open from the network, want 2", n)
	}
	_, _ = a1, a2
	logMu.Lock()
	defer logMu.Unlock()
	if n := strings.Count(logs.String(), "network=198.51.100.7/32"); n != 1 {
		t.Fatalf("refusals from one network logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "config_key="+KeyMaxConnsPerNetwork) {
		t.Fatalf("refusal log does not name the config key:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestRefusalLogRepeatsAfterAMinute(t *testing.T) {
	var logs bytes.Buffer
	l := &connLimiter{max: 1, log: slog.New(slog.NewTextHandler(&logs, nil)), open: map[netip.Prefix]int{}, logged: map[netip.Prefix]refusals{}}
	n := netip.MustParsePrefix("198.51.100.7/32")
	now := time.Unix(1000, 0)
	for i := range 10 {
		l.refusedLocked(n, now.Add(time.Duration(i)*time.Second))
	}
	l.refusedLocked(n, now.Add(61*time.Second))
	if got := strings.Count(logs.String(), "refusing"); got != 2 {
		t.Fatalf("%d log lines for refusals over 61 s, want 2:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "refused_since_last_report=10") {
		t.Fatalf("the second line does not count the refusals since the first:\n%s", logs.String())
	}
}

func TestHeldRequestsBound(t *testing.T) {
	h := NewHolds(Settings{MaxHeldPerNetwork: 2, MaxHeld: 3})
	from := func(xff string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/live/show/source.m3u8?_HLS_msn=5", nil)
		r.RemoteAddr = "127.0.0.1:5000" // through a proxy on loopback
		r.Header.Set("X-Forwarded-For", xff)
		return r
	}
	hold := func(xff string) (func(), *httptest.ResponseRecorder) {
		w := httptest.NewRecorder()
		release, ok := h.Hold(w, from(xff))
		if !ok {
			return nil, w
		}
		return release, w
	}
	r1, _ := hold("198.51.100.1")
	r2, _ := hold("198.51.100.1")
	if r1 == nil || r2 == nil {
		t.Fatal("the first two held requests of a network were refused")
	}
	if rel, w := hold("198.51.100.1"); rel != nil {
		t.Fatal("the third held request of a network was admitted")
	} else if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
		w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(w.Body.String(), KeyMaxHeldPerNetwork) ||
		!strings.Contains(w.Body.String(), "at most 2") {
		t.Fatalf("refusal: %d %v %q", w.Code, w.Header(), w.Body.String())
	}
	r3, _ := hold("198.51.100.2")
	if r3 == nil {
		t.Fatal("another network was refused")
	}
	if rel, w := hold("198.51.100.3"); rel != nil || w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), KeyMaxHeld+")") {
		t.Fatalf("a request beyond the global bound: admitted %v, %d %q", rel != nil, w.Code, w.Body.String())
	}
	r1()
	r1() // a second release frees nothing more
	if all, mine := h.Held(netip.MustParsePrefix("198.51.100.1/32")); all != 2 || mine != 1 {
		t.Fatalf("after one release: %d held, %d from the network", all, mine)
	}
	if rel, _ := hold("198.51.100.1"); rel == nil {
		t.Fatal("a released slot was not given again")
	}
	var nilHolds *Holds
	if _, ok := nilHolds.Hold(httptest.NewRecorder(), from("198.51.100.1")); !ok {
		t.Fatal("a nil Holds refused")
	}
}
