package viewer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// slot is one part on its way to the playhead.
type slot struct {
	id    wire.PartID
	uri   *url.URL
	dur   time.Duration
	start time.Time     // wall-clock time of its first frame; zero if unknown
	ready chan struct{} // closed once obtained or given up
	ok    bool          // set before ready is closed: the part is playable
}

// errStatus is an HTTP answer other than 200 (or 206 to a Range request).
type errStatus int

func (e errStatus) Error() string { return "HTTP " + strconv.Itoa(int(e)) }

// get fetches u, reading at most limit bytes.
func (v *Viewer) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	body, _, err := fetch(ctx, v.client, v.cfg.Header, u, 0, limit)
	return body, err
}

// getRest GETs the bytes of part u that follow the first from, which the
// viewer already holds: it returns them and from, or, when the origin
// ignores the range, the whole part and 0.
func (v *Viewer) getRest(ctx context.Context, u string, from int) (body []byte, at int, err error) {
	return fetch(ctx, v.client, v.cfg.Header, u, from, wire.MaxPartSize)
}

// fetch GETs u with header added, reading at most limit bytes of the
// resource. With from > 0 it asks for the bytes from offset from on: at is
// from when the origin sent only those, 0 when it sent the whole resource.
func fetch(ctx context.Context, client *http.Client, header http.Header, u string, from int, limit int64) (body []byte, at int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	addHeader(req, header)
	if from > 0 {
		req.Header.Set("Range", "bytes="+strconv.Itoa(from)+"-")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusPartialContent && from > 0:
		var first, last, size int
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &size); err != nil || first != from {
			return nil, 0, fmt.Errorf("%s: Content-Range %q does not answer bytes=%d-", u, resp.Header.Get("Content-Range"), from)
		}
		at = from
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, 0, errStatus(resp.StatusCode)
	}
	rest := limit - int64(at)
	body, err = io.ReadAll(io.LimitReader(resp.Body, rest+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(body)) > rest {
		return nil, 0, fmt.Errorf("%s: more than %d bytes", u, limit)
	}
	return body, at, nil
}

// addHeader adds h to req's header.
func addHeader(req *http.Request, h http.Header) {
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// follow reads the media playlist with blocking reloads and queues every
// new part for the playhead, starting StartupParts (or the playlist's
// hold-back) back from the live edge, at an independent part.
func (v *Viewer) follow() {
	defer v.wg.Done()
	ctx := v.ctx
	var (
		started bool
		last    pos // the newest part queued
		next    pos
		inits   = make(map[string]bool)
	)
	for ctx.Err() == nil {
		u := *v.playlist
		if started {
			u.RawQuery = fmt.Sprintf("_HLS_msn=%d&_HLS_part=%d", next.msn, next.index)
		}
		body, err := v.get(ctx, u.String(), maxPlaylistSize)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			v.log.Warn("playlist", "url", u.String(), "err", err)
			// 400: asked too far ahead (the origin restarted its
			// numbering): resynchronise with a plain reload.
			var st errStatus
			if errors.As(err, &st) && st == http.StatusBadRequest {
				started = false
			}
			sleepCtx(ctx, playlistBackoff)
			continue
		}
		pl, err := parsePlaylist(string(body))
		if err != nil {
			v.log.Warn("bad playlist", "err", err)
			sleepCtx(ctx, playlistBackoff)
			continue
		}
		parts := pl.listedParts()
		nxt, ok := pl.nextPart()
		if len(parts) == 0 || !ok {
			// No parts yet (or a stream without them): poll.
			sleepCtx(ctx, playlistBackoff)
			continue
		}
		from := 0
		if !started && last == (pos{}) {
			if n, ok := pl.startupParts(); ok && v.cfg.StartupParts <= 0 {
				v.startup.Store(int32(n))
			}
			from = max(0, len(parts)-int(v.startup.Load()))
			for from > 0 && !parts[from].part().independent {
				from--
			}
		} else {
			for from < len(parts) && !parts[from].pos().after(last) {
				from++
			}
		}
		for _, r := range parts[from:] {
			if r.part().gap {
				continue
			}
			if m := r.seg.mapURI; m != "" && !inits[m] {
				if v.fetchInit(ctx, m) {
					inits[m] = true
				}
			}
			s, err := v.newSlot(r)
			if err != nil {
				v.log.Warn("skipping a part", "err", err)
				continue
			}
			select {
			case v.slots <- s:
			case <-ctx.Done():
				return
			}
			v.wg.Add(1)
			go v.obtain(s)
			last = r.pos()
		}
		started = true
		next = nxt
	}
}

func (v *Viewer) newSlot(r partRef) (*slot, error) {
	p := r.part()
	id := wire.PartID{Rendition: v.cfg.Rendition, MSN: r.seg.msn, Index: r.index}
	if err := id.Validate(); err != nil {
		return nil, err
	}
	ref, err := url.Parse(p.uri)
	if err != nil {
		return nil, fmt.Errorf("part URI %q: %w", short(p.uri), err)
	}
	s := &slot{id: id, uri: v.playlist.ResolveReference(ref), dur: p.dur, ready: make(chan struct{})}
	if !r.seg.pdt.IsZero() {
		s.start = r.seg.pdt.Add(r.offset)
	}
	return s, nil
}

// fetchInit fetches an init segment over HTTP (once per EXT-X-MAP).
func (v *Viewer) fetchInit(ctx context.Context, uri string) bool {
	ref, err := url.Parse(uri)
	if err != nil {
		v.log.Warn("bad EXT-X-MAP URI", "uri", short(uri))
		return true // never fetchable
	}
	body, err := v.get(ctx, v.playlist.ResolveReference(ref).String(), wire.MaxPartSize)
	if err != nil {
		if ctx.Err() == nil {
			v.log.Warn("init segment", "uri", uri, "err", err)
		}
		return false
	}
	v.mu.Lock()
	v.st.HTTPBytes += int64(len(body))
	v.mu.Unlock()
	return true
}

// announcement returns the server's announcement of id, waiting up to wait
// for it (it is normally sent before the playlist lists the part).
func (v *Viewer) announcement(ctx context.Context, id wire.PartID, wait time.Duration) *wire.PartAnnounce {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		v.mu.Lock()
		a, wake := v.announced[id], v.annWake
		v.mu.Unlock()
		if a != nil {
			return a
		}
		select {
		case <-wake:
		case <-t.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// timeUntilNeeded is how long until the playhead reaches s; 0 before
// playback starts (the startup parts are needed at once) or when unknown.
func (v *Viewer) timeUntilNeeded(s *slot) time.Duration {
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.play.cur
	if c == nil || c.start.IsZero() || s.start.IsZero() {
		if c != nil {
			return s.dur // playing, but no clock to place the part: assume it is next
		}
		return 0
	}
	playhead := c.start.Add(min(max(now.Sub(v.play.curStart), 0), c.dur))
	if !v.play.stallStart.IsZero() {
		return 0
	}
	return max(s.start.Sub(playhead), 0)
}

// obtain gets one part: from the neighbours before its deadline, otherwise
// over HTTP, verified against the announcement; then offers it to the
// neighbours.
func (v *Viewer) obtain(s *slot) {
	defer v.wg.Done()
	defer close(s.ready)
	ctx := v.ctx
	a := v.announcement(ctx, s.id, announceWait)
	if ctx.Err() != nil {
		return
	}

	// From the swarm.
	var prefix []byte // the part's first bytes, from neighbours, verified
	if a != nil {
		wait := s.dur
		if v.cfg.PartDeadline != nil {
			wait = v.cfg.PartDeadline(s.id, s.dur)
		}
		v.mu.Lock()
		margin := max(minHTTPMargin, 3*v.httpRTT)
		v.mu.Unlock()
		wait = min(wait, v.timeUntilNeeded(s)-margin)
		if len(v.peer.Received()) == 0 {
			wait = 0 // no open neighbour: nothing can come from the swarm
		}
		wctx, cancel := context.WithTimeout(ctx, max(wait, 0))
		data, err := v.peer.Want(wctx, s.id)
		cancel()
		if err != nil {
			prefix = data
		}
		if err == nil {
			v.mu.Lock()
			v.st.P2PBytes += int64(len(data))
			v.st.P2PParts++
			v.mu.Unlock()
			s.ok = true
			return
		}
		if ctx.Err() != nil {
			return
		}
		if wait > 0 {
			holders, inFlight := v.peer.Availability(s.id)
			v.mu.Lock()
			switch {
			case inFlight || len(prefix) > 0: // the Want gave up on a transfer under way
				v.st.Fallbacks.InFlight++
			case holders > 0:
				v.st.Fallbacks.Declined++
			default:
				v.st.Fallbacks.NoHolder++
			}
			v.mu.Unlock()
		}
	}

	// Over HTTP: only what the neighbours did not bring.
	var data []byte
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		body, at, err := v.getRest(ctx, s.uri.String(), len(prefix))
		if err == nil {
			data = body
			if at > 0 {
				data = append(prefix[:at], body...)
			}
			v.mu.Lock()
			if at > 0 {
				v.st.P2PBytes += int64(at)
				v.st.RestParts++
			}
			rtt := time.Since(t0)
			if v.httpRTT == 0 {
				v.httpRTT = rtt
			} else {
				v.httpRTT = (7*v.httpRTT + rtt) / 8
			}
			v.st.HTTPBytes += int64(len(body))
			v.mu.Unlock()
			break
		}
		if ctx.Err() != nil {
			return
		}
		if attempt+1 >= httpAttempts {
			v.log.Warn("cannot fetch a part", "part", s.id.String(), "err", err)
			v.mu.Lock()
			v.st.FailedParts++
			v.mu.Unlock()
			return
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	if a == nil {
		// Announced late (or never): check once more before accepting
		// bytes nobody vouched for.
		a = v.announcement(ctx, s.id, 0)
	}
	if a != nil && (a.Size != len(data) || wire.Hash(sha256.Sum256(data)) != a.SHA256) {
		v.log.Error("HTTP bytes do not match the announced hash; not played", "part", s.id.String(),
			"size", len(data), "announced", a.Size)
		v.mu.Lock()
		v.st.HTTPHashMismatches++
		v.st.FailedParts++
		v.st.HTTPParts++
		v.mu.Unlock()
		return
	}
	v.mu.Lock()
	v.st.HTTPParts++
	if a == nil {
		v.st.Unverified++
	}
	v.mu.Unlock()
	if a != nil && v.cfg.CanUpload {
		// Only verified parts are passed on.
		v.peer.Offer(s.id, data)
	}
	s.ok = true
}

// playLoop is the simulated player.
func (v *Viewer) playLoop() {
	defer v.wg.Done()
	ctx := v.ctx
	var buf []*slot
	// take returns the next slot, waiting for the playlist if needed.
	take := func() *slot {
		if len(buf) > 0 {
			s := buf[0]
			buf = buf[1:]
			return s
		}
		select {
		case s := <-v.slots:
			return s
		case <-ctx.Done():
			return nil
		}
	}
	waitReady := func(s *slot) bool {
		select {
		case <-s.ready:
			return true
		case <-ctx.Done():
			return false
		}
	}

	// Startup: the hold-back's worth of playable parts buffered. follow
	// settles it before it queues the first part.
	for len(buf) < int(v.startup.Load()) {
		var s *slot
		select {
		case s = <-v.slots:
		case <-ctx.Done():
			return
		}
		if !waitReady(s) {
			return
		}
		if s.ok {
			buf = append(buf, s)
		} else {
			v.mu.Lock()
			v.st.LateParts++
			v.mu.Unlock()
		}
	}
	cur := take()
	now := time.Now()
	v.mu.Lock()
	v.st.Playing = true
	v.st.Startup = now.Sub(v.started)
	v.play = playState{cur: cur, curStart: now}
	v.mu.Unlock()

	for {
		end := v.play.curStart.Add(cur.dur)
		if !sleepCtx(ctx, time.Until(end)) {
			return
		}
		v.mu.Lock()
		v.st.PartsPlayed++
		v.mu.Unlock()
		// The next part, if it is there in time.
		var n *slot
		if len(buf) > 0 {
			n = buf[0]
		} else {
			select {
			case n = <-v.slots:
				buf = append(buf, n)
			default:
			}
		}
		if n != nil {
			select {
			case <-n.ready:
				if n.ok {
					buf = buf[1:]
					cur = n
					v.mu.Lock()
					v.play.cur, v.play.curStart = cur, end
					v.mu.Unlock()
					continue
				}
			default:
			}
		}
		// Stall: wait for the next playable part.
		v.mu.Lock()
		v.play.stallStart = end
		v.st.Stalls++
		v.mu.Unlock()
		v.log.Debug("stall", "after", cur.id.String())
		for {
			n = take()
			if n == nil {
				return
			}
			late := false
			select {
			case <-n.ready:
			default:
				late = true
				if !waitReady(n) {
					return
				}
			}
			if late || !n.ok {
				v.mu.Lock()
				v.st.LateParts++
				v.mu.Unlock()
			}
			if n.ok {
				break
			}
		}
		now := time.Now()
		cur = n
		v.mu.Lock()
		stall := now.Sub(v.play.stallStart)
		v.st.StallTime += stall
		v.st.LongestStall = max(v.st.LongestStall, stall)
		v.play = playState{cur: cur, curStart: now}
		v.mu.Unlock()
	}
}
