package harness

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MediaMeter measures how many bytes a rendition has per second of media: it
// follows a live playlist straight from the origin (of a multivariant one,
// the first variant and every EXT-X-MEDIA rendition, such as the separate
// audio MediaMTX makes) and downloads each complete segment once. Against a viewer
// byte count over the same window it gives server copies for origins that
// do not count the media they make.
type MediaMeter struct {
	mu     sync.Mutex
	totals map[string]mediaTotal // by media playlist URL
	err    error
}

type mediaTotal struct {
	bytes    int64
	secs     float64 // media duration of those bytes, from EXTINF
	segments int
}

// MediaSample is a MediaMeter's totals at one moment.
type MediaSample struct {
	playlists map[string]mediaTotal
}

// Bytes is the bytes of the segments counted, in all playlists.
func (s MediaSample) Bytes() int64 {
	var n int64
	for _, t := range s.playlists {
		n += t.bytes
	}
	return n
}

// Segments is how many segments were counted, in all playlists.
func (s MediaSample) Segments() int {
	n := 0
	for _, t := range s.playlists {
		n += t.segments
	}
	return n
}

// Rate is the rendition's media bytes per second over the segments counted
// between o and s: the sum of its media playlists' rates, since a separate
// audio playlist covers the same seconds as the video one.
func (s MediaSample) Rate(o MediaSample) float64 {
	rate := 0.0
	for pl, t := range s.playlists {
		f := o.playlists[pl]
		if t.secs > f.secs {
			rate += float64(t.bytes-f.bytes) / (t.secs - f.secs)
		}
	}
	return rate
}

// StartMediaMeter polls playlist once a second until ctx ends.
func StartMediaMeter(ctx context.Context, playlist string) *MediaMeter {
	m := &MediaMeter{totals: map[string]mediaTotal{}}
	go m.run(ctx, playlist)
	return m
}

// Sample returns the totals so far.
func (m *MediaMeter) Sample() MediaSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := MediaSample{playlists: map[string]mediaTotal{}}
	for pl, t := range m.totals {
		s.playlists[pl] = t
	}
	return s
}

// Err is the last error the meter met, if any.
func (m *MediaMeter) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *MediaMeter) fail(err error) {
	m.mu.Lock()
	m.err = err
	m.mu.Unlock()
}

func (m *MediaMeter) run(ctx context.Context, playlist string) {
	seen := map[string]bool{}
	var media []string
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if media == nil {
			body, err := fetchText(ctx, playlist)
			if err != nil {
				m.fail(err)
			} else if uris := mediaPlaylists(body); len(uris) > 0 {
				for _, u := range uris {
					media = append(media, resolveRef(playlist, u))
				}
			} else {
				media = []string{playlist}
			}
		}
		for _, pl := range media {
			body, err := fetchText(ctx, pl)
			if err != nil {
				m.fail(err)
				continue
			}
			for _, s := range segmentsOf(body) {
				u := resolveRef(pl, s.uri)
				if seen[u] {
					continue
				}
				n, err := fetchLen(ctx, u)
				if err != nil {
					m.fail(err)
					continue
				}
				seen[u] = true
				m.mu.Lock()
				t := m.totals[pl]
				t.bytes += n
				t.secs += s.dur
				t.segments++
				m.totals[pl] = t
				m.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

type segmentRef struct {
	uri string
	dur float64
}

// segmentsOf lists a media playlist's complete segments (EXTINF), not its
// LL-HLS parts, nor gaps (EXT-X-GAP: no media behind them).
func segmentsOf(body string) []segmentRef {
	var out []segmentRef
	dur := -1.0
	gap := false
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "#EXTINF:"):
			v := strings.TrimPrefix(l, "#EXTINF:")
			if i := strings.IndexByte(v, ','); i >= 0 {
				v = v[:i]
			}
			d, err := strconv.ParseFloat(v, 64)
			if err == nil {
				dur = d
			}
		case l == "#EXT-X-GAP":
			gap = true
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			if dur >= 0 && !gap {
				out = append(out, segmentRef{uri: l, dur: dur})
			}
			dur, gap = -1, false
		}
	}
	return out
}

// mediaPlaylists lists a multivariant playlist's first variant and its
// EXT-X-MEDIA renditions; none for a media playlist.
func mediaPlaylists(body string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	inf, variant := false, false
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "#EXT-X-MEDIA:"):
			if _, rest, ok := strings.Cut(l, `URI="`); ok {
				if uri, _, ok := strings.Cut(rest, `"`); ok {
					out = append(out, uri)
				}
			}
		case strings.HasPrefix(l, "#EXT-X-STREAM-INF"):
			inf = true
		case inf && !variant && l != "" && !strings.HasPrefix(l, "#"):
			out = append(out, l)
			variant = true
		}
	}
	return out
}

func resolveRef(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

func fetchText(ctx context.Context, u string) (string, error) {
	b, err := fetch(ctx, u)
	return string(b), err
}

func fetchLen(ctx context.Context, u string) (int64, error) {
	b, err := fetch(ctx, u)
	return int64(len(b)), err
}

func fetch(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = &httpStatusError{u, resp.StatusCode}
	}
	return b, err
}

type httpStatusError struct {
	url  string
	code int
}

func (e *httpStatusError) Error() string { return e.url + ": HTTP " + strconv.Itoa(e.code) }
