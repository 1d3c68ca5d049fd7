package integration

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/swarmtx/swarmtx/peerpool/viewer"
)

// TestCorruptingViewerIsBanned: a Go viewer flips a byte in every DATA
// frame it sends. Its neighbours (honest Go viewers and a Chromium player)
// detect the bad parts against the announced SHA-256, never play them,
// drop it and report it; the server bans it and closes its session; every
// honest viewer keeps playing without a stall longer than a part. When it
// comes back from the same network (its X-Forwarded-For, as a proxy on the
// server's host would send it) it may watch but is never asked for a part.
func TestCorruptingViewerIsBanned(t *testing.T) {
	const honest = 6
	part := defaultPart
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)
	run := func(tamper func([]byte)) *viewer.Viewer {
		return joinSwarm(ctx, t, s, func(c *viewer.Config) { c.Exchange = corrupting(tamper) })
	}
	corrupt := corrupting(func(frame []byte) { frame[len(frame)-1] ^= 0x5a })
	badNetwork := http.Header{"X-Forwarded-For": {"198.51.100.66"}}
	runBad := func() *viewer.Viewer {
		return joinSwarm(ctx, t, s, func(c *viewer.Config) { c.Exchange, c.SignalHeader = corrupt, badNetwork })
	}
	// The hostile viewer joins first, so it is among everyone's neighbours.
	bad := runBad()
	var vs []*viewer.Viewer
	for range honest {
		vs = append(vs, run(nil))
	}
	b := startSwarmBrowser(ctx, t, s, "live/show", []string{s.browserBase() + "/live/show/index.m3u8"})
	browser := b.Players[0]
	if err := browser.WaitPlaying(ctx); err != nil {
		t.Fatalf("%v\nswarm log:\n%s", err, tail(swarmLog(b.Log()), 4000))
	}
	bStart, _ := browser.Latest()

	select {
	case <-bad.Done():
	case <-time.After(45 * time.Second):
		t.Fatal("the corrupting viewer's session is still open after 45 s")
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	t.Logf("corrupting viewer: %v", bad.Err())
	if err := bad.Err(); err == nil || !strings.Contains(err.Error(), "hash-mismatch") {
		t.Errorf("corrupting viewer ended with %v, want the server's ban for hash-mismatch", err)
	}
	_, body, err := get(ctx, s.base()+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := metricValue(body, `swarmtx_peers_banned_total{path="live/show",reason="hash-mismatch"}`); n < 1 {
		t.Errorf("/metrics counts %v peers banned for hash-mismatch, want 1", n)
	}
	// The swarm goes on without it, and with it back as a receiver only.
	back := runBad()
	sleepCtx(ctx, t, 10*time.Second)
	st := back.Stats()
	t.Logf("banned viewer back from its network: P2P %.0f%%, uploaded %d bytes, peers %d", 100*st.P2PShare(), st.UploadBytes, st.Peers)
	if st.UploadBytes != 0 || !st.Playing || back.Err() != nil {
		t.Errorf("the banned viewer back from its network: uploaded %d bytes, playing %v, ended %v; want it watching and never asked",
			st.UploadBytes, st.Playing, back.Err())
	}
	if !strings.Contains(s.pluginLog(), "may only receive: its network was banned") {
		t.Error("the plugin did not log the banned network's new viewer")
	}
	_, body, err = get(ctx, s.base()+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := metricValue(body, `swarmtx_peers_banned_total{path="live/show",reason="hash-mismatch"}`); n != 1 {
		t.Errorf("/metrics counts %v peers banned for hash-mismatch, want just the one", n)
	}

	var detected int64
	for i, v := range vs {
		st := v.Stats()
		detected += st.PeerHashMismatches
		t.Logf("honest viewer %d: stalls %d (longest %v), P2P %.0f%%, bad parts from peers %d, peers %d",
			i, st.Stalls, st.LongestStall, 100*st.P2PShare(), st.PeerHashMismatches, st.Peers)
		if st.LongestStall > part {
			t.Errorf("honest viewer %d stalled %v at once, longer than a part", i, st.LongestStall)
		}
		if st.HTTPHashMismatches > 0 || st.FailedParts > 0 {
			t.Errorf("honest viewer %d: %d bad parts over HTTP, %d not obtained", i, st.HTTPHashMismatches, st.FailedParts)
		}
		if err := v.Err(); err != nil {
			t.Errorf("honest viewer %d stopped: %v", i, err)
		}
	}
	end, _ := browser.Latest()
	var bst swarmStats
	if err := json.Unmarshal(end.Extra, &bst); err != nil {
		t.Fatalf("browser: no swarm stats: %v", err)
	}
	detected += int64(bst.HashMismatches)
	t.Logf("browser: stalls %d (%.0f ms), P2P %.0f%%, bad parts from peers %d, errors %q",
		end.Stalls-bStart.Stalls, end.StallMs-bStart.StallMs, 100*bst.P2PShare, bst.HashMismatches, end.Errors)
	if ms := end.StallMs - bStart.StallMs; ms > float64(part/time.Millisecond) {
		t.Errorf("browser stalled %.0f ms, more than a part", ms)
	}
	if len(end.Errors) > 0 {
		t.Errorf("browser: errors %q", end.Errors)
	}
	if detected == 0 {
		t.Error("no honest viewer saw a bad part: the corrupting viewer never uploaded, the test proves nothing")
	}
}

// TestHostileSessionsCloseAlone: next to honest Go viewers, hostile clients
// send the swarm WebSocket garbage, a message before join, a flood, an
// oversized message and a second join, and one viewer sends data-channel
// frames of an unknown type. Each hostile session is closed with its reason
// (sent to it and logged by the plugin); the frame-breaking viewer is
// banned for "protocol"; the honest viewers keep their sessions and play on.
func TestHostileSessionsCloseAlone(t *testing.T) {
	const honest = 4
	part := defaultPart
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)
	run := func(tamper func([]byte)) *viewer.Viewer {
		return joinSwarm(ctx, t, s, func(c *viewer.Config) { c.Exchange = corrupting(tamper) })
	}
	// Its DATA frames claim a frame type that does not exist.
	breaker := run(func(frame []byte) { frame[0] = 0x7f })
	var vs []*viewer.Viewer
	for range honest {
		vs = append(vs, run(nil))
	}
	sleepCtx(ctx, t, 3*time.Second)

	swarmURL := "ws://127.0.0.1:" + strconv.Itoa(s.httpPort) + "/live/show/swarm"
	join := `{"t":"join","v":1,"rendition":"source","upload":{"enabled":true,"capBps":0}}`
	cases := []struct {
		name string
		send []string
		want string // in the reason the server gives and logs
	}{
		{"garbage", []string{`{"t":"join"`}, "join"},
		{"not join first", []string{`{"t":"rendition","rendition":"source"}`}, "first message must be join"},
		{"flood", append([]string{join}, repeat(`{"t":"rendition","rendition":"source"}`, 400)...), "messages per second"},
		{"oversized", []string{join, `{"t":"rendition","rendition":"source","x":"` + strings.Repeat("a", 40000) + `"}`}, "read limited"},
		{"join twice", []string{join, join}, "join sent twice"},
	}
	for _, tc := range cases {
		reason, err := hostileSession(ctx, swarmURL, tc.send)
		t.Logf("%s: closed with %q (%v)", tc.name, reason, err)
		// A client still writing when the server closes may see a reset
		// instead of the reason; the plugin's log always has it.
		if reason != "" && !strings.Contains(reason, tc.want) {
			t.Errorf("%s: the server's reason %q does not say %q", tc.name, reason, tc.want)
		}
		if reason == "" && err == nil {
			t.Errorf("%s: the session ended without a reason or an error", tc.name)
		}
		// The plugin logs when its read loop ends, which may be just after
		// the client saw the close: give the line a few seconds.
		logged := false
		for deadline := time.Now().Add(5 * time.Second); !logged && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			logged = strings.Contains(s.pluginLog(), tc.want)
		}
		if !logged {
			t.Errorf("%s: the plugin log has no line with %q after 5 s", tc.name, tc.want)
		}
	}

	select {
	case <-breaker.Done():
	case <-time.After(45 * time.Second):
		t.Fatal("the frame-breaking viewer's session is still open after 45 s")
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	t.Logf("frame-breaking viewer: %v", breaker.Err())
	if err := breaker.Err(); err == nil || !strings.Contains(err.Error(), "protocol") {
		t.Errorf("frame-breaking viewer ended with %v, want the server's ban for protocol", err)
	}
	sleepCtx(ctx, t, 5*time.Second)
	for i, v := range vs {
		st := v.Stats()
		t.Logf("honest viewer %d: %d parts, stalls %d (longest %v), P2P %.0f%%, protocol errors seen %d, peers %d",
			i, st.PartsPlayed, st.Stalls, st.LongestStall, 100*st.P2PShare(), st.PeerProtocolErrors, st.Peers)
		if err := v.Err(); err != nil {
			t.Errorf("honest viewer %d lost its session: %v", i, err)
		}
		if st.LongestStall > part {
			t.Errorf("honest viewer %d stalled %v at once, longer than a part", i, st.LongestStall)
		}
		if !st.Playing {
			t.Errorf("honest viewer %d is not playing", i)
		}
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// hostileSession dials the swarm WebSocket, sends msgs as fast as it can and
// reads until the server closes the session; it returns the reason the
// server gave (its error message, or the close frame's reason).
func hostileSession(ctx context.Context, url string, msgs []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return "", err
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	for _, m := range msgs {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			break // closed by the server already
		}
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			if ce := (websocket.CloseError{}); errors.As(err, &ce) {
				return ce.Reason, nil
			}
			return "", err
		}
		var e struct {
			T      string `json:"t"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(data, &e) == nil && e.T == "error" {
			return e.Reason, nil
		}
	}
}
