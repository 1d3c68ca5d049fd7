package llhls

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/swarmtx/swarmtx/bridge/httpguard"
)

// Lookup finds the origin of a stream; nil when the stream is not served.
type Lookup func(path string) *Stream

// Handler serves LL-HLS for every stream Lookup knows.
type Handler struct {
	Lookup Lookup
	// OnServed is told media bytes as they are handed to the connection,
	// a chunk at a time (for metrics), so bytes a reader never takes are
	// never counted; optional.
	OnServed func(stream, rendition string, bytes int)
	// Holds bounds the requests waiting for media at once; nil: no bound.
	Holds *httpguard.Holds
	// MultivariantWait bounds how long a multivariant request waits for
	// all renditions to have media (default 6 s).
	MultivariantWait time.Duration
}

// Cache-Control values a CDN in front of swarmtx can honour.
const (
	cacheImmutable = "public, max-age=31536000, immutable" // URLs are never reused
	cacheBlocking  = "public, max-age=60"                  // a blocking response names its version
	cacheLive      = "no-cache"
	cacheNotFound  = "no-store"
)

func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Range, Content-Type, Authorization")
	h.Set("Access-Control-Max-Age", "86400")
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCORS(w.Header())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed")
		return
	}
	req, err := ParseRequestPath(r.URL.Path)
	if err != nil {
		httpError(w, http.StatusNotFound, err.Error())
		return
	}
	st := h.Lookup(req.Stream)
	if st == nil {
		httpError(w, http.StatusNotFound, "stream "+req.Stream+" is not served")
		return
	}
	switch req.Kind {
	case KindMultivariant:
		h.serveMultivariant(w, r, st)
	case KindMediaPlaylist:
		h.serveMediaPlaylist(w, r, st, req)
	case KindInit, KindSegment, KindPart:
		h.serveMedia(w, r, st, req)
	}
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Cache-Control", cacheNotFound)
	http.Error(w, msg, code)
}

func (h *Handler) serveMultivariant(w http.ResponseWriter, r *http.Request, st *Stream) {
	wait := h.MultivariantWait
	if wait <= 0 {
		wait = 6 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	// Wait until every declared rendition has media, so an early player
	// still sees the whole ladder; after the wait, list what is ready.
	if _, ok := h.hold(ctx, w, r, st, func() bool { return len(st.readyRenditionsLocked()) == len(st.order) }); !ok {
		return
	}
	st.mu.Lock()
	ready := len(st.readyRenditionsLocked())
	body := st.multivariantLocked()
	st.mu.Unlock()
	if ready == 0 {
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "stream "+st.path+" has no media yet")
		return
	}
	writePlaylist(w, r, body, cacheLive)
}

func (h *Handler) serveMediaPlaylist(w http.ResponseWriter, r *http.Request, st *Stream, req Request) {
	q, err := ParseBlockingQuery(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	st.mu.Lock()
	rend := st.renditions[req.Rendition]
	var tooFar bool
	var targetDur int
	if rend != nil {
		targetDur = max(rend.targetDur, 1)
		next, _ := rend.nextPart()
		tooFar = q.Blocking && q.MSN > next+2
	}
	st.mu.Unlock()
	if rend == nil {
		httpError(w, http.StatusNotFound, "stream "+st.path+" has no rendition "+req.Rendition)
		return
	}
	if tooFar {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("_HLS_msn=%d is more than two segments ahead of the live edge", q.MSN))
		return
	}
	cache := cacheLive
	if !q.Blocking {
		// A playlist without a complete segment is of no use to a player
		// that ignores parts: hold the first request until there is one.
		ctx, cancel := context.WithTimeout(r.Context(), 3*st.settings.SegmentTarget)
		defer cancel()
		if _, ok := h.hold(ctx, w, r, st, rend.ready); !ok {
			return
		}
	}
	if q.Blocking {
		cache = cacheBlocking
		// The spec lets a server hold a blocking reload for three target
		// durations; after that the current playlist is better than an
		// error (during a publisher reconnect, for example).
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Duration(targetDur)*time.Second)
		defer cancel()
		ok, served := h.hold(ctx, w, r, st, func() bool {
			if q.Part >= 0 {
				return rend.hasPart(q.MSN, q.Part)
			}
			return rend.hasSegment(q.MSN)
		})
		if !served {
			return
		}
		if !ok {
			cache = cacheLive
		}
		if r.Context().Err() != nil {
			return
		}
	}
	st.mu.Lock()
	body := ""
	if rend.ready() {
		body = st.mediaPlaylistLocked(rend)
	}
	closed := st.closed
	st.mu.Unlock()
	if closed {
		httpError(w, http.StatusNotFound, "stream "+st.path+" ended")
		return
	}
	if body == "" {
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "rendition "+req.Rendition+" has no media yet")
		return
	}
	writePlaylist(w, r, body, cache)
}

func writePlaylist(w http.ResponseWriter, r *http.Request, body, cache string) {
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	h.Set("Cache-Control", cache)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write([]byte(body))
}

func (h *Handler) serveMedia(w http.ResponseWriter, r *http.Request, st *Stream, req Request) {
	if req.Kind == KindPart {
		// A preload hint asks for the next part before it exists: hold the
		// request until the part is published or can no longer be.
		ctx, cancel := context.WithTimeout(r.Context(), 3*st.settings.SegmentTarget)
		defer cancel()
		_, served := h.hold(ctx, w, r, st, func() bool {
			rend := st.renditions[req.Rendition]
			if rend == nil {
				return true
			}
			next, idx := rend.nextPart()
			if req.ID > next || (req.ID == next && req.Part > idx) {
				return true // not the hinted part: do not wait for it
			}
			return rend.hasPart(req.ID, req.Part)
		})
		if !served || r.Context().Err() != nil {
			return
		}
	}
	st.mu.Lock()
	var chunks [][]byte
	rend := st.renditions[req.Rendition]
	if rend != nil {
		switch req.Kind {
		case KindInit:
			if init := rend.inits[req.ID]; init != nil {
				chunks = [][]byte{init.Data}
			}
		case KindSegment:
			if seg := rend.segment(req.ID); seg != nil && seg.complete && !seg.gap {
				for _, p := range seg.parts {
					chunks = append(chunks, p.Data)
				}
			}
		case KindPart:
			if seg := rend.segment(req.ID); seg != nil && req.Part < len(seg.parts) {
				chunks = [][]byte{seg.parts[req.Part].Data}
			}
		}
	}
	st.mu.Unlock()
	if chunks == nil {
		httpError(w, http.StatusNotFound, "not in the window of stream "+st.path+": "+r.URL.Path)
		return
	}
	size := 0
	for _, c := range chunks {
		size += len(c)
	}
	hd := w.Header()
	hd.Set("Accept-Ranges", "bytes")
	rng, partial, err := ParseByteRange(r.Header.Get("Range"), size)
	if err != nil {
		if errors.Is(err, errUnsatisfiable) {
			hd.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		}
		httpError(w, http.StatusRequestedRangeNotSatisfiable, err.Error())
		return
	}
	hd.Set("Content-Type", "video/mp4")
	hd.Set("Cache-Control", cacheImmutable)
	status := http.StatusOK
	if partial {
		chunks = sliceChunks(chunks, rng)
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.Start, rng.End-1, size))
		size = rng.End - rng.Start
		status = http.StatusPartialContent
	}
	hd.Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	count := func(int) {}
	if h.OnServed != nil && req.Kind != KindInit {
		count = func(n int) { h.OnServed(st.path, req.Rendition, n) }
	}
	rc := http.NewResponseController(w)
	for _, c := range chunks {
		for len(c) > 0 {
			n := min(len(c), servedChunk)
			if _, err := w.Write(c[:n]); err != nil {
				return
			}
			// Flushed so that what is counted has left for the connection,
			// not a buffer a reader that stopped will never drain.
			if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return
			}
			count(n)
			c = c[n:]
		}
	}
}

// sliceChunks returns the bytes of r from the concatenation of chunks,
// sharing their memory.
func sliceChunks(chunks [][]byte, r ByteRange) [][]byte {
	var out [][]byte
	off := 0
	for _, c := range chunks {
		from, to := max(r.Start-off, 0), min(r.End-off, len(c))
		if from < to {
			out = append(out, c[from:to])
		}
		off += len(c)
	}
	return out
}

// servedChunk is how much media is written and counted at a time, so a
// reader that stops halfway is counted for about what it took.
const servedChunk = 16 << 10

// hold waits until ready is true (checked under the stream's lock), ctx
// ends or the stream closes, as Stream.wait does, and reports whether it
// became ready. A request that has to wait takes a slot from h.Holds while
// it does; when none is free it is answered 429 and served is false.
func (h *Handler) hold(ctx context.Context, w http.ResponseWriter, r *http.Request, st *Stream, ready func() bool) (ok, served bool) {
	st.mu.Lock()
	now := !st.closed && ready()
	st.mu.Unlock()
	if now {
		return true, true
	}
	release, admitted := h.Holds.Hold(w, r)
	if !admitted {
		return false, false
	}
	defer release()
	return st.wait(ctx, ready), true
}
