package integration

import (
	"bufio"
	"strconv"
	"strings"
	"time"
)

// variant is one EXT-X-STREAM-INF entry.
type variant struct {
	URI        string
	Bandwidth  int
	Resolution string
	Codecs     string
	Name       string
}

type multivariant []variant

func parseMultivariant(body string) multivariant {
	var out multivariant
	var cur *variant
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			cur = &variant{}
			for k, v := range attrs(strings.TrimPrefix(line, "#EXT-X-STREAM-INF:")) {
				switch k {
				case "BANDWIDTH":
					cur.Bandwidth, _ = strconv.Atoi(v)
				case "RESOLUTION":
					cur.Resolution = v
				case "CODECS":
					cur.Codecs = v
				case "NAME":
					cur.Name = v
				}
			}
		case line != "" && !strings.HasPrefix(line, "#") && cur != nil:
			cur.URI = line
			out = append(out, *cur)
			cur = nil
		}
	}
	return out
}

// attrs splits an HLS attribute list, honouring quotes.
func attrs(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				break
			}
			v, rest = rest[1:1+end], rest[2+end:]
		} else {
			v, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		out[k] = v
		s = strings.TrimPrefix(rest, ",")
	}
	return out
}

type part struct {
	Duration    float64
	URI         string
	Independent bool
}

type segment struct {
	MSN           uint64
	Duration      float64
	URI           string
	PDT           time.Time
	Parts         []part
	Discontinuity bool
	Complete      bool
}

type mediaPlaylist struct {
	TargetDuration int
	PartTarget     float64
	MediaSequence  uint64
	Segments       []segment // the last may be incomplete (parts only)
	PreloadHint    string
	Map            []string
}

func parseMedia(body string) mediaPlaylist {
	var pl mediaPlaylist
	var cur segment
	started := false
	msn := uint64(0)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			pl.TargetDuration, _ = strconv.Atoi(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
		case strings.HasPrefix(line, "#EXT-X-PART-INF:"):
			pl.PartTarget, _ = strconv.ParseFloat(attrs(strings.TrimPrefix(line, "#EXT-X-PART-INF:"))["PART-TARGET"], 64)
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			pl.MediaSequence, _ = strconv.ParseUint(strings.TrimPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"), 10, 64)
			msn = pl.MediaSequence
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			pl.Map = append(pl.Map, attrs(strings.TrimPrefix(line, "#EXT-X-MAP:"))["URI"])
		case line == "#EXT-X-DISCONTINUITY":
			cur.Discontinuity = true
			started = true
		case strings.HasPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"):
			cur.PDT, _ = time.Parse(time.RFC3339Nano, strings.TrimPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"))
			started = true
		case strings.HasPrefix(line, "#EXT-X-PART:"):
			a := attrs(strings.TrimPrefix(line, "#EXT-X-PART:"))
			d, _ := strconv.ParseFloat(a["DURATION"], 64)
			cur.Parts = append(cur.Parts, part{Duration: d, URI: a["URI"], Independent: a["INDEPENDENT"] == "YES"})
			started = true
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			cur.Duration, _ = strconv.ParseFloat(v, 64)
			started = true
		case strings.HasPrefix(line, "#EXT-X-PRELOAD-HINT:"):
			pl.PreloadHint = attrs(strings.TrimPrefix(line, "#EXT-X-PRELOAD-HINT:"))["URI"]
		case line != "" && !strings.HasPrefix(line, "#"):
			cur.URI, cur.MSN, cur.Complete = line, msn, true
			pl.Segments = append(pl.Segments, cur)
			cur, started = segment{}, false
			msn++
		}
	}
	if started {
		cur.MSN = msn
		pl.Segments = append(pl.Segments, cur)
	}
	return pl
}
