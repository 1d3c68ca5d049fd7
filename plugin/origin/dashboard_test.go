package origin

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/swarmtx/swarmtx/plugin/access"
)

// The dashboard is asked for as /metrics is, whatever the spelling.
func TestDashboardDoor(t *testing.T) {
	for _, p := range []string{"/_swarmtx/", "/_swarmtx/api/streams", "/_swarmtx/api/stream?path=live/show", "/_swarmtx/api%2Fstreams", "/_swarmtx/api/"} {
		req, kind, asked := door(httptest.NewRequest("GET", p, nil))
		if !asked || req.Action != access.ActionMetrics || req.Path != "" || kind != 0 {
			t.Errorf("%s: asked %v for %q on %q, want metrics", p, asked, req.Action, req.Path)
		}
	}
	if _, _, asked := door(httptest.NewRequest("GET", "/_swarmtx/player.js", nil)); asked {
		t.Error("the player bundle is public code, asked for")
	}
}

// Every door of the dashboard answers whoever may not see /metrics exactly
// as /metrics does, and lets through whoever may. The player bundle under
// the same prefix stays public.
func TestDashboardIsGuardedAsMetrics(t *testing.T) {
	perm := func(action string) access.Permission {
		p, err := access.NewPermission(action, "")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	def := access.Default()
	users := append(def.InternalUsers, access.User{User: "ops", Pass: "opspw", Permissions: []access.Permission{perm("metrics")}},
		access.User{User: "eve", Pass: "evepw", Permissions: []access.Permission{perm("read")}})
	o := New(Settings{Access: &access.Internal{Users: users}, TrustedProxies: []netip.Prefix{}})
	defer o.Close()
	doors := []string{"/_swarmtx/", "/_swarmtx/api/streams", "/_swarmtx/api/stream?path=live/show"}
	do := func(path, remote, user string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = remote
		if user != "" {
			r.SetBasicAuth(user, user+"pw")
		}
		rec := httptest.NewRecorder()
		o.Handler().ServeHTTP(rec, r)
		return rec
	}
	const far, local = "192.0.2.7:50000", "127.0.0.1:50000"
	metrics := do("/metrics", far, "")
	if metrics.Code != http.StatusUnauthorized {
		t.Fatalf("/metrics from afar: %d", metrics.Code)
	}
	for _, p := range doors {
		rec := do(p, far, "")
		if rec.Code != metrics.Code || rec.Header().Get("WWW-Authenticate") != metrics.Header().Get("WWW-Authenticate") ||
			rec.Body.String() != metrics.Body.String() {
			t.Errorf("%s from afar without credentials: %d %q %q; /metrics: %d %q %q", p, rec.Code, rec.Header().Get("WWW-Authenticate"),
				rec.Body.String(), metrics.Code, metrics.Header().Get("WWW-Authenticate"), metrics.Body.String())
		}
	}
	for _, who := range []struct{ remote, user string }{{local, ""}, {far, "ops"}} {
		for _, p := range []string{"/metrics", "/_swarmtx/", "/_swarmtx/api/streams"} {
			if rec := do(p, who.remote, who.user); rec.Code != http.StatusOK {
				t.Errorf("%s from %s as %q: %d, want 200", p, who.remote, who.user, rec.Code)
			}
		}
		// No stream is attached: the stream's figures are not found, which
		// is an answer only for whom the dashboard is open.
		if rec := do(doors[2], who.remote, who.user); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "no stream") {
			t.Errorf("%s from %s as %q: %d %s", doors[2], who.remote, who.user, rec.Code, rec.Body.String())
		}
	}
	// Compressed for whoever accepts it.
	r := httptest.NewRequest("GET", "/_swarmtx/", nil)
	r.RemoteAddr = local
	r.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	o.Handler().ServeHTTP(rec, r)
	if zr, err := gzip.NewReader(rec.Body); rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" || err != nil {
		t.Errorf("the page with gzip accepted: %d, %q, %v", rec.Code, rec.Header().Get("Content-Encoding"), err)
	} else if body, err := io.ReadAll(zr); err != nil || !strings.Contains(string(body), "<title>swarmtx") {
		t.Errorf("the page, decompressed: %.200s %v", body, err)
	}
	if rec := do("/_swarmtx/player.js", far, ""); rec.Code != http.StatusOK {
		t.Errorf("player bundle from afar: %d", rec.Code)
	}
	if testing.Short() {
		return
	}
	// A reader of streams is not an operator: refused as at /metrics,
	// after the same pause (taken side by side).
	paths := []string{"/metrics", doors[0], doors[1]}
	codes := make([]int, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() { codes[i] = do(p, far, "eve").Code })
	}
	wg.Wait()
	for i, p := range paths {
		if codes[i] != http.StatusUnauthorized {
			t.Errorf("%s as a reader of streams: %d, want 401", p, codes[i])
		}
	}
}
