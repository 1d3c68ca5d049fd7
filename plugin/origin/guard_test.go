package origin

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/plugin/access"
)

func TestDoor(t *testing.T) {
	for _, c := range []struct {
		path   string
		action access.Action
		stream string
		asked  bool
	}{
		{"/metrics", access.ActionMetrics, "", true},
		{"/live/show/index.m3u8", access.ActionRead, "live/show", true},
		{"/live/show/source.m3u8", access.ActionRead, "live/show", true},
		{"/live/show/source/part12.3.m4s", access.ActionRead, "live/show", true},
		{"/live/show/source/init1.mp4", access.ActionRead, "live/show", true},
		{"/live/show/swarm", access.ActionRead, "live/show", true},
		{"/live/show/", access.ActionRead, "live/show", true},
		{"/_swarmtx/player.js", "", "", false},
		{"/", "", "", false},
		{"/favicon.ico", "", "", false},
	} {
		req, _, asked := door(httptest.NewRequest("GET", c.path, nil))
		if asked != c.asked || req.Action != c.action || req.Path != c.stream {
			t.Errorf("%s: asked %v for %q on %q, want %v for %q on %q", c.path, asked, req.Action, req.Path, c.asked, c.action, c.stream)
		}
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		remote, xff string
		want        string
	}{
		{"192.0.2.1:5000", "", "192.0.2.1"},
		{"192.0.2.1:5000", "198.51.100.7", "192.0.2.1"},              // not a trusted proxy: its header is ignored
		{"127.0.0.1:5000", "198.51.100.7", "198.51.100.7"},           // a trusted proxy
		{"127.0.0.1:5000", "198.51.100.7, 10.1.2.3", "198.51.100.7"}, // through two trusted proxies
		{"127.0.0.1:5000", "garbage", "127.0.0.1"},
		{"[::ffff:192.0.2.1]:5000", "", "192.0.2.1"},
	} {
		r := httptest.NewRequest("GET", "/x/index.m3u8", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientIP(r, proxies); got.String() != c.want {
			t.Errorf("%s via %q: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

// A response allowed to anyone keeps the origin's Cache-Control, so a CDN
// may serve it to others; one allowed for a user or an address is private.
func TestGuardKeepsProtectedResponsesPrivate(t *testing.T) {
	perm := func(path string) access.Permission {
		p, err := access.NewPermission("read", path)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	in := &access.Internal{Users: []access.User{
		{User: "any", Permissions: []access.Permission{perm("open/show")}},
		{User: "any", IPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Permissions: []access.Permission{perm("lan/show")}},
		{User: "alice", Pass: "pw", Permissions: []access.Permission{perm("live/show")}},
	}}
	media := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Write([]byte("part"))
	})
	g := &guard{next: media, access: in, log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		path, user string
		want       string
	}{
		{"/open/show/source/part1.0.m4s", "", "public, max-age=31536000, immutable"},
		{"/lan/show/source/part1.0.m4s", "", "private, max-age=31536000, immutable"},
		{"/live/show/source/part1.0.m4s", "alice", "private, max-age=31536000, immutable"},
	} {
		r := httptest.NewRequest("GET", c.path, nil)
		r.RemoteAddr = "192.0.2.7:50000"
		if c.user != "" {
			r.SetBasicAuth(c.user, "pw")
		}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != c.want {
			t.Errorf("%s: %d, Cache-Control %q; want 200 and %q", c.path, rec.Code, rec.Header().Get("Cache-Control"), c.want)
		}
	}
}

// A protected stream's playlist names its media with a signature that
// stands in for credentials, so a CDN may cache the media; without it, or
// with a forged or another stream's one, credentials are asked.
func TestGuardSignsProtectedMedia(t *testing.T) {
	perm, _ := access.NewPermission("read", "live/show")
	in := &access.Internal{Users: []access.User{{User: "alice", Pass: "pw", Permissions: []access.Permission{perm}}}}
	signer, err := access.NewURLSigner(5 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".m3u8") {
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			w.Header().Set("Cache-Control", "no-cache")
			w.Write([]byte(unsignedPlaylist))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Write([]byte("part"))
	})
	g := &guard{next: next, access: in, signer: signer, log: slog.New(slog.DiscardHandler)}
	get := func(path, user string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if user != "" {
			r.SetBasicAuth(user, "pw")
		}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, r)
		return rec
	}
	pl := get("/live/show/source.m3u8", "alice")
	m := regexp.MustCompile(`URI="source/part7\.0\.m4s\?sig=([^"]+)"`).FindStringSubmatch(pl.Body.String())
	if pl.Code != http.StatusOK || m == nil || pl.Header().Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("playlist for alice: %d, Cache-Control %q, body:\n%s", pl.Code, pl.Header().Get("Cache-Control"), pl.Body.String())
	}
	sig := m[1]
	if rec := get("/live/show/source/part7.0.m4s?sig="+sig, ""); rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("signed part without credentials: %d, Cache-Control %q; want 200, public", rec.Code, rec.Header().Get("Cache-Control"))
	}
	if rec := get("/live/show/source/part7.0.m4s", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("unsigned part without credentials: %d, want 401", rec.Code)
	}
	if rec := get("/live/other/source/part7.0.m4s?sig="+sig, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("another stream's part with this stream's signature: %d, want 401", rec.Code)
	}
	if rec := get("/live/show/source.m3u8?sig="+sig, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("a playlist with a media signature: %d, want 401", rec.Code)
	}
	if rec := get("/live/show/source/part7.0.m4s?sig=x"+sig, "alice"); rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "private, max-age=31536000, immutable" {
		t.Errorf("a forged signature with credentials: %d, %q; want 200, private", rec.Code, rec.Header().Get("Cache-Control"))
	}
}
