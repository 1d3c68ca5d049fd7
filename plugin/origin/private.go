package origin

import (
	"net/http"
	"strings"
)

// privateWriter marks a response private: it was allowed for this viewer
// only (its credentials, or its address), so a shared cache in front of
// the origin (a CDN) must not keep it for others, while the viewer's own
// cache still may.
type privateWriter struct {
	http.ResponseWriter
	marked bool
}

func (p *privateWriter) mark() {
	if p.marked {
		return
	}
	p.marked = true
	h := p.Header()
	cc := h.Get("Cache-Control")
	switch {
	case strings.Contains(cc, "public"):
		h.Set("Cache-Control", strings.Replace(cc, "public", "private", 1))
	case cc == "":
		h.Set("Cache-Control", "private")
	case !strings.Contains(cc, "private") && !strings.Contains(cc, "no-store"):
		h.Set("Cache-Control", "private, "+cc)
	}
}

func (p *privateWriter) WriteHeader(code int) {
	p.mark()
	p.ResponseWriter.WriteHeader(code)
}

func (p *privateWriter) Write(b []byte) (int, error) {
	p.mark()
	return p.ResponseWriter.Write(b)
}

// Flush keeps a held LL-HLS response (a blocking reload, a preload hint)
// streaming through the wrapper.
func (p *privateWriter) Flush() {
	p.mark()
	http.NewResponseController(p.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection underneath.
func (p *privateWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
