package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	swarmcrowd "github.com/swarmtx/swarmtx/peerpool/crowd"
)

// homeCrowd is `swarmtx crowd` run inside one home of a NAT bed.
type homeCrowd struct {
	home *harness.Home
	out  bytes.Buffer
	errb bytes.Buffer
	done chan error
}

// crowdResult is the crowd's final JSON line.
type crowdResult struct {
	swarmcrowd.Snapshot
	Final    bool    `json:"final"`
	P2PShare float64 `json:"p2p_share"`
}

// startHomeCrowd runs n Go viewers of url in home for d, each able to
// upload twice the stream's bit rate.
func startHomeCrowd(ctx context.Context, t *testing.T, home *harness.Home, url string, n int, d time.Duration) *homeCrowd {
	t.Helper()
	hc := &homeCrowd{home: home, done: make(chan error, 1)}
	cmd := home.Command(ctx, swarmtxBinary(t), "crowd", "--url", url, "-n", strconv.Itoa(n), "--json",
		"--upload-mix", "100%:2x", "--join-every", "500ms", "--every", "5s", "--duration", d.String())
	cmd.Stdout, cmd.Stderr = &hc.out, &hc.errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start crowd: %v", home, err)
	}
	go func() { hc.done <- cmd.Wait() }()
	return hc
}

// result waits for the crowd to end and returns its final figures.
func (hc *homeCrowd) result(ctx context.Context, t *testing.T) crowdResult {
	t.Helper()
	select {
	case err := <-hc.done:
		if err != nil {
			t.Errorf("%s: crowd: %v\n%s", hc.home, err, tail(hc.errb.String(), 2000))
		}
	case <-ctx.Done():
		t.Fatalf("%s: crowd still running: %v", hc.home, ctx.Err())
	}
	var last crowdResult
	sc := bufio.NewScanner(bytes.NewReader(hc.out.Bytes()))
	for sc.Scan() {
		var r crowdResult
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Final {
			last = r
		}
	}
	if !last.Final {
		t.Fatalf("%s: no final report from the crowd; stdout:\n%s\nstderr:\n%s", hc.home, tail(hc.out.String(), 2000), tail(hc.errb.String(), 2000))
	}
	return last
}

// connectionsByType reads swarmtx_peer_connections of live/show.
func connectionsByType(ctx context.Context, t *testing.T, s *stack) map[string]float64 {
	t.Helper()
	_, body, err := get(ctx, s.base()+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, `swarmtx_peer_connections{path="live/show",type="`)
		if !ok {
			continue
		}
		typ, val, ok := strings.Cut(rest, `"} `)
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); ok && err == nil {
			out[typ] = v
		}
	}
	return out
}

// iceServerBytes reads swarmtx_ice_server_sent_bytes_total of a socket.
func iceServerBytes(ctx context.Context, t *testing.T, s *stack, socket string) float64 {
	t.Helper()
	_, body, err := get(ctx, s.base()+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := metricValue(body, fmt.Sprintf(`swarmtx_ice_server_sent_bytes_total{socket=%q}`, socket))
	return v
}

// runHomes runs a crowd of n in every home at once for d, sampling the
// connection types while they play, and returns each home's figures.
func runHomes(ctx context.Context, t *testing.T, s *stack, url string, homes []*harness.Home, n int, d time.Duration) ([]crowdResult, map[string]float64) {
	t.Helper()
	crowds := make([]*homeCrowd, len(homes))
	for i, h := range homes {
		crowds[i] = startHomeCrowd(ctx, t, h, url, n, d)
	}
	sleepCtx(ctx, t, d-5*time.Second)
	conns := connectionsByType(ctx, t, s)
	results := make([]crowdResult, len(homes))
	for i, hc := range crowds {
		results[i] = hc.result(ctx, t)
		r := results[i]
		t.Logf("%s: P2P %.0f%%, %d/%d playing, %d stalls (%v), %.1f peers, lag p50 %v",
			hc.home, 100*r.P2PShare, r.Playing, r.Viewers, r.Stalls, r.StallTime.Round(time.Millisecond), r.Peers, r.LagP50.Round(time.Millisecond))
	}
	t.Logf("connections by type: %v", conns)
	return results, conns
}

// testSwarmAcrossNATs: viewers in homes behind real NATs (network
// namespaces with nftables gateways) watch a stream from an origin on a
// public address, through the real MediaMTX, hook and plugin. With the
// defaults (built-in STUN, no TURN), viewers behind endpoint-independent
// NATs share parts with each other across homes and with the origin's
// seeders; viewers whose network drops UDP still play (ICE-TCP to the
// seeders, or HTTP). With the built-in TURN relay on, viewers behind
// symmetric NATs reach each other through it.
func testSwarmAcrossNATs(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	bed := harness.StartNATBed(t, harness.NATBedOptions{Homes: []harness.NATKind{
		harness.EndpointIndependentNAT, harness.EndpointIndependentNAT, harness.SymmetricNAT, harness.SymmetricNAT, harness.NoUDP,
	}})
	homes := bed.Homes()
	const perHome = 2
	const runFor = 45 * time.Second

	t.Run("defaults", func(t *testing.T) {
		s := startStack(t, stackOptions{AttachFlags: "--ladder source"})
		s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360", VideoBitrate: 1000})
		waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)
		url := fmt.Sprintf("http://%s:%d/live/show/", bed.OriginPublicAddr(), s.httpPort)
		results, conns := runHomes(ctx, t, s, url, homes, perHome, runFor)
		for i, r := range results {
			if r.Playing != perHome || r.BadParts > 0 {
				t.Errorf("%s: %d of %d play, %d bad parts", homes[i], r.Playing, perHome, r.BadParts)
			}
		}
		// Behind endpoint-independent NATs the swarm carries most of it.
		for _, i := range []int{0, 1} {
			if results[i].P2PShare < 0.5 {
				t.Errorf("%s: P2P %.0f%%, want at least 50%%", homes[i], 100*results[i].P2PShare)
			}
		}
		// A reflexive pair is one only STUN can make: viewer to viewer
		// across two homes.
		if conns["srflx/udp"] == 0 {
			t.Errorf("no connection through a reflexive (STUN) address: %v", conns)
		}
		if iceServerBytes(ctx, t, s, "listener") == 0 {
			t.Error("the built-in STUN server answered nobody")
		}
		if r := results[4]; r.StallTime > 2*time.Second {
			t.Errorf("%s: stalled %v", homes[4], r.StallTime)
		}
	})

	t.Run("TURN", func(t *testing.T) {
		s := startStack(t, stackOptions{AttachFlags: "--ladder source",
			Config: fmt.Sprintf("turn: {enabled: true, relayIP: %s}\n", bed.OriginPublicAddr())})
		s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360", VideoBitrate: 1000})
		waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)
		url := fmt.Sprintf("http://%s:%d/live/show/", bed.OriginPublicAddr(), s.httpPort)
		before := serverCopies(ctx, t, s.base())
		results, conns := runHomes(ctx, t, s, url, homes[2:4], perHome, runFor)
		after := serverCopies(ctx, t, s.base())
		relayed := iceServerBytes(ctx, t, s, "listener") + iceServerBytes(ctx, t, s, "relay")
		t.Logf("TURN relay sent %.0f bytes; the origin sent %.2f copies over HTTP and seeding", relayed, (after.served-before.served)/(after.made-before.made))
		for i, r := range results {
			if r.Playing != perHome || r.P2PBytes == 0 {
				t.Errorf("%s with TURN: %d of %d play, %d P2P bytes", homes[2+i], r.Playing, perHome, r.P2PBytes)
			}
		}
		if conns["relay/udp"] == 0 {
			t.Errorf("no connection through the relay: %v", conns)
		}
	})
}

// testOriginBehind1To1NAT: an origin on a cloud-style VM, whose interface
// has only a private address behind a 1:1 NAT, is reachable by its
// viewers' peers only when it offers its public address (publicHosts, or
// MediaMTX's webrtcAdditionalHosts). The viewers sit alone in homes behind
// symmetric NATs, where no other viewer can reach them without TURN, so
// every byte they get from peers comes from the origin's seeders; the
// seeders' bytes are counted on /metrics as the server's "peer" bytes.
// Without publicHosts the seeders reach nobody; with it they do.
func testOriginBehind1To1NAT(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	bed := harness.StartNATBed(t, harness.NATBedOptions{OriginBehindNAT: true,
		Homes: []harness.NATKind{harness.SymmetricNAT, harness.SymmetricNAT}})
	run := func(t *testing.T, config string) (seeded float64) {
		s := startStack(t, stackOptions{AttachFlags: "--ladder source", Config: config})
		s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360", VideoBitrate: 1000})
		waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)
		url := fmt.Sprintf("http://%s:%d/live/show/", bed.OriginPublicAddr(), s.httpPort)
		results, _ := runHomes(ctx, t, s, url, bed.Homes(), 1, 30*time.Second)
		for i, r := range results {
			if r.Playing != 1 || r.BadParts > 0 {
				t.Errorf("%s: %d of 1 plays, %d bad parts", bed.Homes()[i], r.Playing, r.BadParts)
			}
		}
		c := serverCopies(ctx, t, s.base())
		t.Logf("the seeders sent %.0f bytes (%.2f copies)", c.peer, c.peer/c.made)
		return c.peer
	}
	t.Run("without publicHosts", func(t *testing.T) {
		if seeded := run(t, ""); seeded > 0 {
			t.Errorf("the seeders sent %.0f bytes though nothing tells viewers their public address", seeded)
		}
	})
	t.Run("with publicHosts", func(t *testing.T) {
		if seeded := run(t, fmt.Sprintf("publicHosts: [%s]\n", bed.OriginPublicAddr())); seeded == 0 {
			t.Error("the seeders reached no viewer with publicHosts set")
		}
	})
}
