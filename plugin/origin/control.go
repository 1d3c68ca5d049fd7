package origin

import (
	"net/http"
	"strings"

	"github.com/swarmtx/swarmtx/bridge/llhls"
	"github.com/swarmtx/swarmtx/peerpool/client"
	"github.com/swarmtx/swarmtx/plugin/access"
)

// Kinds of control-plane bytes (swarmtx_server_control_bytes_total).
const (
	controlPlaylist  = "playlist"
	controlSignaling = "signaling"
	controlPage      = "page"
	controlMetrics   = "metrics"
	controlOther     = "other"
)

// countControl counts every response that is not media into
// ControlBytes, by the stream it belongs to and its kind. Media is counted
// as the connection takes it (OnServed), and the swarm's messages as they
// are written (signal.Config.OnSent); the swarm's handshake is counted
// here.
func (o *Origin) countControl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, kind := o.controlKind(r)
		if kind == "" {
			next.ServeHTTP(w, r)
			return
		}
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if !cw.wroteHeader {
			// net/http sends the 200 of a handler that wrote nothing.
			cw.n += headerBytes(http.StatusOK, cw.Header())
		}
		o.metrics.ControlBytes.WithLabelValues(path, kind).Add(float64(cw.n))
	})
}

// controlKind names what a request asks for, by the door it knocks at;
// path is the stream's, and "" when the request names no stream being
// served (a path label is never taken from a request alone). kind is ""
// for media.
func (o *Origin) controlKind(r *http.Request) (path, kind string) {
	req, hls, ok := door(r)
	switch {
	case !ok && strings.HasPrefix(r.URL.Path, client.AssetPrefix):
		return "", controlPage
	case !ok:
		return "", controlOther
	case req.Action == access.ActionMetrics:
		return "", controlMetrics
	}
	if o.stream(req.Path) != nil {
		path = req.Path
	}
	switch hls {
	case 0:
		if strings.HasSuffix(r.URL.Path, "/swarm") {
			return path, controlSignaling
		}
		return path, controlPage
	case llhls.KindMultivariant, llhls.KindMediaPlaylist:
		return path, controlPlaylist
	}
	return "", ""
}

// countingWriter counts the bytes of a response: its body, and its status
// line and headers as HTTP/1.1 writes them (HTTP/2 compresses headers, so
// for it this is an upper bound).
type countingWriter struct {
	http.ResponseWriter
	wroteHeader bool
	n           int
}

func (c *countingWriter) WriteHeader(code int) {
	if c.wroteHeader {
		return
	}
	c.wroteHeader = true
	c.n += headerBytes(code, c.Header())
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	n, err := c.ResponseWriter.Write(b)
	c.n += n
	return n, err
}

// Flush keeps held responses streaming through the counter.
func (c *countingWriter) Flush() {
	c.WriteHeader(http.StatusOK)
	http.NewResponseController(c.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController (and the WebSocket's hijack) reach
// the connection underneath.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// headerBytes is the size of a status line and headers on the wire, with
// the Date header net/http adds.
func headerBytes(code int, h http.Header) int {
	const date = len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")
	n := len("HTTP/1.1 000 \r\n") + len(http.StatusText(code)) + date + len("\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}
