package origin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Every response that is not media is counted by kind, with its headers,
// under the stream it belongs to; a path no stream is served at never
// becomes a label.
func TestCountControl(t *testing.T) {
	o := New(Settings{})
	o.streams["live/show"] = &swarmStream{path: "live/show"}
	h := o.countControl(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".m4s") {
			io.WriteString(w, "media")
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "0123456789")
	}))
	for _, p := range []string{"/live/show/index.m3u8", "/live/show/source.m3u8", "/live/show/", "/live/show/swarm",
		"/live/show/source/part1.0.m4s", "/nope/index.m3u8", "/_swarmtx/player.js", "/metrics", "/x/y/z.txt"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	// "HTTP/1.1 200 OK\r\n", Date, "Content-Type: text/plain\r\n", "\r\n", 10 bytes.
	one := float64(len("HTTP/1.1 200 OK\r\n") + len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n") + len("Content-Type: text/plain\r\n") + 2 + 10)
	for _, c := range []struct {
		path, kind string
		want       float64
	}{
		{"live/show", controlPlaylist, 2 * one},
		{"live/show", controlPage, one},
		{"live/show", controlSignaling, one},
		{"", controlPlaylist, one},
		{"", controlPage, one},
		{"", controlMetrics, one},
		{"", controlOther, one},
	} {
		var m dto.Metric
		if err := o.metrics.ControlBytes.WithLabelValues(c.path, c.kind).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != c.want {
			t.Errorf("%q %s: %v bytes, want %v", c.path, c.kind, got, c.want)
		}
	}
	series := make(chan prometheus.Metric, 100)
	o.metrics.ControlBytes.Collect(series)
	if n := len(series); n != 7 {
		t.Errorf("%d series, want 7 (media is not control)", n)
	}
}
