package origin

import (
	"net/http/httptest"
	"net/netip"
	"testing"

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
