package ladder

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseLadder(t *testing.T) {
	src := SourceRung()
	r := func(h, b int) Rung { return encodedRung(h, b) }
	cases := []struct {
		spec    string
		want    []Rung
		wantErr string // substring
	}{
		{spec: "source,720p:2800k,480p:1400k,360p", want: []Rung{src, r(720, 2800000), r(480, 1400000), r(360, 800000)}},
		{spec: "source", want: []Rung{src}},
		{spec: "720p", want: []Rung{src, r(720, 2800000)}}, // source added implicitly
		{spec: " 360p , source , 1080p:6M ", want: []Rung{src, r(1080, 6000000), r(360, 800000)}},
		{spec: "480p:2.5M,240p:300000", want: []Rung{src, r(480, 2500000), r(240, 300000)}},
		{spec: "SOURCE,540P:2000K", want: []Rung{src, r(540, 2000000)}},
		{spec: "144p:100k,4320p:50M", want: []Rung{src, r(4320, 50000000), r(144, 100000)}},
		{spec: "", wantErr: "empty ladder spec"},
		{spec: "  ", wantErr: "empty ladder spec"},
		{spec: "source,,360p", wantErr: "empty item"},
		{spec: "source,source", wantErr: `item "source": source given more than once`},
		{spec: "720p,720p:1M", wantErr: `item "720p:1M": height 720 already given by "720p"`},
		{spec: "720", wantErr: `item "720": want "source" or "<height>p`},
		{spec: "hdp", wantErr: `item "hdp": bad height "hdp"`},
		{spec: "100p", wantErr: `item "100p": height 100 outside 144..4320`},
		{spec: "8640p", wantErr: "height 8640 outside"},
		{spec: "361p", wantErr: `item "361p": height 361 is odd`},
		{spec: "360p:", wantErr: `item "360p:": empty bitrate`},
		{spec: "360p:fast", wantErr: `item "360p:fast": bad bitrate "fast"`},
		{spec: "360p:1e6", wantErr: `bad bitrate "1e6"`},
		{spec: "360p:-1M", wantErr: `bad bitrate "-1M"`},
		{spec: "360p:NaN", wantErr: `bad bitrate "NaN"`},
		{spec: "360p:99k", wantErr: `item "360p:99k": bitrate 99k outside 100k..50M`},
		{spec: "360p:51M", wantErr: "bitrate 51M outside"},
		{spec: "source,1080p,900p,720p,540p,480p,360p,240p", want: []Rung{src, r(1080, 5000000), r(900, 2800000), r(720, 2800000), r(540, 2000000), r(480, 1400000), r(360, 800000), r(240, 400000)}},
		{spec: "source,1080p,900p,720p,540p,480p,360p,240p,144p", wantErr: "9 rungs, at most 8"},
		{spec: "1080p,900p,720p,540p,480p,360p,240p,144p", wantErr: "9 rungs, at most 8"},
		{spec: strings.Repeat("360p,", 100), wantErr: "at most 8"},
	}
	for _, c := range cases {
		got, err := ParseLadder(c.spec)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseLadder(%q) error = %v, want containing %q", c.spec, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLadder(%q): %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseLadder(%q) =\n %+v\nwant\n %+v", c.spec, got, c.want)
		}
	}
}

func TestDefaultLadder(t *testing.T) {
	d := DefaultLadder()
	got := rungNames(d)
	if got != "source,720p,480p,360p" || !d[0].Source || d[1].VideoBitrate != 2800000 || d[2].VideoBitrate != 1400000 || d[3].VideoBitrate != 800000 {
		t.Fatalf("DefaultLadder = %+v", d)
	}
	p, err := ParseLadder("source,720p,480p,360p")
	if err != nil || !reflect.DeepEqual(p, d) {
		t.Fatalf("ParseLadder of the default ladder = %+v, %v", p, err)
	}
}

func TestForSource(t *testing.T) {
	d := DefaultLadder()
	cases := []struct {
		height int
		want   string
	}{
		{1080, "source,720p,480p,360p"},
		{720, "source,720p,480p,360p"}, // same height kept: lower bitrate
		{719, "source,480p,360p"},
		{480, "source,480p,360p"},
		{360, "source,360p"},
		{240, "source"},
		{0, "source"},
		{-5, "source"},
	}
	for _, c := range cases {
		got := ForSource(d, c.height)
		if n := rungNames(got); n != c.want {
			t.Errorf("ForSource(default, %d) = %s, want %s", c.height, n, c.want)
		}
		if !got[0].Source || (c.height > 0 && got[0].Height != c.height) {
			t.Errorf("ForSource(default, %d): source rung %+v", c.height, got[0])
		}
	}
	// source missing from the input: added; input untouched
	in := []Rung{encodedRung(480, 0)}
	got := ForSource(in, 720)
	if rungNames(got) != "source,480p" || len(in) != 1 {
		t.Errorf("ForSource without source = %+v (input %+v)", got, in)
	}
	if d[0].Height != 0 {
		t.Errorf("ForSource modified its input: %+v", d[0])
	}
}

func TestFFmpegAvailable(t *testing.T) {
	if _, ok := FFmpegAvailable("/nonexistent/ffmpeg"); ok {
		t.Fatal("nonexistent ffmpeg reported available")
	}
}

func FuzzParseLadder(f *testing.F) {
	for _, s := range []string{"source,720p:2800k,480p:1400k,360p", "", "source,source", "1080p:6M", "360p:1e6", "480p:2.5M,240p:300000", "0p", "99999999999999999999p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		rungs, err := ParseLadder(spec)
		if err != nil {
			if rungs != nil {
				t.Fatalf("rungs with error")
			}
			if !strings.HasPrefix(err.Error(), "ladder: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if len(rungs) == 0 || len(rungs) > MaxRungs || !rungs[0].Source {
			t.Fatalf("bad ladder %+v", rungs)
		}
		seen := map[int]bool{}
		for i, r := range rungs[1:] {
			if r.Source || r.Height < MinHeight || r.Height > MaxHeight || r.Height%2 != 0 ||
				r.VideoBitrate < MinBitrate || r.VideoBitrate > MaxBitrate || seen[r.Height] {
				t.Fatalf("bad rung %d: %+v", i, r)
			}
			if i > 0 && r.Height >= rungs[i].Height {
				t.Fatalf("not sorted: %+v", rungs)
			}
			seen[r.Height] = true
		}
		// the canonical form parses to the same ladder
		var parts []string
		for _, r := range rungs {
			if r.Source {
				parts = append(parts, "source")
			} else {
				parts = append(parts, r.Name+":"+itoa(r.VideoBitrate))
			}
		}
		again, err := ParseLadder(strings.Join(parts, ","))
		if err != nil || !reflect.DeepEqual(again, rungs) {
			t.Fatalf("round trip of %+v: %+v, %v", rungs, again, err)
		}
	})
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	return string(b[n:])
}
