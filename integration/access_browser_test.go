package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// testProtectedStreamPlaysInBrowsers: with authMethod jwt, two Chromium
// players given a token (the bundle's jwt option) play the stream and
// share its parts through the swarm, which they joined with the token; a
// player without one is refused and plays nothing.
func testProtectedStreamPlaysInBrowsers(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s, key, tok := jwtStack(ctx, t)
	token := tok(key, []map[string]string{{"action": "read", "path": "live/show"}}, time.Now().Add(time.Hour))
	src := s.browserBase() + "/live/show/index.m3u8"
	b := startSwarmBrowserWithToken(ctx, t, s, "live/show", []string{src, src}, token)
	for _, p := range b.Players {
		if err := p.WaitPlaying(ctx); err != nil {
			t.Fatalf("%v\nchromium log tail:\n%s", err, tail(swarmLog(b.Log()), 4000))
		}
	}
	sleepCtx(ctx, t, 20*time.Second)
	var p2p int64
	for i, p := range b.Players {
		r, _ := p.Latest()
		var st swarmStats
		if json.Unmarshal(r.Extra, &st) != nil || !st.Joined {
			t.Errorf("player %d did not join the swarm (%s)", i, r.Extra)
		}
		if len(r.Errors) > 0 {
			t.Errorf("player %d: errors %q", i, r.Errors)
		}
		t.Logf("player %d with a token: peers %d, P2P %.0f%%, stalls %d", i, st.Peers, 100*st.P2PShare, r.Stalls)
		p2p += st.P2PBytes
	}
	if p2p == 0 {
		t.Errorf("no part went from one player to the other\nswarm log:\n%s", tail(swarmLog(b.Log()), 3000))
	}

	// Without a token: refused, nothing plays.
	setup := `window.Hls = window.Hls; window.swarmtxSetup = () => {};`
	nb := harness.StartBrowser(t, harness.BrowserOptions{Srcs: []string{src}, SetupJS: setup})
	p := nb.Players[0]
	waitCtx, cancelWait := context.WithTimeout(ctx, 15*time.Second)
	defer cancelWait()
	if err := p.WaitPlaying(waitCtx); err == nil {
		t.Error("a player without a token plays the protected stream")
	}
	r, _ := p.Latest()
	t.Logf("player without a token: errors %q", r.Errors)
	if len(r.Errors) == 0 || !strings.Contains(strings.Join(r.Errors, " "), "401") {
		t.Errorf("a player without a token reports %q, want a 401", r.Errors)
	}
}

// testBrowserBasicAuthPlaysThroughSwarm: with internal users, two viewers
// open the built-in player page of a protected stream in Chromium and type
// the password into the browser's prompt. The page, playlists and media
// then go with the browser's cached credentials, and so does the swarm's
// WebSocket handshake: it must carry an Authorization header and be
// accepted (101), so the two share parts over WebRTC. Should a Chromium
// stop sending cached credentials on WebSocket handshakes, this test is
// what says so. A viewer who cancels the prompt gets a 401 and no player.
func testBrowserBasicAuthPlaysThroughSwarm(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	users := []map[string]any{
		// This host publishes, and the plugin reads from MediaMTX.
		{"user": "any", "pass": "", "ips": []string{"127.0.0.1", "::1"},
			"permissions": []map[string]any{{"action": "publish"}, {"action": "read"}, {"action": "api"}, {"action": "metrics"}}},
		{"user": "alice", "pass": "alicepw", "permissions": []map[string]any{{"action": "read", "path": "live/show"}}},
	}
	s := startStack(t, stackOptions{AttachFlags: "--ladder source", MediaMTX: map[string]any{"authInternalUsers": users}})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360"})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)

	page := s.browserBase() + "/live/show/"
	// A browser each: a tab behind another is hidden, and a hidden page's
	// video does not play.
	var viewers []*harness.Tab
	var browsers []*harness.Tabs
	for range 2 {
		b := harness.StartTabs(t)
		browsers = append(browsers, b)
		viewers = append(viewers, b.Open(ctx, t, page, harness.Login{User: "alice", Pass: "alicepw"}))
	}
	type pageStats struct {
		CurrentTime float64     `json:"currentTime"`
		Errors      []string    `json:"errors"`
		Stalls      int         `json:"stalls"`
		Swarm       *swarmStats `json:"swarm"`
	}
	const statsJS = `window.swarmtxPlayer ? window.swarmtxPlayer.stats() : null`
	read := func(tab *harness.Tab) (st pageStats) {
		_ = tab.Eval(ctx, statsJS, &st)
		return st
	}
	report := func(i int, tab *harness.Tab) string {
		return fmt.Sprintf("viewer %d: page loads %v, prompts answered %d, WebSockets %+v, browser log %q",
			i, tab.DocumentStatuses(), tab.Prompts(), tab.WebSockets(), tab.Log())
	}
	start := time.Now()
	for i, tab := range viewers {
		for {
			st := read(tab)
			if st.CurrentTime > 0 && st.Swarm != nil && st.Swarm.Joined {
				break
			}
			if len(st.Errors) > 0 || time.Since(start) > time.Minute {
				t.Fatalf("viewer %d does not play through the swarm: %+v\n%s\nchromium log tail:\n%s", i, st, report(i, tab), tail(browsers[i].Log(), 3000))
			}
			sleepCtx(ctx, t, 500*time.Millisecond)
		}
	}
	sleepCtx(ctx, t, 20*time.Second)
	var p2p int64
	for i, tab := range viewers {
		st := read(tab)
		t.Logf("%s", report(i, tab))
		if st.Swarm == nil {
			t.Errorf("viewer %d: no swarm", i)
			continue
		}
		t.Logf("viewer %d: played to %.1fs, stalls %d, peers %d, P2P %d B (%.0f%%), errors %q",
			i, st.CurrentTime, st.Stalls, st.Swarm.Peers, st.Swarm.P2PBytes, 100*st.Swarm.P2PShare, st.Errors)
		if len(st.Errors) > 0 || !st.Swarm.Joined {
			t.Errorf("viewer %d: joined %v, errors %q", i, st.Swarm.Joined, st.Errors)
		}
		if tab.Prompts() == 0 {
			t.Errorf("viewer %d: the browser never asked for the password", i)
		}
		wss := tab.WebSockets()
		if len(wss) == 0 {
			t.Errorf("viewer %d: the page opened no WebSocket", i)
		}
		for _, ws := range wss {
			if !ws.Authorization {
				t.Errorf("viewer %d: the WebSocket handshake to %s carried no credentials", i, ws.URL)
			}
			if ws.Status != http.StatusSwitchingProtocols {
				t.Errorf("viewer %d: WebSocket %s answered %d (%s)", i, ws.URL, ws.Status, ws.Error)
			}
		}
		for _, l := range tab.Log() {
			if strings.Contains(l, "WebSocket") {
				t.Errorf("viewer %d: browser log: %s", i, l)
			}
		}
		p2p += st.Swarm.P2PBytes
	}
	if p2p == 0 {
		t.Errorf("no part went from one viewer to the other")
	}

	// A viewer without the password (in a browser of its own: the others
	// have the password cached): the prompt is cancelled, the page is
	// refused and there is no player.
	nobody := harness.StartTabs(t).Open(ctx, t, page, harness.Login{})
	for len(nobody.DocumentStatuses()) == 0 && ctx.Err() == nil {
		sleepCtx(ctx, t, 200*time.Millisecond)
	}
	sleepCtx(ctx, t, 3*time.Second)
	var playing bool
	_ = nobody.Eval(ctx, `!!window.swarmtxPlayer`, &playing)
	if got := nobody.DocumentStatuses(); len(got) == 0 || got[len(got)-1] != http.StatusUnauthorized || playing {
		t.Errorf("a viewer without the password: page loads %v, player %v; want a 401 and no player", got, playing)
	}
}
