package origin

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPrivateWriter(t *testing.T) {
	for cc, want := range map[string]string{
		"public, max-age=31536000, immutable": "private, max-age=31536000, immutable",
		"public, max-age=60":                  "private, max-age=60",
		"no-cache":                            "private, no-cache",
		"no-store":                            "no-store",
		"":                                    "private",
	} {
		rec := httptest.NewRecorder()
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if cc != "" {
				w.Header().Set("Cache-Control", cc)
			}
			w.Write([]byte("part"))
			w.(http.Flusher).Flush()
		})
		h.ServeHTTP(&privateWriter{ResponseWriter: rec}, httptest.NewRequest("GET", "/live/show/source/p1.m4s", nil))
		if got := rec.Header().Get("Cache-Control"); got != want {
			t.Errorf("Cache-Control %q became %q, want %q", cc, got, want)
		}
		if !rec.Flushed || rec.Body.String() != "part" {
			t.Errorf("%q: flushed %v, body %q", cc, rec.Flushed, rec.Body.String())
		}
	}
}
