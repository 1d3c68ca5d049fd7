package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// swarmStats is what the bundle's Swarm.stats() reports (PlayerReport.Extra).
type swarmStats struct {
	ID             string  `json:"id"`
	Rendition      string  `json:"rendition"`
	Joined         bool    `json:"joined"`
	Peers          int     `json:"peers"`
	HTTPBytes      int64   `json:"httpBytes"`
	P2PBytes       int64   `json:"p2pBytes"`
	UploadBytes    int64   `json:"uploadBytes"`
	HTTPParts      int     `json:"httpParts"`
	P2PParts       int     `json:"p2pParts"`
	P2PRateBps     int64   `json:"p2pRateBps"`
	HashMismatches int     `json:"hashMismatches"`
	ProtocolErrors int     `json:"protocolErrors"`
	P2PShare       float64 `json:"p2pShare"`
	// Misses count why parts went to HTTP: noTime, noNeighbour,
	// unannounced, timeout.
	Misses map[string]int `json:"misses"`
}

// TestBrowsersShareParts: two Chromium players (iframes of one browser, each
// its own document, hls.js and Swarm) play a stream through the bundle's
// swarm loader. They become neighbours, open a WebRTC data channel, and
// parts one fetched over HTTP reach the other from it, verified against the
// announced SHA-256; both keep playing, and the server's metrics count the
// P2P bytes the viewers report.
func TestBrowsersShareParts(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source"})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360"})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)

	src := s.browserBase() + "/live/show/index.m3u8"
	b := startSwarmBrowser(ctx, t, s, "live/show", []string{src, src})
	for _, p := range b.Players {
		if err := p.WaitPlaying(ctx); err != nil {
			t.Fatalf("%v\nchromium log tail:\n%s", err, tail(swarmLog(b.Log()), 4000))
		}
	}
	var start [2]harness.PlayerReport
	for i, p := range b.Players {
		start[i], _ = p.Latest()
	}
	const watch = 15 * time.Second
	time.Sleep(watch)

	var total, p2p int64
	for i, p := range b.Players {
		end, _ := p.Latest()
		var st swarmStats
		if len(end.Extra) == 0 || json.Unmarshal(end.Extra, &st) != nil {
			t.Errorf("player %d: no swarm stats (%s)", i, end.Extra)
			continue
		}
		adv := end.CurrentTime - start[i].CurrentTime
		t.Logf("player %d: advanced %.1fs in %v, stalls %d (%.0f ms), lag %.0f ms; swarm %s peers %d, http %d B (%d parts), p2p %d B (%d parts, %.0f%%), uploaded %d B, p2p rate %.1f MB/s; hls.js bandwidth estimate %.1f Mbit/s",
			i, adv, watch, end.Stalls-start[i].Stalls, end.StallMs-start[i].StallMs, end.LagMs, st.ID, st.Peers,
			st.HTTPBytes, st.HTTPParts, st.P2PBytes, st.P2PParts, 100*st.P2PShare, st.UploadBytes, float64(st.P2PRateBps)/1e6, end.BandwidthEstimate/1e6)
		if adv < 0.9*watch.Seconds() {
			t.Errorf("player %d: currentTime advanced %.1fs in %v", i, adv, watch)
		}
		if len(end.Errors) > 0 {
			t.Errorf("player %d: errors %q", i, end.Errors)
		}
		if st.HashMismatches > 0 || st.ProtocolErrors > 0 {
			t.Errorf("player %d: %d hash mismatches, %d protocol errors between two honest peers", i, st.HashMismatches, st.ProtocolErrors)
		}
		if st.Peers < 1 {
			t.Errorf("player %d: no open data channel to a neighbour", i)
		}
		total += st.HTTPBytes + st.P2PBytes
		p2p += st.P2PBytes
	}
	share := 0.0
	if total > 0 {
		share = float64(p2p) / float64(total)
	}
	t.Logf("P2P share of both players' media bytes: %.0f%% (%d of %d bytes)", 100*share, p2p, total)
	if p2p == 0 {
		t.Errorf("no part went from one browser to the other\nswarm log:\n%s", tail(swarmLog(b.Log()), 4000))
	}

	// The viewers' stats reports (every 2 s) reach /metrics.
	time.Sleep(2500 * time.Millisecond)
	_, metrics, err := get(ctx, s.base()+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^swarmtx_viewer_bytes_total\{path="live/show",source="p2p"\} (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		t.Errorf("/metrics has no P2P viewer bytes for live/show")
	} else if v, _ := strconv.ParseFloat(m[1], 64); v <= 0 {
		t.Errorf("/metrics: swarmtx_viewer_bytes_total p2p = %s", m[1])
	} else {
		t.Logf("/metrics: swarmtx_viewer_bytes_total{source=\"p2p\"} = %s", m[1])
	}
}

// httpOnlyMarker, at the end of a src given to startSwarmBrowser, makes
// that player use the built-in player's hls.js settings without the swarm.
const httpOnlyMarker = "#http-only"

// startSwarmBrowser starts one Chromium whose players (one per src) play
// through the bundle's swarm loader, as the built-in player page does, and
// report Swarm.stats() as PlayerReport.Extra.
func startSwarmBrowser(ctx context.Context, t testing.TB, s *stack, path string, srcs []string) *harness.Browser {
	t.Helper()
	return startSwarmBrowserWithToken(ctx, t, s, path, srcs, "")
}

// startSwarmBrowserWithToken is startSwarmBrowser for a protected stream:
// the players pass jwt on as the bundle's jwt option.
func startSwarmBrowserWithToken(ctx context.Context, t testing.TB, s *stack, path string, srcs []string, jwt string) *harness.Browser {
	t.Helper()
	return startSwarmBrowserOn(ctx, t, s, path, srcs, swarmPage{jwt: jwt})
}

// swarmPage is where and how startSwarmBrowserOn's players run.
type swarmPage struct {
	jwt string // the token of a protected stream
	// origin is the origin's base URL as the browser reaches it (directly,
	// or through a proxy); default s.browserBase().
	origin string
	netns  string // the browser's network namespace; "" for the test's own
	// ca, when set, serves the page over HTTPS with a certificate from it,
	// which this Chromium (and only it) trusts. An HTTPS origin's page is
	// always HTTPS: an http:// page is no secure context.
	ca *testCA
}

// startSwarmBrowserOn is startSwarmBrowser on the page pg describes.
func startSwarmBrowserOn(ctx context.Context, t testing.TB, s *stack, path string, srcs []string, pg swarmPage) *harness.Browser {
	t.Helper()
	jwt, origin := pg.jwt, pg.origin
	if origin == "" {
		origin = s.browserBase()
	}
	if pg.ca == nil && s.tls != nil {
		pg.ca = s.tls.ca
	}
	pageURL := s.base() + "/" + path + "/"
	if jwt != "" {
		pageURL += "?jwt=" + url.QueryEscape(jwt)
	}
	_, page, err := getWith(ctx, s.client(), pageURL)
	if err != nil || !strings.Contains(page, "/_swarmtx/player.js?v=") {
		t.Fatalf("player page: %v\n%s", err, page)
	}
	script := page[strings.Index(page, "/_swarmtx/player.js?v="):]
	script = script[:strings.Index(script, `"`)]

	// The harness page builds hls.js itself: setup.js swaps in the bundle's
	// Hls and a config with the swarm loader, hands the Swarm the player's
	// stalls and lag once the harness has made hls.js, and exposes its stats.
	setup := fmt.Sprintf(`document.write('<script src="%s%s"><\/script>');
document.write('<script>(' + (() => {
  window.Hls = swarmtx.Hls;
  window.swarmtxSetup = (c, o) => {
    if (o.src.endsWith('%s')) { Object.assign(c, swarmtx.hlsConfig()); return; }
    const sc = swarmtx.hlsConfigWithSwarm(o.src, {jwt: JWT || undefined, log: (m) => console.log('[player ' + o.id + '] ' + m)});
    Object.assign(c, sc);
    // The harness's videos are 320x180: like a page that sizes its player,
    // let hls.js pick no rendition larger than that (spares the two cores).
    c.capLevelToPlayerSize = true;
    window.__swarm = sc.fLoader.swarm;
    setTimeout(() => swarmtx.watchPlayer(window.__swarm, window.hls, document.getElementById('v')), 0);
  };
  window.swarmtxStats = () => window.__swarm ? window.__swarm.stats() : null;
}).toString().replace('JWT', %q) + ')()<\/script>');`, origin, script, httpOnlyMarker, strconv.Quote(jwt))
	opts := harness.BrowserOptions{
		Srcs:    srcs,
		SetupJS: setup,
		Netns:   pg.netns,
		// Console messages (the swarm's log) go to chromium.log.
		Flags: []string{"--enable-logging=stderr", "--v=0"},
	}
	if pg.ca != nil {
		opts.PageTLS = pg.ca.serverTLS(t)
		opts.Flags = append(opts.Flags, pg.ca.chromiumFlag())
	}
	return harness.StartBrowser(t, opts)
}

// swarmLog keeps the console lines of chromium.log (the D-Bus noise is long).
func swarmLog(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "CONSOLE") || strings.Contains(l, "swarm") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
