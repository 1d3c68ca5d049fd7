package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/httpguard"
	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
)

// testSlowReadersAndHeldReloads: honest Go viewers play a real stack
// while one address opens 500 connections that each ask for a segment and
// then read one byte and nothing more, and a network behind a proxy on
// loopback (its X-Forwarded-For) holds blocking playlist reloads up to and
// beyond the per-network bound. The origin must keep the honest viewers
// playing without a stall longer than a part, refuse connections beyond
// the per-network bound (logged once), close the slow ones within the
// grace and a chunk at the minimum rate, answer held reloads beyond the
// bound 429 while another network still gets in, not count the bytes the
// slow readers never took as served, and keep its descriptors and
// goroutines bounded and back to normal once the attack is cut off.
func testSlowReadersAndHeldReloads(t *testing.T) {
	const (
		honest      = 4
		slowReaders = 500
		heldExtra   = 32
		heldTotal   = httpguard.DefaultMaxHeldPerNetwork + heldExtra
		// A slow reader is cut within the grace plus a 16 KiB chunk at the
		// minimum rate; the rest is scheduling on a shared 2-core machine.
		cutWithin = httpguard.DefaultSendGrace + 2*time.Second + 5*time.Second
	)
	part := defaultPart
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)
	var vs []*viewer.Viewer
	for range honest {
		vs = append(vs, joinSwarm(ctx, t, s, nil))
	}
	pid := s.pluginPID()
	if pid == 0 {
		t.Fatal("no plugin process")
	}
	sleepCtx(ctx, t, 5*time.Second)

	// Without an attack: the rate of HTTP media bytes, descriptors, goroutines.
	const quiet = 12 * time.Second
	q0 := serverCopies(ctx, t, s.base())
	sleepCtx(ctx, t, quiet)
	q1 := serverCopies(ctx, t, s.base())
	base := pluginLoad(ctx, t, s, pid)
	quietRate := (q1.http - q0.http) / quiet.Seconds()
	t.Logf("no attack: %.2f HTTP copies (%.0f B/s), %d descriptors, %d goroutines",
		(q1.http-q0.http)/(q1.made-q0.made), quietRate, base.fds, base.goroutines)

	pl := mediaPlaylistOf(ctx, t, s)
	seg := pl.Segments[len(pl.Segments)-2] // complete
	segURL := s.base() + "/live/show/" + seg.URI
	segSize := contentLength(ctx, t, segURL)

	a0 := serverCopies(ctx, t, s.base())
	attackStart := time.Now()
	// Slow readers from the test namespace's other address: one network.
	slow := make(chan slowResult, slowReaders)
	var conns []net.Conn
	var connsMu sync.Mutex
	t.Cleanup(func() {
		connsMu.Lock()
		defer connsMu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	target := net.JoinHostPort(harness.NetnsHost, strconv.Itoa(s.httpPort))
	req := "GET /live/show/" + seg.URI + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"
	for range slowReaders {
		go func() {
			c, r := slowRead(target, req)
			if c != nil {
				connsMu.Lock()
				conns = append(conns, c)
				connsMu.Unlock()
			}
			slow <- r
		}()
	}
	// Held reloads from one network behind the proxy, two segments ahead
	// so that they wait; and one from another network.
	heldURL := fmt.Sprintf("%s/live/show/source.m3u8?_HLS_msn=%d", s.base(), pl.Segments[len(pl.Segments)-1].MSN+2)
	held := make(chan int, heldTotal)
	for range heldTotal {
		go func() { held <- getFrom(ctx, heldURL, "198.51.100.77") }()
	}
	var peak procLoad
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for time.Since(attackStart) < cutWithin+3*time.Second && ctx.Err() == nil {
			peak = peak.max(pluginLoad(ctx, t, s, pid))
			time.Sleep(250 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	if code := getFrom(ctx, heldURL, "198.51.100.78"); code != http.StatusOK {
		t.Errorf("a blocking reload from another network while the bound is reached: HTTP %d, want 200", code)
	}

	codes := map[int]int{}
	for range heldTotal {
		codes[<-held]++
	}
	var admitted, refused int
	for range slowReaders {
		if r := <-slow; r.admitted {
			admitted++
		} else {
			refused++
		}
	}
	t.Logf("held reloads from one network: %v (HTTP status: count); slow readers admitted %d, refused %d", codes, admitted, refused)
	if codes[http.StatusTooManyRequests] != heldExtra || codes[http.StatusOK] != httpguard.DefaultMaxHeldPerNetwork {
		t.Errorf("held reloads: %v, want %d answered 200 and %d refused 429", codes, httpguard.DefaultMaxHeldPerNetwork, heldExtra)
	}
	if admitted > httpguard.DefaultMaxConnsPerNetwork || admitted < httpguard.DefaultMaxConnsPerNetwork/2 {
		t.Errorf("%d of %d slow connections from one address admitted, want at most (and about) %d",
			admitted, slowReaders, httpguard.DefaultMaxConnsPerNetwork)
	}

	// The slow connections are closed by the plugin: its descriptors come back.
	var cutAfter time.Duration
	for {
		now := pluginLoad(ctx, t, s, pid)
		if now.fds <= base.fds+20 {
			cutAfter = time.Since(attackStart)
			break
		}
		if time.Since(attackStart) > cutWithin+10*time.Second {
			t.Errorf("plugin still has %d descriptors %v after the attack began (%d before it): slow connections not closed",
				now.fds, time.Since(attackStart).Round(time.Second), base.fds)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	<-watchDone
	t.Logf("slow connections closed %v after they opened (bound %v); peak %d descriptors, %d goroutines",
		cutAfter.Round(100*time.Millisecond), cutWithin, peak.fds, peak.goroutines)
	if cutAfter > cutWithin {
		t.Errorf("slow connections closed after %v, want within %v", cutAfter, cutWithin)
	}
	if limit := base.fds + httpguard.DefaultMaxConnsPerNetwork + heldTotal + 50; peak.fds > limit {
		t.Errorf("plugin peaked at %d descriptors, want at most %d", peak.fds, limit)
	}
	if limit := base.goroutines + 3*(httpguard.DefaultMaxConnsPerNetwork+heldTotal) + 200; peak.goroutines > limit {
		t.Errorf("plugin peaked at %d goroutines, want at most %d", peak.goroutines, limit)
	}
	sleepCtx(ctx, t, 2*time.Second)
	a1 := serverCopies(ctx, t, s.base())
	after := pluginLoad(ctx, t, s, pid)
	if after.goroutines > base.goroutines+50 {
		t.Errorf("plugin has %d goroutines after the attack, %d before it", after.goroutines, base.goroutines)
	}

	// Served bytes: what the slow readers never took is not counted. Each
	// may be counted for what the kernel holds for it (its receive window
	// and a little unsent), not for its segment.
	attackSecs := time.Since(attackStart).Seconds()
	extra := (a1.http - a0.http) - quietRate*attackSecs
	bodies := float64(admitted) * float64(segSize)
	allowance := float64(admitted) * (64 << 10)
	t.Logf("during the attack: %.2f HTTP copies (%.2f without it); %.0f bytes beyond the quiet rate, against %.0f in the slow readers' bodies (allowance %.0f)",
		(a1.http-a0.http)/(a1.made-a0.made), (q1.http-q0.http)/(q1.made-q0.made), extra, bodies, allowance)
	if extra > allowance {
		t.Errorf("%.0f bytes counted as served beyond the quiet rate during the attack, more than the kernel's share of %d unread connections (%.0f)",
			extra, admitted, allowance)
	}

	// Refusals are logged once per network per minute, not per connection.
	var lines int
	for _, l := range strings.Split(s.pluginLog(), "\n") {
		if strings.Contains(l, "refusing HTTP connections") && strings.Contains(l, harness.NetnsPeer+"/32") {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("the plugin logged %d refusal lines for %s, want 1", lines, harness.NetnsPeer)
	}

	for i, v := range vs {
		st := v.Stats()
		t.Logf("honest viewer %d: playing %v, parts %d, stalls %d (longest %v), P2P %.0f%%",
			i, st.Playing, st.PartsPlayed, st.Stalls, st.LongestStall, 100*st.P2PShare())
		if st.LongestStall > part || !st.Playing {
			t.Errorf("honest viewer %d: playing %v, longest stall %v, want none longer than a part", i, st.Playing, st.LongestStall)
		}
		if err := v.Err(); err != nil {
			t.Errorf("honest viewer %d stopped: %v", i, err)
		}
	}
}

type slowResult struct{ admitted bool }

// slowRead connects from the namespace's second address with a small
// receive window, asks for req and reads the first byte of the answer and
// no more. A refused connection is closed at once: no byte arrives.
func slowRead(target, req string) (net.Conn, slowResult) {
	d := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(harness.NetnsPeer)},
		Timeout:   5 * time.Second,
		Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		},
	}
	c, err := d.Dial("tcp", target)
	if err != nil {
		return nil, slowResult{}
	}
	if _, err := io.WriteString(c, req); err != nil {
		return c, slowResult{}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := c.Read(make([]byte, 1))
	_ = c.SetReadDeadline(time.Time{})
	return c, slowResult{admitted: n == 1}
}

// getFrom fetches url on a connection of its own as a proxy on loopback
// would for a viewer at xff, and returns the status (0 on error).
func getFrom(ctx context.Context, url, xff string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func mediaPlaylistOf(ctx context.Context, t *testing.T, s *stack) mediaPlaylist {
	t.Helper()
	code, body, err := get(ctx, s.base()+"/live/show/source.m3u8")
	if err != nil || code != 200 {
		t.Fatalf("media playlist: %d %v", code, err)
	}
	pl := parseMedia(body)
	if len(pl.Segments) < 2 {
		t.Fatalf("media playlist has %d segments", len(pl.Segments))
	}
	return pl
}

func contentLength(ctx context.Context, t *testing.T, url string) int64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.ContentLength
}

// procLoad is what the plugin process holds open.
type procLoad struct{ fds, goroutines int }

func (p procLoad) max(o procLoad) procLoad {
	return procLoad{fds: max(p.fds, o.fds), goroutines: max(p.goroutines, o.goroutines)}
}

// pluginLoad counts the plugin's descriptors (/proc) and goroutines (its
// /metrics).
func pluginLoad(ctx context.Context, t testing.TB, s *stack, pid int) procLoad {
	entries, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	p := procLoad{fds: len(entries)}
	if _, body, err := get(ctx, s.base()+"/metrics"); err == nil {
		v, _ := metricValue(body, "go_goroutines")
		p.goroutines = int(v)
	}
	return p
}
