package llhls

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/httpguard"
)

// guardSettings cut a reader slower than 8 KiB/s after one second.
var guardSettings = httpguard.Settings{MinSendRate: 8 << 10, SendGrace: time.Second, ReadHeaderTimeout: time.Second,
	ReadTimeout: time.Second, IdleTimeout: 10 * time.Second, MaxHeldPerNetwork: 2, MaxHeld: 100}

// guardedServer serves st as the plugin does: behind httpguard's server
// and listener, counting served bytes into served.
func guardedServer(t *testing.T, st *Stream, served *atomic.Int64) (string, *httpguard.Holds) {
	t.Helper()
	h := &Handler{
		Lookup:   func(string) *Stream { return st },
		OnServed: func(_, _ string, n int) { served.Add(int64(n)) },
		Holds:    httpguard.NewHolds(guardSettings),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpguard.NewServer(h, guardSettings)
	go func() { _ = srv.Serve(httpguard.LimitListener(ln, guardSettings)) }()
	t.Cleanup(func() { _ = srv.Close() })
	t.Cleanup(st.Close)
	return ln.Addr().String(), h.Holds
}

func newGuardStream() *Stream {
	return NewStream("live/show", Settings{SegmentTarget: 2 * time.Second, PartTarget: 500 * time.Millisecond, WindowSegments: 4},
		[]RenditionInfo{{Name: "source", Bandwidth: 3_000_000}})
}

// request sends a GET from a client behind a proxy on loopback at xff.
func request(t *testing.T, addr, path, xff string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBlockingReloadOutlastsWriteDeadline(t *testing.T) {
	st := newGuardStream()
	var served atomic.Int64
	addr, _ := guardedServer(t, st, &served)
	feed(st, "source", 100, 0, 5, false) // segment 100 and part 101.0
	// The next part comes after three times the grace and the read timeout:
	// the held request must neither be cut nor lose its context meanwhile.
	hold := 3 * guardSettings.SendGrace
	time.AfterFunc(hold, func() { feed(st, "source", 100, 5, 1, false) })
	start := time.Now()
	code, body := request(t, addr, "/live/show/source.m3u8?_HLS_msn=101&_HLS_part=1", "198.51.100.1")
	if code != 200 || !strings.Contains(body, "part101.1.m4s") || time.Since(start) < hold {
		t.Fatalf("blocking reload after %v: %d, playlist with part 101.1: %v", time.Since(start), code, strings.Contains(body, "part101.1.m4s"))
	}
}

func TestHeldReloadsBoundedPerNetwork(t *testing.T) {
	st := newGuardStream()
	var served atomic.Int64
	addr, holds := guardedServer(t, st, &served)
	feed(st, "source", 100, 0, 5, false)
	const path = "/live/show/source.m3u8?_HLS_msn=101&_HLS_part=2" // two parts ahead: held
	var wg sync.WaitGroup
	codes := make(chan int, 10)
	for range 2 {
		wg.Go(func() {
			code, _ := request(t, addr, path, "198.51.100.1")
			codes <- code
		})
	}
	waitHeld(t, holds, "198.51.100.1/32", 2)
	code, body := request(t, addr, path, "198.51.100.1")
	if code != http.StatusTooManyRequests || !strings.Contains(body, httpguard.KeyMaxHeldPerNetwork) {
		t.Fatalf("third held reload of a network: %d %q, want 429 naming %s", code, body, httpguard.KeyMaxHeldPerNetwork)
	}
	// Another network is not affected, and a request that need not wait
	// takes no slot.
	wg.Go(func() {
		code, _ := request(t, addr, path, "198.51.100.2")
		codes <- code
	})
	if code, _ := request(t, addr, "/live/show/source.m3u8?_HLS_msn=101&_HLS_part=0", "198.51.100.1"); code != 200 {
		t.Fatalf("a blocking reload for a part that exists: %d", code)
	}
	time.Sleep(100 * time.Millisecond)
	feed(st, "source", 100, 5, 2, false)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("an admitted held reload got %d", c)
		}
	}
}

// waitHeld waits until network has n requests held.
func waitHeld(t *testing.T, holds *httpguard.Holds, network string, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, held := holds.Held(netip.MustParsePrefix(network)); held == n {
			return
		}
	}
	t.Fatalf("%s never had %d requests held", network, n)
}

func TestServedBytesCountedAsRead(t *testing.T) {
	st := newGuardStream()
	var served atomic.Int64
	addr, _ := guardedServer(t, st, &served)
	const size = 4 << 20
	st.PublishInit(&cmaf.Init{Rendition: "source", ID: 100, Data: []byte("init")})
	st.PublishPart(&cmaf.Part{ID: cmaf.PartID{Rendition: "source", MSN: 100}, Duration: 500 * time.Millisecond,
		Independent: true, Data: make([]byte, size), Segment: &cmaf.SegmentStart{InitID: 100}})

	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /live/show/source/part100.0.m4s HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.CopyN(io.Discard, resp.Body, size/2); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	// The reader stops. The server cuts it within the grace and a chunk.
	time.Sleep(guardSettings.SendGrace + 3*time.Second)
	got := served.Load()
	// What the kernel holds for the reader (its receive window and a
	// little unsent) is counted too; the other half is not.
	t.Logf("read %d of %d bytes; %d counted as served", size/2, size, got)
	if got < size/2 || got > size/2+512<<10 {
		t.Fatalf("%d bytes counted for a reader that took %d of %d", got, size/2, size)
	}
}

// TestMalformedRequestsGetNo5xx: malformed HTTP sent to the guarded origin
// is answered with a 4xx or a closed connection, never a 5xx or a panic.
func TestMalformedRequestsGetNo5xx(t *testing.T) {
	st := newGuardStream()
	var served atomic.Int64
	addr, _ := guardedServer(t, st, &served)
	feed(st, "source", 100, 0, 9, false)
	long := strings.Repeat("a", 2<<20)
	probes := []string{
		"GET / HTTP/1.1\r\n\r\n", // no Host
		"GET /live/show/source.m3u8 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
		"GET /live/show/source.m3u8 HTTP/9.9\r\nHost: x\r\n\r\n",
		"GARBAGE\r\n\r\n",
		"GET\r\n\r\n",
		"GET /live/show/source.m3u8?_HLS_msn=99999999999999999999 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /live/show/source.m3u8?_HLS_part=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /live/show/source.m3u8?_HLS_msn=1&_HLS_msn=2 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /live/show/source.m3u8?_HLS_msn=%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /live/show/source/part101.99999.m4s HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /live/show/source/part18446744073709551615.0.m4s HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /live/%00/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /" + long[:4096] + "/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + long + "\r\n\r\n",
		"POST /live/show/index.m3u8 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ,,,[::1\r\n\r\n",
		"GET /live/show/source.m3u8 HTTP/1.1\r\nHo\x00st: x\r\n\r\n",
		"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", // a TLS ClientHello
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	}
	for i, p := range probes {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, p)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			// 505 is net/http's own answer to an HTTP version it does not
			// speak, the right one, given before any swarmtx code runs.
			if resp.StatusCode >= 500 && resp.StatusCode != http.StatusHTTPVersionNotSupported {
				t.Errorf("probe %d (%.40q): HTTP %d", i, p, resp.StatusCode)
			}
			resp.Body.Close()
		}
		_ = c.Close()
	}
	// The origin still serves.
	if code, _ := request(t, addr, "/live/show/source.m3u8", "198.51.100.1"); code != 200 {
		t.Fatalf("after the probes: HTTP %d", code)
	}
}
