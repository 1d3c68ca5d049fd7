package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/matthewhartstonge/argon2"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// TestAccessAsMediaMTXDecides: with reading protected in mediamtx.yml
// (internal users with plain, sha256 and argon2 passwords, an address
// range, exact and regular-expression paths), swarmtx's origin allows
// exactly what MediaMTX's own HLS server allows. MediaMTX is the oracle:
// every request of a matrix of source addresses, credentials and streams
// goes to both, and both must refuse (401) or not alike. The other doors
// of a protected stream (media playlist, swarm, player page) and /metrics
// follow the same decisions.
func TestAccessAsMediaMTXDecides(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cfg := argon2.DefaultConfig()
	carolHash, err := cfg.HashEncoded([]byte("carolpw"))
	if err != nil {
		t.Fatal(err)
	}
	bobSum := sha256.Sum256([]byte("bobpw"))
	bobHash := "sha256:" + base64.StdEncoding.EncodeToString(bobSum[:])
	users := []map[string]any{
		// This host publishes, pulls and reads the metrics.
		{"user": "any", "pass": "", "ips": []string{"127.0.0.1", "::1"},
			"permissions": []map[string]any{{"action": "publish"}, {"action": "read"}, {"action": "api"}, {"action": "metrics"}}},
		{"user": "any", "pass": "", "permissions": []map[string]any{{"action": "read", "path": "open/show"}}},
		{"user": "alice", "pass": "alicepw", "permissions": []map[string]any{{"action": "read", "path": "live/show"}}},
		{"user": "bob", "pass": bobHash, "permissions": []map[string]any{{"action": "read", "path": "~^live/"}}},
		{"user": "carol", "pass": "argon2:" + string(carolHash), "ips": []string{harness.NetnsPeer + "/32"},
			"permissions": []map[string]any{{"action": "read"}}},
	}
	s := startStack(t, stackOptions{AttachFlags: "--ladder source", MediaMTX: map[string]any{"authInternalUsers": users}})
	for _, path := range []string{"live/show", "open/show"} {
		s.publish(ctx, "rtmp", path, harness.PublishOptions{Size: "320x180"})
	}
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)
	waitMultivariant(ctx, t, s.base()+"/open/show/index.m3u8", 1)

	type cred struct{ name, user, pass string }
	creds := []cred{{"none", "", ""}, {"alice", "alice", "alicepw"}, {"alice, wrong password", "alice", "x"},
		{"bob (sha256)", "bob", "bobpw"}, {"bob, the hash as password", "bob", bobHash}, {"carol (argon2)", "carol", "carolpw"}}
	sources := []string{harness.NetnsHost, harness.NetnsPeer}
	type result struct {
		what             string
		mediamtx, origin int
	}
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	for _, src := range sources {
		for _, c := range creds {
			for _, path := range []string{"live/show", "open/show"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					client := clientFrom(src)
					r := result{what: fmt.Sprintf("from %s as %s: %s", src, c.name, path)}
					r.mediamtx = status(ctx, client, fmt.Sprintf("http://%s:%d/%s/index.m3u8", harness.NetnsHost, s.mtx.HLSPort, path), c.user, c.pass)
					r.origin = status(ctx, client, fmt.Sprintf("http://%s:%d/%s/index.m3u8", harness.NetnsHost, s.httpPort, path), c.user, c.pass)
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
				}()
			}
		}
	}
	wg.Wait()
	allowed, refused := 0, 0
	for _, r := range results {
		if (r.mediamtx == http.StatusUnauthorized) != (r.origin == http.StatusUnauthorized) {
			t.Errorf("%s: MediaMTX answered %d, swarmtx %d", r.what, r.mediamtx, r.origin)
		}
		if r.origin == http.StatusUnauthorized {
			refused++
		} else {
			allowed++
		}
	}
	t.Logf("%d requests: %d allowed and %d refused by both", len(results), allowed, refused)
	if allowed == 0 || refused == 0 {
		t.Errorf("the matrix did not exercise both answers")
	}

	// The other doors of the protected stream, from the namespace's peer
	// address: refused without credentials, open to alice.
	peer := clientFrom(harness.NetnsPeer)
	base := fmt.Sprintf("http://%s:%d", harness.NetnsHost, s.httpPort)
	for _, door := range []string{"/live/show/source.m3u8", "/live/show/swarm", "/live/show/"} {
		if got := status(ctx, peer, base+door, "", ""); got != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d, want 401", door, got)
		}
		if got := status(ctx, peer, base+door, "alice", "alicepw"); got == http.StatusUnauthorized {
			t.Errorf("%s as alice: 401", door)
		}
	}
	// /metrics: this host only, as the metrics permission says.
	if got := status(ctx, peer, base+"/metrics", "", ""); got != http.StatusUnauthorized {
		t.Errorf("/metrics from %s: %d, want 401", harness.NetnsPeer, got)
	}
	if got := status(ctx, http.DefaultClient, s.base()+"/metrics", "", ""); got != http.StatusOK {
		t.Errorf("/metrics from this host: %d, want 200", got)
	}
}

// clientFrom makes requests from the local address src.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// status GETs url with basic auth when user is set and returns the status
// code (0 when the request failed).
func status(ctx context.Context, c *http.Client, url, user, pass string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	return res.StatusCode
}
