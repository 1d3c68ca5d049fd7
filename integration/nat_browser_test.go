package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// testBrowsersAcrossNATs: two headless Chromium players (hls.js and the
// bundle's swarm loader, as the built-in player page plays) in two homes
// behind endpoint-independent NATs watch a stream from an origin on a
// public address, through the real MediaMTX, hook and plugin, with the
// defaults (the built-in STUN server, no TURN). Both keep playing, parts
// reach them from peers, and parts cross from one home to the other.
//
// Each browser has two neighbours: the origin's seeder and the other home's
// browser. From behind its NAT a browser reports its pair with the seeder
// as reflexive too, so /metrics counts all four connections (the home-to-
// home link at both ends, each browser's seeder link once) as srflx/udp,
// and that figure shows STUN at work but does not by itself prove the homes
// met. What does is a browser's upload: seeders get every part from the
// origin and ask viewers for none, so the bytes a browser uploaded went to
// the other home, across two NATs, over reflexive addresses only the STUN
// server's answers give.
func testBrowsersAcrossNATs(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	bed := harness.StartNATBed(t, harness.NATBedOptions{Homes: []harness.NATKind{
		harness.EndpointIndependentNAT, harness.EndpointIndependentNAT,
	}})
	homes := bed.Homes()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source"})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360", VideoBitrate: 1000})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)
	origin := fmt.Sprintf("http://%s:%d", bed.OriginPublicAddr(), s.httpPort)

	browsers := make([]*harness.Browser, len(homes))
	for i, h := range homes {
		browsers[i] = startHomeSwarmBrowser(ctx, t, s, h, origin, "live/show")
	}
	var start [2]harness.PlayerReport
	for i, b := range browsers {
		p := b.Players[0]
		if err := p.WaitPlaying(ctx); err != nil {
			t.Fatalf("%s: %v\nchromium log tail:\n%s", homes[i], err, tail(swarmLog(b.Log()), 4000))
		}
	}
	for i, b := range browsers {
		start[i], _ = b.Players[0].Latest()
	}
	const runFor = 30 * time.Second
	sleepCtx(ctx, t, runFor)
	// The viewers report their connections every 2 s.
	conns := connectionsByType(ctx, t, s)

	var p2p, uploaded int64
	for i, b := range browsers {
		end, _ := b.Players[0].Latest()
		var st swarmStats
		if len(end.Extra) == 0 || json.Unmarshal(end.Extra, &st) != nil {
			t.Errorf("%s: no swarm stats (%s)", homes[i], end.Extra)
			continue
		}
		adv := end.CurrentTime - start[i].CurrentTime
		stall := time.Duration(end.StallMs-start[i].StallMs) * time.Millisecond
		t.Logf("%s: advanced %.1fs in %v, %d stalls (%v), lag %.0f ms; swarm peers %d, http %d B (%d parts), p2p %d B (%d parts, P2P %.0f%%), uploaded %d B, misses %v",
			homes[i], adv, runFor, end.Stalls-start[i].Stalls, stall, end.LagMs, st.Peers,
			st.HTTPBytes, st.HTTPParts, st.P2PBytes, st.P2PParts, 100*st.P2PShare, st.UploadBytes, st.Misses)
		if adv < runFor.Seconds()-3 {
			t.Errorf("%s: currentTime advanced %.1fs in %v", homes[i], adv, runFor)
		}
		if stall > 2*time.Second {
			t.Errorf("%s: stalled %v after start", homes[i], stall)
		}
		if len(end.Errors) > 0 {
			t.Errorf("%s: errors %q", homes[i], end.Errors)
		}
		if st.HashMismatches > 0 || st.ProtocolErrors > 0 {
			t.Errorf("%s: %d hash mismatches, %d protocol errors", homes[i], st.HashMismatches, st.ProtocolErrors)
		}
		p2p += st.P2PBytes
		uploaded += st.UploadBytes
	}
	stun := iceServerBytes(ctx, t, s, "listener")
	t.Logf("connections by type: %v; the built-in STUN server sent %.0f bytes; %d bytes went from home to home", conns, stun, uploaded)
	if p2p == 0 {
		t.Errorf("no part reached either browser from a peer\nswarm log (home 1):\n%s", tail(swarmLog(browsers[0].Log()), 4000))
	}
	if uploaded == 0 {
		t.Errorf("no part went from one home to the other\nswarm log (home 1):\n%s", tail(swarmLog(browsers[0].Log()), 4000))
	}
	if conns["srflx/udp"] == 0 {
		t.Errorf("no connection through a reflexive (STUN) address: %v", conns)
	}
	if stun == 0 {
		t.Error("the built-in STUN server answered nobody")
	}
}

// startHomeSwarmBrowser is startSwarmBrowser for one player in Chromium in
// home's LAN: the player page, the bundle and the stream all come from the
// origin's public address, the only one a home reaches.
func startHomeSwarmBrowser(ctx context.Context, t *testing.T, s *stack, home *harness.Home, origin, path string) *harness.Browser {
	t.Helper()
	return startSwarmBrowserOn(ctx, t, s, path, []string{origin + "/" + path + "/index.m3u8"}, swarmPage{origin: origin, netns: home.Netns()})
}
