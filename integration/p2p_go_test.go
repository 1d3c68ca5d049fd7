package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
	"github.com/swarmtx/swarmtx/plugin/contract"
	"github.com/swarmtx/swarmtx/plugin/host"
)

// TestGoViewersShareTheStream: Go viewers (the same protocol as the browser
// client, over real pion peers) watch a real stack. The plugin seeds each
// part to a few of them; they pass parts on. The test reports server copies
// (bytes the server sent for the rendition, over HTTP and to peers, divided
// by the rendition's bytes) and the P2P share, and fails if every viewer
// does not play, if any unverified byte is played, or if the server sends
// more than half a copy per viewer (plain HTTP costs one).
func TestGoViewersShareTheStream(t *testing.T) {
	const viewers = 10
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)
	var vs []*viewer.Viewer
	for range viewers {
		vs = append(vs, joinSwarm(ctx, t, s, nil))
	}
	const watch = 15 * time.Second
	before := serverCopies(ctx, t, s.base())
	time.Sleep(watch)
	after := serverCopies(ctx, t, s.base())

	var http, p2p int64
	for i, v := range vs {
		st := v.Stats()
		http += st.HTTPBytes
		p2p += st.P2PBytes
		t.Logf("viewer %d: playing %v, startup %v, stalls %d (%v), lag %v, P2P %.0f%%, uploaded %d B, peers %d",
			i, st.Playing, st.Startup.Round(time.Millisecond), st.Stalls, st.StallTime.Round(time.Millisecond),
			st.Lag.Round(time.Millisecond), 100*st.P2PShare(), st.UploadBytes, st.Peers)
		// Two parts a second, less startup and a part of slack.
		if !st.Playing || st.PartsPlayed < int64(2*watch.Seconds())-6 {
			t.Errorf("viewer %d played %d parts in %v", i, st.PartsPlayed, watch)
		}
		if st.HTTPHashMismatches > 0 || st.PeerHashMismatches > 0 || st.Unverified > 0 {
			t.Errorf("viewer %d: %d bad parts over HTTP, %d from peers, %d unverified", i, st.HTTPHashMismatches, st.PeerHashMismatches, st.Unverified)
		}
		if err := v.Err(); err != nil {
			t.Errorf("viewer %d stopped: %v", i, err)
		}
	}
	copies := (after.served - before.served) / (after.made - before.made)
	t.Logf("%d viewers over %v: %.2f server copies of the source rendition (HTTP %.2f, to peers %.2f); viewers' P2P share %.0f%%",
		viewers, watch, copies, (after.http-before.http)/(after.made-before.made), (after.peer-before.peer)/(after.made-before.made),
		100*float64(p2p)/float64(http+p2p))
	// swarmtx status shows the swarm: its viewers, server copies, P2P share.
	if out, err := s.status(ctx); err != nil {
		t.Errorf("swarmtx status: %v\n%s", err, out)
	} else {
		t.Logf("swarmtx status:\n%s", out)
	}
	if doc, out, err := s.statusJSON(ctx); err != nil {
		t.Errorf("swarmtx status --json: %v\n%s", err, out)
	} else if !swarmStatusShown(doc, viewers) {
		t.Errorf("swarmtx status --json does not show %d viewers, server copies and a P2P share for live/show:\n%s", viewers, out)
	}
	if copies > viewers/2 {
		t.Errorf("server sent %.1f copies for %d viewers, more than half the viewer count", copies, viewers)
	}
	// What NAT traversal came to, as the viewers report it: on one host,
	// direct host/udp paths.
	if _, body, err := get(ctx, s.base()+"/metrics"); err != nil {
		t.Error(err)
	} else if n, _ := metricValue(body, `swarmtx_peer_connections{path="live/show",type="host/udp"}`); n < viewers {
		t.Errorf("swarmtx_peer_connections{type=\"host/udp\"} is %v for %d viewers:\n%s", n, viewers, grepLines(body, "swarmtx_peer_connections"))
	} else {
		t.Logf("%s", grepLines(body, "swarmtx_peer_connections", "swarmtx_viewers_without_p2p"))
	}
}

// grepLines are the lines of body that start with one of prefixes.
func grepLines(body string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// swarmStatusShown reports whether doc shows live/show attached with its
// viewers, in the source rendition's swarm too, with server copies since
// attach and over the last minute, and a P2P share.
func swarmStatusShown(doc host.StatusDoc, viewers int) bool {
	for _, st := range doc.Streams {
		if st.Path != "live/show" {
			continue
		}
		if st.State != "attached" || st.Viewers != viewers || st.P2PShare < 0 || st.P2PShare > 1 || len(st.Renditions) != 1 {
			return false
		}
		r := st.Renditions[0]
		return r.Name == "source" && r.Viewers == viewers && r.Copies != nil && r.CopiesLastMinute != nil
	}
	return false
}

type copiesSample struct {
	http, peer, served, made float64
	// control is the stream's bytes besides media, by kind (playlist,
	// signaling, page); ice is the built-in STUN/TURN server's.
	control map[string]float64
	ice     float64
}

// controlKinds are the kinds of a stream's control bytes a viewer causes.
var controlKinds = []string{"playlist", "signaling", "page"}

// controlTotal sums c's control bytes and the ICE server's.
func (c copiesSample) controlTotal() float64 {
	n := c.ice
	for _, v := range c.control {
		n += v
	}
	return n
}

// serverCopies reads the source rendition's server and media byte counters.
func serverCopies(ctx context.Context, t testing.TB, base string) copiesSample {
	return serverCopiesOf(ctx, t, base, "source")
}

// startSwarmStream starts a stack with one source-only stream at live/show,
// published like OBS at 640x360 and 1 Mbit/s: the swarm tests' stream.
func startSwarmStream(ctx context.Context, t testing.TB) *stack {
	t.Helper()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source"})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360", VideoBitrate: 1000})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)
	return s
}

// joinSwarm runs a Go viewer of live/show's source rendition that uploads
// up to twice the stream's bitrate and waits for its neighbours up to three
// part durations; adjust changes the config first. It is closed on cleanup.
func joinSwarm(ctx context.Context, t testing.TB, s *stack, adjust func(*viewer.Config)) *viewer.Viewer {
	t.Helper()
	cfg := viewer.Config{
		API:          peer.NewLoopbackAPI(),
		URL:          s.base() + "/live/show/",
		Rendition:    "source",
		CanUpload:    true,
		UploadCapBps: 280_000, // twice the stream's ~141 KB/s
		PartDeadline: func(_ wire.PartID, d time.Duration) time.Duration { return 3 * d },
		SignalHeader: harness.HomeHeader(),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	v, err := viewer.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// mediaBytes sums the viewers' media bytes since they joined, over HTTP
// and from peers.
func mediaBytes(vs []*viewer.Viewer) (http, p2p int64) {
	for _, v := range vs {
		st := v.Stats()
		http += st.HTTPBytes
		p2p += st.P2PBytes
	}
	return http, p2p
}

// defaultPart is the part duration of streams the tests attach without
// --part-duration: swarmtx's default.
var defaultPart = contract.DefaultStreamOptions().PartDuration
