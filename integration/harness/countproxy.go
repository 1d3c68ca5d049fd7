package harness

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// CountProxy is a reverse proxy in front of an HTTP origin that counts the
// response bytes it passes to viewers, split into playlists (.m3u8) and media
// (everything else: segments, parts, init sections). Loading viewers through
// it measures what any origin sends them, also one without metrics of its own.
type CountProxy struct {
	// URL is the proxy's base URL (no trailing slash), on the host given to
	// StartCountProxy.
	URL string

	mu     sync.Mutex
	counts ProxyCounts
}

// ProxyCounts is what a CountProxy has passed on so far.
type ProxyCounts struct {
	MediaBytes, PlaylistBytes       int64
	MediaRequests, PlaylistRequests int64
	Errors                          int64 // responses with a status of 400 or more
}

// Sub is c - o.
func (c ProxyCounts) Sub(o ProxyCounts) ProxyCounts {
	return ProxyCounts{
		MediaBytes: c.MediaBytes - o.MediaBytes, PlaylistBytes: c.PlaylistBytes - o.PlaylistBytes,
		MediaRequests: c.MediaRequests - o.MediaRequests, PlaylistRequests: c.PlaylistRequests - o.PlaylistRequests,
		Errors: c.Errors - o.Errors,
	}
}

// StartCountProxy serves a proxy to origin (a base URL such as
// http://127.0.0.1:8888) on host at a free port until the test ends. header,
// when set, replaces those headers of every request: an X-Forwarded-For from
// HomeHeader makes the viewers behind this proxy one home of their own, as
// the origin sees it. Without it the proxy adds no X-Forwarded-For.
func StartCountProxy(t testing.TB, host, origin string, header http.Header) *CountProxy {
	t.Helper()
	target, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	p := &CountProxy{URL: "http://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			for k, v := range header {
				pr.Out.Header[k] = v
			}
		},
		// Players cancel held playlist requests all the time: not worth a
		// log line each. Failures still count as error responses.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	// LL-HLS holds playlist requests open and may send a part while it is
	// being made: pass every byte on as it comes.
	rp.FlushInterval = -1
	rp.Transport = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		rp.ServeHTTP(cw, r)
		playlist := strings.HasSuffix(r.URL.Path, ".m3u8")
		p.mu.Lock()
		if playlist {
			p.counts.PlaylistBytes += cw.n
			p.counts.PlaylistRequests++
		} else {
			p.counts.MediaBytes += cw.n
			p.counts.MediaRequests++
		}
		if cw.status >= 400 {
			p.counts.Errors++
		}
		p.mu.Unlock()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

// Counts returns the counters so far.
func (p *CountProxy) Counts() ProxyCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

type countingWriter struct {
	http.ResponseWriter
	n      int64
	status int
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Hijack lets WebSocket upgrades (swarmtx's signaling) through; their bytes
// are not counted.
func (w *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("countproxy: %T cannot hijack", w.ResponseWriter)
	}
	return h.Hijack()
}

// Flush lets the reverse proxy's immediate flushing reach the client.
func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
