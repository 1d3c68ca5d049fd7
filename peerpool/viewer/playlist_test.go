package viewer

import (
	"strings"
	"testing"
	"time"
)

const samplePlaylist = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.50000,HOLD-BACK=6.00000
#EXT-X-PART-INF:PART-TARGET=0.50000
#EXT-X-MEDIA-SEQUENCE:102
#EXT-X-MAP:URI="source/init100.mp4"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:24.000Z
#EXTINF:2.00000,
source/seg102.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:26.000Z
#EXT-X-PART:DURATION=0.50000,URI="source/part103.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI="source/part103.1.m4s"
#EXT-X-PART:DURATION=0.50000,URI="source/part103.2.m4s"
#EXT-X-PART:DURATION=0.50000,URI="source/part103.3.m4s"
#EXTINF:2.00000,
source/seg103.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="source/init104.mp4"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:30.000Z
#EXT-X-PART:DURATION=0.50000,URI="source/part104.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.25000,URI="source/part104.1.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="source/part104.2.m4s"
`

func TestParsePlaylist(t *testing.T) {
	pl, err := parsePlaylist(samplePlaylist)
	if err != nil {
		t.Fatal(err)
	}
	if pl.targetDuration != 2*time.Second || pl.partTarget != 500*time.Millisecond || pl.mediaSequence != 102 {
		t.Errorf("header: %+v", pl)
	}
	if n, ok := pl.startupParts(); !ok || n != 3 {
		t.Errorf("a PART-HOLD-BACK of 1.5 s with 0.5 s parts gave %d parts (%v), want 3", n, ok)
	}
	if len(pl.segments) != 3 {
		t.Fatalf("%d segments", len(pl.segments))
	}
	s0, s1, s2 := pl.segments[0], pl.segments[1], pl.segments[2]
	if s0.msn != 102 || !s0.complete || len(s0.parts) != 0 || s0.mapURI != "source/init100.mp4" {
		t.Errorf("segment 0: %+v", s0)
	}
	if s1.msn != 103 || !s1.complete || len(s1.parts) != 4 || !s1.parts[0].independent || s1.parts[1].independent {
		t.Errorf("segment 1: %+v", s1)
	}
	if s2.msn != 104 || s2.complete || len(s2.parts) != 2 || s2.mapURI != "source/init104.mp4" {
		t.Errorf("segment 2: %+v", s2)
	}
	if want := time.Date(2023, 11, 14, 22, 13, 30, 0, time.UTC); !s2.pdt.Equal(want) {
		t.Errorf("segment 2 PDT %v", s2.pdt)
	}
	parts := pl.listedParts()
	if len(parts) != 6 {
		t.Fatalf("%d parts listed", len(parts))
	}
	if p := parts[3]; p.pos() != (pos{103, 3}) || p.offset != 1500*time.Millisecond || p.part().uri != "source/part103.3.m4s" {
		t.Errorf("part 3: %+v %v", p.pos(), p.offset)
	}
	if next, ok := pl.nextPart(); !ok || next != (pos{104, 2}) {
		t.Errorf("next part %v %v", next, ok)
	}
	// A complete last segment: the next part opens the next segment.
	cut := samplePlaylist[:strings.Index(samplePlaylist, "#EXT-X-DISCONTINUITY")]
	pl, err = parsePlaylist(cut)
	if err != nil {
		t.Fatal(err)
	}
	if next, ok := pl.nextPart(); !ok || next != (pos{104, 0}) {
		t.Errorf("next part %v %v", next, ok)
	}
}

func TestParsePlaylistRejects(t *testing.T) {
	for name, body := range map[string]string{
		"empty":           "",
		"no header":       "#EXT-X-VERSION:9\n",
		"uri without inf": "#EXTM3U\nseg1.m4s\n",
		"bad part":        "#EXTM3U\n#EXT-X-PART:DURATION=x,URI=\"a\"\n",
		"part no uri":     "#EXTM3U\n#EXT-X-PART:DURATION=0.5\n",
		"unterminated":    "#EXTM3U\n#EXT-X-PART:DURATION=0.5,URI=\"a\n",
		"bad seq":         "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n",
		"huge seq":        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:9007199254740992\n",
		"bad pdt":         "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n",
		"negative dur":    "#EXTM3U\n#EXT-X-PART:DURATION=-1,URI=\"a\"\n",
		"bad hold-back":   "#EXTM3U\n#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=soon\n",
		"too large":       "#EXTM3U\n" + strings.Repeat("#", maxPlaylistSize),
	} {
		if _, err := parsePlaylist(body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParsePlaylist(f *testing.F) {
	f.Add(samplePlaylist)
	f.Fuzz(func(t *testing.T, body string) {
		pl, err := parsePlaylist(body)
		if err != nil {
			return
		}
		_ = pl.listedParts()
		_, _ = pl.nextPart()
		if n, ok := pl.startupParts(); ok && (n < 1 || n > maxStartupParts) {
			t.Fatalf("startup of %d parts", n)
		}
	})
}
