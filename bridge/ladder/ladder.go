// Package ladder builds swarmtx's ABR ladder: one ffmpeg process per stream
// transcodes the source H.264 video into lower renditions ("rungs") whose
// keyframes sit at exactly the presentation timestamps of the source's
// keyframes, so segment N of every rendition covers the same time.
//
// The source rendition itself is never sent to ffmpeg: the bridge passes it
// through. Audio is not sent to ffmpeg either; the bridge muxes the source's
// AAC into every rendition itself.
//
// How the timestamps stay exact: the Encoder writes the source access units
// to ffmpeg's stdin as MPEG-TS with their own PTS/DTS (shifted by a constant
// so they are positive and far from the 33-bit wrap). ffmpeg runs with
// -copyts, -fps_mode passthrough and -enc_time_base 1:90000 (so libx264 does
// not round timestamps to a frame-rate grid), -force_key_frames source with
// scene-cut and periodic keyframes disabled (so the renditions have an IDR at
// exactly the PTS of every source IDR and nowhere else), and writes each rung
// as fragmented MP4 (one fragment per frame, frag_discont + no edit list +
// avoid_negative_ts disabled, so tfdt carries the real timestamps instead of
// starting at 0). The reader undoes the constant shift. Rendition samples
// have PTS == DTS (zerolatency: no B-frames) and the set of rendition PTS
// equals the set of source PTS.
//
// Latency from WriteH264 to OnSample is about 4-5 frames plus encode time
// (measured ~150 ms median at 30 fps): ffmpeg's H.264 parser holds one frame
// until the next starts, the decoder holds frames for B-frame reordering, and
// the MP4 muxer writes a fragment when the next frame arrives (it needs its
// duration).
//
// Limits: the timeline must be continuous (DTS increasing, < 2^33 ticks ≈
// 26.5 h after the first keyframe); on a publisher reconnect, a timeline reset
// or a source resolution change, Close the Encoder and Start a new one.
package ladder

import (
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// Limits enforced by ParseLadder.
const (
	MaxRungs      = 8        // including the source rung
	MinHeight     = 144      // pixels
	MaxHeight     = 4320     // pixels
	MinBitrate    = 100_000  // bits/s
	MaxBitrate    = 50000000 // bits/s
	sourceRungKey = "source"
)

// Rung is one rendition of the ladder.
type Rung struct {
	// Name identifies the rendition: "source", or "<height>p" ("720p").
	Name string
	// Source is true for the source rendition, which is passed through
	// without re-encoding and never sent to ffmpeg.
	Source bool
	// Height is the output height in pixels (the width follows the source's
	// aspect ratio, rounded to an even number). For the source rung it is 0
	// until ForSource fills in the source's height.
	Height int
	// VideoBitrate is the target (and maximum) video bitrate in bits/s;
	// 0 for the source rung.
	VideoBitrate int
}

// SourceRung returns the source rung.
func SourceRung() Rung { return Rung{Name: sourceRungKey, Source: true} }

// DefaultBitrate returns the default video bitrate (bits/s) for a rung of
// the given height: the usual H.264 live-streaming ladder values.
func DefaultBitrate(height int) int {
	switch {
	case height >= 2160:
		return 14_000_000
	case height >= 1440:
		return 8_000_000
	case height >= 1080:
		return 5_000_000
	case height >= 720:
		return 2_800_000
	case height >= 540:
		return 2_000_000
	case height >= 480:
		return 1_400_000
	case height >= 360:
		return 800_000
	case height >= 240:
		return 400_000
	default:
		return 200_000
	}
}

// DefaultLadder returns source + 720p (2.8 Mb/s) + 480p (1.4 Mb/s) +
// 360p (800 kb/s). Use ForSource to drop rungs taller than the source.
func DefaultLadder() []Rung {
	return []Rung{
		SourceRung(),
		encodedRung(720, 0),
		encodedRung(480, 0),
		encodedRung(360, 0),
	}
}

func encodedRung(height, bitrate int) Rung {
	if bitrate == 0 {
		bitrate = DefaultBitrate(height)
	}
	return Rung{Name: fmt.Sprintf("%dp", height), Height: height, VideoBitrate: bitrate}
}

// ParseLadder parses a ladder such as "source,720p:2800k,480p:1400k,360p".
//
// Items are separated by commas. An item is either "source" or
// "<height>p[:<bitrate>]", where height is even and within MinHeight..MaxHeight
// and bitrate is a number of bits/s with an optional k or M suffix ("2800k",
// "2.8M", "2800000") within MinBitrate..MaxBitrate; without it the bitrate is
// DefaultBitrate(height).
//
// The source rendition is always part of the ladder: "source" may be written
// at most once, and when it is missing it is added. The result always starts
// with the source rung, followed by the encoded rungs from tallest to
// shortest. Duplicate heights and more than MaxRungs rungs (source included)
// are rejected. Every error names the offending item.
func ParseLadder(spec string) ([]Rung, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("ladder: empty ladder spec (use \"source\" for no transcoding)")
	}
	items := strings.Split(spec, ",")
	if len(items) > MaxRungs+1 { // cheap early bound; exact check below
		return nil, fmt.Errorf("ladder: %d rungs, at most %d allowed (source included)", len(items), MaxRungs)
	}
	var encoded []Rung
	seenSource := false
	heights := map[int]string{}
	for _, raw := range items {
		item := strings.TrimSpace(raw)
		if item == "" {
			return nil, fmt.Errorf("ladder: empty item in %q", spec)
		}
		if strings.EqualFold(item, sourceRungKey) {
			if seenSource {
				return nil, fmt.Errorf("ladder: item %q: source given more than once", item)
			}
			seenSource = true
			continue
		}
		r, err := parseRung(item)
		if err != nil {
			return nil, fmt.Errorf("ladder: item %q: %w", item, err)
		}
		if prev, ok := heights[r.Height]; ok {
			return nil, fmt.Errorf("ladder: item %q: height %d already given by %q", item, r.Height, prev)
		}
		heights[r.Height] = item
		encoded = append(encoded, r)
	}
	if len(encoded)+1 > MaxRungs {
		return nil, fmt.Errorf("ladder: %d rungs, at most %d allowed (source included)", len(encoded)+1, MaxRungs)
	}
	sort.SliceStable(encoded, func(i, j int) bool { return encoded[i].Height > encoded[j].Height })
	return append([]Rung{SourceRung()}, encoded...), nil
}

func parseRung(item string) (Rung, error) {
	hs, bs, hasBitrate := strings.Cut(item, ":")
	hs = strings.TrimSpace(hs)
	if !strings.HasSuffix(hs, "p") && !strings.HasSuffix(hs, "P") {
		return Rung{}, fmt.Errorf("want \"source\" or \"<height>p[:<bitrate>]\", e.g. \"720p:2800k\"")
	}
	h, err := strconv.Atoi(hs[:len(hs)-1])
	if err != nil {
		return Rung{}, fmt.Errorf("bad height %q: want a number followed by p, e.g. 720p", hs)
	}
	if h < MinHeight || h > MaxHeight {
		return Rung{}, fmt.Errorf("height %d outside %d..%d", h, MinHeight, MaxHeight)
	}
	if h%2 != 0 {
		return Rung{}, fmt.Errorf("height %d is odd; 4:2:0 video needs an even height", h)
	}
	bitrate := 0
	if hasBitrate {
		bitrate, err = parseBitrate(strings.TrimSpace(bs))
		if err != nil {
			return Rung{}, err
		}
	}
	return encodedRung(h, bitrate), nil
}

func parseBitrate(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty bitrate after ':'")
	}
	mult := 1.0
	num := s
	switch s[len(s)-1] {
	case 'k', 'K':
		mult, num = 1e3, s[:len(s)-1]
	case 'm', 'M':
		mult, num = 1e6, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" || strings.ContainsAny(num, "eEpPxXnNiI_+-") {
		return 0, fmt.Errorf("bad bitrate %q: want bits/s with optional k or M suffix, e.g. 2800k", s)
	}
	bps := v * mult
	if !(bps >= MinBitrate && bps <= MaxBitrate) {
		return 0, fmt.Errorf("bitrate %s outside 100k..50M", s)
	}
	return int(bps + 0.5), nil
}

// ForSource adapts a ladder to a source of the given height: it drops the
// encoded rungs taller than the source (never upscale; a rung as tall as the
// source is kept, it lowers the bitrate), and makes sure the source rung is
// present, first, and carries the source's height. With an unknown source
// height (<= 0) only the source rung is returned. The input is not modified.
func ForSource(rungs []Rung, sourceHeight int) []Rung {
	src := SourceRung()
	if sourceHeight > 0 {
		src.Height = sourceHeight
	}
	out := []Rung{src}
	if sourceHeight <= 0 {
		return out
	}
	for _, r := range rungs {
		if r.Source {
			if r.Name != "" {
				out[0].Name = r.Name
			}
			continue
		}
		if r.Height > sourceHeight {
			continue
		}
		out = append(out, r)
	}
	return out
}

// FFmpegAvailable looks path up like exec.LookPath ("ffmpeg" searches PATH;
// an empty path means "ffmpeg") and returns the resolved path and whether it
// was found. Without ffmpeg the ladder is the source alone.
func FFmpegAvailable(path string) (string, bool) {
	if path == "" {
		path = "ffmpeg"
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", false
	}
	return p, true
}
