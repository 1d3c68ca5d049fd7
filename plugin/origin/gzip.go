package origin

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gzipMinBytes is the smallest playlist worth compressing: below it gzip's
// own header and trailer eat most of the saving.
const gzipMinBytes = 512

// gzipPlaylists compresses playlists for clients that accept gzip (every
// browser and Go's HTTP client do, without being asked). A viewer reloads
// its media playlist every part, so with the media carried by the swarm the
// playlists are a large share of what the origin sends; their URIs and
// tags repeat, and compress to a fraction.
func gzipPlaylists(next http.Handler) http.Handler {
	gzipped := gzipResponses(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".m3u8") {
			next.ServeHTTP(w, r)
			return
		}
		gzipped.ServeHTTP(w, r)
	})
}

// gzipResponses compresses every GET answer of next for clients that
// accept gzip.
func gzipResponses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A cache in front of the origin keeps both forms apart.
		w.Header().Add("Vary", "Accept-Encoding")
		if r.Method != http.MethodGet || !acceptsGzip(r.Header) {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{heldWriter{ResponseWriter: w}}
		next.ServeHTTP(gw, r)
		gw.finish()
	})
}

// acceptsGzip reads Accept-Encoding: gzip (or x-gzip, or *) with a
// non-zero weight.
func acceptsGzip(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(enc), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "gzip" && name != "x-gzip" && name != "*" {
				continue
			}
			if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
				if w, err := strconv.ParseFloat(q, 64); err != nil || w <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// gzipWriter holds a playlist back until it is complete, then sends it
// compressed when that is worth it. Playlists are small and written whole,
// and a held (blocking) reload sends nothing before its playlist exists,
// so holding back delays nothing.
type gzipWriter struct{ heldWriter }

func (g *gzipWriter) finish() {
	g.WriteHeader(http.StatusOK)
	out := g.body.Bytes()
	h := g.Header()
	if g.code == http.StatusOK && len(out) >= gzipMinBytes && h.Get("Content-Encoding") == "" {
		var z bytes.Buffer
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(&z)
		_, err := zw.Write(out)
		if err == nil {
			err = zw.Close()
		}
		gzipWriters.Put(zw)
		if err == nil && z.Len() < len(out) {
			out = z.Bytes()
			h.Set("Content-Encoding", "gzip")
			h.Set("Content-Length", strconv.Itoa(len(out)))
		}
	}
	g.send(out)
}
