package integration

import (
	"context"
	"net/http"
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
	snap := c.Snapshot()
	t.Logf("crowd with alice's credentials: %s", snap)
	if snap.Joined != n || snap.Rejoins > 0 {
		t.Errorf("%d of %d viewers in the swarm, %d rejoins", snap.Joined, n, snap.Rejoins)
	}
	if snap.P2PBytes == 0 {
		t.Error("no part went from one viewer to another: the swarm did not take them")
	}
	if snap.BadParts > 0 {
		t.Errorf("%d bad parts", snap.BadParts)
	}
}
