package llhls

import (
	"fmt"
	"strings"
	"time"
)

// audioBandwidth is added to ladder rungs whose bandwidth is only known as a
// video bitrate: every rendition carries the source's AAC track.
const audioBandwidth = 160_000

// partsKeptFor is how many of the newest segments list their parts:
// enough to cover three target durations, as the LL-HLS spec asks.
const partsKeptFor = 3

func formatSeconds(d time.Duration) string {
	return fmt.Sprintf("%.5f", d.Seconds())
}

// multivariantLocked renders the multivariant playlist.
func (st *Stream) multivariantLocked() string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, r := range st.readyRenditionsLocked() {
		bw := r.bandwidth()
		if r.peakBPS == 0 {
			bw += audioBandwidth
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=\"%s\"", bw, r.latest.Codecs)
		if r.latest.Width > 0 && r.latest.Height > 0 {
			fmt.Fprintf(&b, ",RESOLUTION=%dx%d", r.latest.Width, r.latest.Height)
		}
		if r.latest.FrameRate > 0 && r.latest.FrameRate < 1000 {
			fmt.Fprintf(&b, ",FRAME-RATE=%.3f", r.latest.FrameRate)
		}
		fmt.Fprintf(&b, ",NAME=\"%s\"\n%s.m3u8\n", r.info.Name, r.info.Name)
	}
	return b.String()
}

// mediaPlaylistLocked renders a rendition's media playlist.
func (st *Stream) mediaPlaylistLocked(r *rendition) string {
	s := st.settings
	partHoldBack := time.Duration(max(s.HoldBackParts, 3)) * s.PartTarget
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n")
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", r.targetDur)
	fmt.Fprintf(&b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%s,HOLD-BACK=%s\n",
		formatSeconds(partHoldBack), formatSeconds(max(3*time.Duration(r.targetDur)*time.Second, partHoldBack)))
	fmt.Fprintf(&b, "#EXT-X-PART-INF:PART-TARGET=%s\n", formatSeconds(s.PartTarget))
	if len(r.segments) == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", r.segments[0].msn)
	if r.discSeq > 0 {
		fmt.Fprintf(&b, "#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", r.discSeq)
	}
	name := r.info.Name
	partsFrom := len(r.segments) - partsKeptFor
	var mapID uint64
	mapWritten := false
	for i, seg := range r.segments {
		if seg.start.Discontinuity {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if !mapWritten || seg.start.InitID != mapID {
			mapID, mapWritten = seg.start.InitID, true
			fmt.Fprintf(&b, "#EXT-X-MAP:URI=\"%s/init%d.mp4\"\n", name, mapID)
		}
		if seg.gap {
			fmt.Fprintf(&b, "#EXT-X-GAP\n#EXTINF:%s,\n%s/seg%d.m4s\n", formatSeconds(seg.duration), name, seg.msn)
			continue
		}
		if !seg.start.ProgramDateTime.IsZero() {
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n",
				seg.start.ProgramDateTime.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		}
		if i >= partsFrom {
			for _, p := range seg.parts {
				fmt.Fprintf(&b, "#EXT-X-PART:DURATION=%s,URI=\"%s/part%d.%d.m4s\"", formatSeconds(p.Duration), name, seg.msn, p.ID.Index)
				if p.Independent {
					b.WriteString(",INDEPENDENT=YES")
				}
				b.WriteString("\n")
			}
		}
		if seg.complete {
			fmt.Fprintf(&b, "#EXTINF:%s,\n%s/seg%d.m4s\n", formatSeconds(seg.duration), name, seg.msn)
		}
	}
	msn, idx := r.nextPart()
	fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%s/part%d.%d.m4s\"\n", name, msn, idx)
	return b.String()
}

// nextPart is the part the rendition will publish next, as far as it can tell:
// the next part of the open segment, or the first of the next segment.
func (r *rendition) nextPart() (uint64, int) {
	last := r.last()
	if last == nil {
		return 0, 0
	}
	if last.complete {
		return last.msn + 1, 0
	}
	return last.msn, len(last.parts)
}

// hasPart reports whether part idx of segment msn, or anything later, is published.
func (r *rendition) hasPart(msn uint64, idx int) bool {
	for i := len(r.segments) - 1; i >= 0; i-- {
		s := r.segments[i]
		switch {
		case s.msn > msn && (len(s.parts) > 0 || s.gap):
			return true
		case s.msn == msn:
			return len(s.parts) > idx || (s.complete && idx >= len(s.parts))
		case s.msn < msn:
			return false
		}
	}
	return false
}

// hasSegment reports whether segment msn is complete, or a later one began.
func (r *rendition) hasSegment(msn uint64) bool {
	last := r.last()
	if last == nil {
		return false
	}
	if last.msn > msn {
		return true
	}
	return last.msn == msn && last.complete
}

func (r *rendition) segment(msn uint64) *segment {
	for _, s := range r.segments {
		if s.msn == msn {
			return s
		}
	}
	return nil
}
