package origin

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	cases := map[string]bool{
		"":                        false,
		"gzip":                    true,
		"gzip, deflate, br, zstd": true,
		"br;q=1.0, GZIP;q=0.5":    true,
		"gzip;q=0":                false,
		"gzip; q=0.000":           false,
		"gzip;q=bogus":            false,
		"identity":                false,
		"*":                       true,
		"x-gzip":                  true,
		"deflate, gzipx":          false,
	}
	for v, want := range cases {
		h := http.Header{}
		if v != "" {
			h.Set("Accept-Encoding", v)
		}
		if got := acceptsGzip(h); got != want {
			t.Errorf("Accept-Encoding %q: %v, want %v", v, got, want)
		}
	}
}

// A playlist goes out compressed to a client that accepts gzip, whole and
// with the right length, and as it is to one that does not; media, small
// playlists and errors are never touched, and caches are told both forms
// exist.
func TestGzipPlaylists(t *testing.T) {
	playlist := strings.Repeat("#EXT-X-PART:DURATION=0.50000,URI=\"source/part1796020968.0.m4s\",INDEPENDENT=YES\n", 40)
	h := gzipPlaylists(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/live/show/source.m3u8":
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			w.Header().Set("Content-Length", "4000")
			io.WriteString(w, playlist[:len(playlist)/2])
			io.WriteString(w, playlist[len(playlist)/2:])
		case "/live/show/small.m3u8":
			io.WriteString(w, "#EXTM3U\n")
		case "/live/show/gone.m3u8":
			http.Error(w, strings.Repeat("gone ", 200), http.StatusNotFound)
		default:
			io.WriteString(w, playlist)
		}
	}))
	get := func(path, accept string) *http.Response {
		r := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			r.Header.Set("Accept-Encoding", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Result()
	}

	resp := get("/live/show/source.m3u8", "gzip, deflate")
	zr, err := gzip.NewReader(resp.Body)
	if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, %v", resp.Header.Get("Content-Encoding"), err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || string(body) != playlist {
		t.Fatalf("gunzipped playlist differs (%v): %d bytes, want %d", err, len(body), len(playlist))
	}
	if resp.ContentLength <= 0 || resp.ContentLength >= int64(len(playlist))/4 {
		t.Errorf("Content-Length %d for a %d-byte playlist that repeats", resp.ContentLength, len(playlist))
	}
	if resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("Vary %q", resp.Header.Get("Vary"))
	}

	plain := get("/live/show/source.m3u8", "")
	if b, _ := io.ReadAll(plain.Body); string(b) != playlist || plain.Header.Get("Content-Encoding") != "" || plain.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("without Accept-Encoding: %d bytes, Content-Encoding %q, Vary %q", len(b), plain.Header.Get("Content-Encoding"), plain.Header.Get("Vary"))
	}
	for _, path := range []string{"/live/show/small.m3u8", "/live/show/gone.m3u8", "/live/show/source/part1.0.m4s"} {
		if resp := get(path, "gzip"); resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s was compressed", path)
		}
	}
	if resp := get("/live/show/gone.m3u8", "gzip"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an error's status became %d", resp.StatusCode)
	}
}
