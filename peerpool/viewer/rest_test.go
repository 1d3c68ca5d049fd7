package viewer

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestGetRestAsksForWhatFollows: a viewer holding a part's first bytes
// from its neighbours fetches the rest with a Range request; an origin
// that ignores the range sends the whole part, and an answer for other
// bytes is refused.
func TestGetRestAsksForWhatFollows(t *testing.T) {
	part := bytes.Repeat([]byte("0123456789"), 100)
	var asked atomic.Value // the last Range header
	mux := http.NewServeMux()
	mux.HandleFunc("/ranged", func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.Header.Get("Range"))
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(part))
	})
	mux.HandleFunc("/whole", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(part) })
	mux.HandleFunc("/wrong", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", "bytes 0-9/1000")
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(part[:10])
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	v := &Viewer{client: srv.Client()}
	ctx := context.Background()

	body, at, err := v.getRest(ctx, srv.URL+"/ranged", 400)
	if err != nil || at != 400 || !bytes.Equal(body, part[400:]) || asked.Load() != "bytes=400-" {
		t.Errorf("ranged origin: %d bytes at %d, %v (asked %q)", len(body), at, err, asked.Load())
	}
	body, at, err = v.getRest(ctx, srv.URL+"/ranged", 0)
	if err != nil || at != 0 || !bytes.Equal(body, part) || asked.Load() != "" {
		t.Errorf("nothing held: %d bytes at %d, %v (asked %q)", len(body), at, err, asked.Load())
	}
	body, at, err = v.getRest(ctx, srv.URL+"/whole", 400)
	if err != nil || at != 0 || !bytes.Equal(body, part) {
		t.Errorf("origin without ranges: %d bytes at %d, %v", len(body), at, err)
	}
	if _, _, err = v.getRest(ctx, srv.URL+"/wrong", 400); err == nil || !strings.Contains(err.Error(), "does not answer bytes=400-") {
		t.Errorf("an answer for other bytes: %v", err)
	}
}
