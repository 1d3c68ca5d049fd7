package viewer

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// maxPlaylistSize bounds a media playlist body (bytes).
const maxPlaylistSize = 1 << 20

// maxPlaylistSegments bounds the segments one playlist may list.
const maxPlaylistSegments = 10000

// mediaPlaylist is what the viewer needs from an LL-HLS media playlist.
type mediaPlaylist struct {
	targetDuration time.Duration
	partTarget     time.Duration
	partHoldBack   time.Duration // 0 when the playlist gives none
	mediaSequence  uint64
	segments       []plSegment
}

// plSegment is one media segment: complete (listed with EXTINF) or the open
// one at the live edge (parts only).
type plSegment struct {
	msn      uint64
	pdt      time.Time // zero when the playlist gives none
	mapURI   string    // EXT-X-MAP in force for this segment ("" if none)
	parts    []plPart  // empty for segments older than the part window
	complete bool
	gap      bool
}

// plPart is one EXT-X-PART line.
type plPart struct {
	uri         string
	dur         time.Duration
	independent bool
	gap         bool
}

// parsePlaylist reads an untrusted media playlist.
func parsePlaylist(body string) (*mediaPlaylist, error) {
	if len(body) > maxPlaylistSize {
		return nil, fmt.Errorf("playlist of %d bytes is too large", len(body))
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), maxPlaylistSize)
	pl := &mediaPlaylist{}
	first := true
	var (
		cur        *plSegment // the segment being described
		mapURI     string
		sawSeq     bool
		expectURI  bool // after EXTINF, the next URI line closes the segment
		pendingGap bool
	)
	open := func() *plSegment {
		if cur == nil {
			cur = &plSegment{msn: pl.mediaSequence + uint64(len(pl.segments)), mapURI: mapURI}
		}
		return cur
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			if line != "#EXTM3U" {
				return nil, errors.New("playlist does not start with #EXTM3U")
			}
			first = false
			continue
		}
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			if !expectURI {
				return nil, fmt.Errorf("URI line %q without EXTINF", short(line))
			}
			s := open()
			s.complete = true
			s.gap = s.gap || pendingGap
			pl.segments = append(pl.segments, *s)
			if len(pl.segments) > maxPlaylistSegments {
				return nil, errors.New("playlist lists too many segments")
			}
			cur, expectURI, pendingGap = nil, false, false
			continue
		}
		tag, val, _ := strings.Cut(line, ":")
		switch tag {
		case "#EXT-X-TARGETDURATION":
			d, err := parseSeconds(val)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-TARGETDURATION: %w", err)
			}
			pl.targetDuration = d
		case "#EXT-X-SERVER-CONTROL":
			attrs, err := parseAttrs(val)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-SERVER-CONTROL: %w", err)
			}
			if v, ok := attrs["PART-HOLD-BACK"]; ok {
				d, err := parseSeconds(v)
				if err != nil {
					return nil, fmt.Errorf("EXT-X-SERVER-CONTROL PART-HOLD-BACK: %w", err)
				}
				pl.partHoldBack = d
			}
		case "#EXT-X-PART-INF":
			attrs, err := parseAttrs(val)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-PART-INF: %w", err)
			}
			d, err := parseSeconds(attrs["PART-TARGET"])
			if err != nil {
				return nil, fmt.Errorf("EXT-X-PART-INF PART-TARGET: %w", err)
			}
			pl.partTarget = d
		case "#EXT-X-MEDIA-SEQUENCE":
			if sawSeq || len(pl.segments) > 0 || cur != nil {
				return nil, errors.New("EXT-X-MEDIA-SEQUENCE repeated or after a segment")
			}
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil || n > wire.MaxMSN {
				return nil, fmt.Errorf("EXT-X-MEDIA-SEQUENCE %q", short(val))
			}
			pl.mediaSequence, sawSeq = n, true
		case "#EXT-X-MAP":
			attrs, err := parseAttrs(val)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-MAP: %w", err)
			}
			if attrs["URI"] == "" {
				return nil, errors.New("EXT-X-MAP without URI")
			}
			mapURI = attrs["URI"]
			if cur != nil && len(cur.parts) == 0 {
				cur.mapURI = mapURI
			}
		case "#EXT-X-PROGRAM-DATE-TIME":
			t, err := time.Parse(time.RFC3339Nano, val)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-PROGRAM-DATE-TIME %q", short(val))
			}
			open().pdt = t
		case "#EXT-X-GAP":
			pendingGap = true
		case "#EXT-X-PART":
			attrs, err := parseAttrs(val)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-PART: %w", err)
			}
			d, err := parseSeconds(attrs["DURATION"])
			if err != nil {
				return nil, fmt.Errorf("EXT-X-PART DURATION: %w", err)
			}
			if attrs["URI"] == "" {
				return nil, errors.New("EXT-X-PART without URI")
			}
			s := open()
			if len(s.parts) > wire.MaxPartIndex {
				return nil, fmt.Errorf("segment %d lists more than %d parts", s.msn, wire.MaxPartIndex+1)
			}
			s.parts = append(s.parts, plPart{
				uri: attrs["URI"], dur: d,
				independent: attrs["INDEPENDENT"] == "YES",
				gap:         attrs["GAP"] == "YES",
			})
		case "#EXTINF":
			open()
			expectURI = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if first {
		return nil, errors.New("empty playlist")
	}
	if cur != nil && len(cur.parts) > 0 && !expectURI {
		pl.segments = append(pl.segments, *cur)
	}
	if last := len(pl.segments); last > 0 && pl.segments[last-1].msn > wire.MaxMSN {
		return nil, errors.New("media sequence number out of range")
	}
	return pl, nil
}

// partRef is one listed part, in playlist order.
type partRef struct {
	seg    *plSegment
	index  int
	offset time.Duration // from the segment's start
}

func (r partRef) part() plPart { return r.seg.parts[r.index] }

// pos orders parts: (msn, index).
type pos struct {
	msn   uint64
	index int
}

func (a pos) after(b pos) bool { return a.msn > b.msn || (a.msn == b.msn && a.index > b.index) }

func (r partRef) pos() pos { return pos{r.seg.msn, r.index} }

// listedParts returns every part the playlist lists, oldest first.
func (pl *mediaPlaylist) listedParts() []partRef {
	var out []partRef
	for i := range pl.segments {
		s := &pl.segments[i]
		if s.gap {
			continue
		}
		var off time.Duration
		for j := range s.parts {
			out = append(out, partRef{seg: s, index: j, offset: off})
			off += s.parts[j].dur
		}
	}
	return out
}

// nextPart is the part a blocking reload should wait for: the one after the
// last listed part.
func (pl *mediaPlaylist) nextPart() (pos, bool) {
	for i := len(pl.segments) - 1; i >= 0; i-- {
		s := pl.segments[i]
		if s.complete {
			return pos{s.msn + 1, 0}, true
		}
		if len(s.parts) > 0 {
			return pos{s.msn, len(s.parts)}, true
		}
	}
	return pos{}, false
}

// parseAttrs reads an attribute list: KEY=VALUE,KEY="quoted, value".
func parseAttrs(s string) (map[string]string, error) {
	out := make(map[string]string)
	for len(s) > 0 {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("bad attribute list %q", short(s))
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted value in %q", short(s))
			}
			v, rest = rest[1:1+end], rest[2+end:]
		} else {
			i := strings.IndexByte(rest, ',')
			if i < 0 {
				i = len(rest)
			}
			v, rest = rest[:i], rest[i:]
		}
		out[strings.TrimSpace(k)] = v
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("bad attribute list %q", short(s))
			}
			rest = rest[1:]
		}
		s = rest
	}
	return out, nil
}

// parseSeconds reads a decimal number of seconds (EXTINF, DURATION, ...).
func parseSeconds(s string) (time.Duration, error) {
	s, _, _ = strings.Cut(s, ",") // EXTINF:2.0,title
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f > 3600 || math.IsNaN(f) {
		return 0, fmt.Errorf("bad duration %q", short(s))
	}
	return time.Duration(f * float64(time.Second)), nil
}

func short(s string) string {
	if len(s) > 40 {
		return wire.Truncate(s, 40) + "…"
	}
	return s
}

// startupParts is how many parts behind the live edge the playlist asks
// players to start (its PART-HOLD-BACK, rounded up), and false when it
// does not say. Bounded: a hostile origin cannot hold a viewer back for
// longer than its part window.
func (pl *mediaPlaylist) startupParts() (int, bool) {
	if pl.partHoldBack <= 0 || pl.partTarget <= 0 {
		return 0, false
	}
	n := int((pl.partHoldBack + pl.partTarget - 1) / pl.partTarget)
	return min(max(n, 1), maxStartupParts), true
}
