package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// TestProtectedStreamPlaysInBrowsers: with authMethod jwt, two Chromium
// players given a token (the bundle's jwt option) play the stream and
// share its parts through the swarm, which they joined with the token; a
// player without one is refused and plays nothing.
func TestProtectedStreamPlaysInBrowsers(t *testing.T) {
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
