package integration

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	swarmcrowd "github.com/swarmtx/swarmtx/peerpool/crowd"
	"github.com/swarmtx/swarmtx/peerpool/peer"
)

// TestCrowdReadsProtectedStream: Go viewers (swarmtx crowd, and the relay
// that shares their code) read a stream MediaMTX protects with the
// credentials they are given, and join its swarm; without them they are
// refused at the first request.
func TestCrowdReadsProtectedStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	users := []map[string]any{
		// This host publishes, pulls and reads the metrics over loopback.
		{"user": "any", "pass": "", "ips": []string{"127.0.0.1", "::1"},
			"permissions": []map[string]any{{"action": "publish"}, {"action": "read"}, {"action": "metrics"}}},
		{"user": "alice", "pass": "alicepw", "permissions": []map[string]any{{"action": "read", "path": "live/show"}}},
	}
	s := startStack(t, stackOptions{AttachFlags: "--ladder source", MediaMTX: map[string]any{"authInternalUsers": users}})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "320x180"})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)
	// Not over loopback, where "any" may read: the crowd needs alice.
	url := s.browserBase() + "/live/show/"

	_, err := swarmcrowd.Start(ctx, swarmcrowd.Config{URL: url, Viewers: 1, API: peer.NewLoopbackAPI()})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("a crowd without credentials started (error %v), want a refusal naming HTTP 401", err)
	}
	wrong := http.Request{Header: make(http.Header)}
	wrong.SetBasicAuth("alice", "wrong")
	if _, err := swarmcrowd.Start(ctx, swarmcrowd.Config{URL: url, Viewers: 1, Header: wrong.Header, API: peer.NewLoopbackAPI()}); err == nil {
		t.Fatal("a crowd with a wrong password started")
	}

	alice := http.Request{Header: make(http.Header)}
	alice.SetBasicAuth("alice", "alicepw")
	checkSignedMedia(ctx, t, url, alice.Header)
	const n = 4
	c, err := swarmcrowd.Start(ctx, swarmcrowd.Config{
		URL: url, Viewers: n, Header: alice.Header, API: peer.NewLoopbackAPI(),
		Mix: swarmcrowd.Mix{{Fraction: 1, Upload: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitUntil(ctx, t, "the crowd plays", func() (bool, string) {
		snap := c.Snapshot()
		return snap.Playing == n, snap.String()
	})
	sleepCtx(ctx, t, 15*time.Second)
	checkCrowdShared(t, "crowd with alice's credentials", c.Snapshot(), n)
}

// checkCrowdShared: all n viewers of a crowd still play, none had to join
// again, parts went from viewer to viewer, and none was bad.
func checkCrowdShared(t *testing.T, what string, snap swarmcrowd.Snapshot, n int) {
	t.Helper()
	t.Logf("%s: %s", what, snap)
	if snap.Playing != n || snap.Rejoins > 0 {
		t.Errorf("%s: %d of %d viewers play, %d rejoined", what, snap.Playing, n, snap.Rejoins)
	}
	if snap.P2PBytes == 0 {
		t.Errorf("%s: no part went from one viewer to another", what)
	}
	if snap.BadParts > 0 {
		t.Errorf("%s: %d bad parts", what, snap.BadParts)
	}
}

// checkSignedMedia: the media playlist a viewer with credentials gets names
// its media with a signature, with which anyone (a CDN) may fetch it and
// keep it (public); without the signature the same media needs credentials.
func checkSignedMedia(ctx context.Context, t *testing.T, streamURL string, creds http.Header) {
	t.Helper()
	fetch := func(u string, h http.Header) (*http.Response, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, playlist := fetch(streamURL+"source.m3u8", creds)
	m := regexp.MustCompile(`URI="(source/init\d+\.mp4\?sig=[^"]+)"`).FindStringSubmatch(playlist)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("media playlist with credentials: %d, no signed init URI in:\n%s", resp.StatusCode, playlist)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
		t.Errorf("a protected playlist is sent with Cache-Control %q, want private", cc)
	}
	signed := streamURL + m[1]
	if resp, _ := fetch(signed, nil); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public") {
		t.Errorf("signed media without credentials: %d, Cache-Control %q; want 200 and public", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	unsigned, _, _ := strings.Cut(signed, "?")
	if resp, _ := fetch(unsigned, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned media without credentials: %d, want 401", resp.StatusCode)
	}
	t.Logf("signed media URI: %s", m[1])
}
