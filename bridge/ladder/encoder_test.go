package ladder

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/swarmtx/swarmtx/bridge/media"
)

func requireFFmpeg(t *testing.T) string {
	t.Helper()
	p, ok := FFmpegAvailable("ffmpeg")
	if !ok {
		t.Skip("ffmpeg not installed")
	}
	return p
}

type srcAU struct {
	pts, dts int64
	au       [][]byte
	idr      bool
}

// makeSource encodes a test pattern with ffmpeg into MPEG-TS and demuxes it
// into access units with PTS/DTS, like the bridge gets them from RTMP.
func makeSource(t *testing.T, ffmpeg string, seconds string, encArgs ...string) []srcAU {
	t.Helper()
	out := filepath.Join(t.TempDir(), "src.ts")
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "2"}
	args = append(args, encArgs...)
	args = append(args, "-t", seconds, "-f", "mpegts", out)
	if b, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg source: %v: %s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &mpegts.Reader{R: bufio.NewReader(f)}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var aus []srcAU
	for _, tr := range r.Tracks() {
		if _, ok := tr.Codec.(*tscodecs.H264); ok {
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				aus = append(aus, srcAU{pts: pts, dts: dts, au: au, idr: h264.IsRandomAccess(au)})
				return nil
			})
		}
	}
	for {
		if err := r.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
	}
	if len(aus) == 0 || !aus[0].idr {
		t.Fatalf("bad source: %d AUs", len(aus))
	}
	return aus
}

type outSample struct {
	media.Sample
	recv time.Time
}

type collector struct {
	mu      sync.Mutex
	inits   map[string][3]int // width, height, calls
	codecs  map[string]*codecs.H264
	samples map[string][]outSample
}

func newCollector() *collector {
	return &collector{inits: map[string][3]int{}, codecs: map[string]*codecs.H264{}, samples: map[string][]outSample{}}
}

func (c *collector) config(ffmpeg string, rungs []Rung) Config {
	return Config{
		FFmpegPath: ffmpeg,
		Rungs:      rungs,
		// the machine may be loaded by other tests: let ffmpeg flush
		StopTimeout: 30 * time.Second,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		OnInit: func(r Rung, codec *codecs.H264, w, h int) {
			c.mu.Lock()
			defer c.mu.Unlock()
			v := c.inits[r.Name]
			c.inits[r.Name] = [3]int{w, h, v[2] + 1}
			c.codecs[r.Name] = codec
		},
		OnSample: func(r Rung, s media.Sample) {
			now := time.Now()
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.inits[r.Name][2] == 0 {
				panic("sample before init")
			}
			c.samples[r.Name] = append(c.samples[r.Name], outSample{s, now})
		},
	}
}

func TestEncoderEndToEnd(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	cases := []struct {
		name    string
		encArgs []string
		// rtmpMS rounds timestamps to milliseconds and starts DTS at 0, as
		// RTMP delivers them (frame durations alternate 2970/3060 ticks).
		rtmpMS bool
	}{
		{name: "obs-like", encArgs: []string{"-g", "60", "-keyint_min", "60", "-sc_threshold", "0"}},
		{name: "rtmp-ms-irregular-gop", rtmpMS: true, encArgs: []string{
			"-g", "1000", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*1.7)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := makeSource(t, ffmpeg, "8", tc.encArgs...)
			if tc.rtmpMS {
				d0 := src[0].dts
				for i := range src {
					ms := func(v int64) int64 { return ((v - d0) + 45) / 90 * 90 }
					src[i].pts, src[i].dts = ms(src[i].pts), ms(src[i].dts)
				}
			}
			runEndToEnd(t, ffmpeg, src)
		})
	}
}

func runEndToEnd(t *testing.T, ffmpeg string, src []srcAU) {
	rungs := []Rung{SourceRung(), encodedRung(480, 0), encodedRung(360, 0)}
	col := newCollector()
	// The source's SPS/PPS, as the RTMP sequence header gives them.
	var srcCodec codecs.H264
	for _, n := range src[0].au {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			srcCodec.SPS = n
		case h264.NALUTypePPS:
			srcCodec.PPS = n
		}
	}
	enc, err := Start(context.Background(), col.config(ffmpeg, rungs), &srcCodec)
	if err != nil {
		t.Fatal(err)
	}
	if n := rungNames(enc.Rungs()); n != "480p,360p" {
		t.Fatalf("encoded rungs %s", n)
	}

	// Feed in real time, paced by DTS, as a live source would arrive.
	written := map[int64]time.Time{}
	srcPTS := map[int64]bool{}
	srcKey := map[int64]bool{}
	start := time.Now()
	// parameter-set-only AU first, as gortmplib delivers it: must be skipped
	if err := enc.WriteH264(0, 0, [][]byte{srcCodec.SPS, srcCodec.PPS}); err != nil {
		t.Fatal(err)
	}
	for _, a := range src {
		due := start.Add(media.TicksToDuration(a.dts-src[0].dts, media.VideoClockRate))
		time.Sleep(time.Until(due))
		written[a.pts] = time.Now()
		srcPTS[a.pts] = true
		if a.idr {
			srcKey[a.pts] = true
		}
		if err := enc.WriteH264(a.pts, a.dts, a.au); err != nil {
			t.Fatal(err)
		}
	}
	feedEnd := time.Now()
	if err := enc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err, ok := <-enc.Err(); ok {
		t.Fatalf("Err() yielded %v after a clean close", err)
	}
	if enc.Dropped() != 0 {
		t.Errorf("%d AUs dropped", enc.Dropped())
	}
	ps := enc.cmd.ProcessState
	cpu := ps.UserTime() + ps.SystemTime()
	mediaDur := media.TicksToDuration(src[len(src)-1].dts-src[0].dts, media.VideoClockRate)
	t.Logf("source: %d AUs, %d keyframes, %.2f s; fed in %.2f s; Close took %v",
		len(src), len(srcKey), mediaDur.Seconds(), feedEnd.Sub(start).Seconds(), time.Since(feedEnd).Round(time.Millisecond))
	t.Logf("ffmpeg CPU: %.2f s user+sys for %.2f s of 720p30 -> 480p+360p = %.0f%% of one core",
		cpu.Seconds(), mediaDur.Seconds(), 100*cpu.Seconds()/mediaDur.Seconds())

	wantSize := map[string][2]int{"480p": {854, 480}, "360p": {640, 360}}
	for _, r := range enc.Rungs() {
		init := col.inits[r.Name]
		if init[2] != 1 || init[0] != wantSize[r.Name][0] || init[1] != wantSize[r.Name][1] {
			t.Errorf("%s: init %v, want %v once", r.Name, init, wantSize[r.Name])
		}
		var sps h264.SPS
		if err := sps.Unmarshal(col.codecs[r.Name].SPS); err != nil || sps.Height() != r.Height {
			t.Errorf("%s: SPS height %d err %v", r.Name, sps.Height(), err)
		}
		samples := col.samples[r.Name]
		outPTS := map[int64]bool{}
		var lat []time.Duration
		var missingKey, extraKey, extraPTS []int64
		for i, s := range samples {
			pts := s.PTS()
			if outPTS[pts] {
				t.Errorf("%s: PTS %d twice", r.Name, pts)
			}
			outPTS[pts] = true
			if i > 0 && s.DTS <= samples[i-1].DTS {
				t.Errorf("%s: sample %d DTS %d not after %d", r.Name, i, s.DTS, samples[i-1].DTS)
			}
			if !srcPTS[pts] {
				extraPTS = append(extraPTS, pts)
			}
			if s.IsSync && !srcKey[pts] {
				extraKey = append(extraKey, pts)
			}
			if w, ok := written[pts]; ok {
				lat = append(lat, s.recv.Sub(w))
			}
			if len(s.Payload) < 5 {
				t.Errorf("%s: sample %d payload %d bytes", r.Name, i, len(s.Payload))
			}
		}
		syncPTS := map[int64]bool{}
		for _, s := range samples {
			if s.IsSync {
				syncPTS[s.PTS()] = true
			}
		}
		for k := range srcKey {
			if !syncPTS[k] {
				missingKey = append(missingKey, k)
			}
		}
		var missingPTS []int64
		for p := range srcPTS {
			if !outPTS[p] {
				missingPTS = append(missingPTS, p)
			}
		}
		slices.Sort(missingKey)
		slices.Sort(missingPTS)
		if len(missingKey) > 0 {
			t.Errorf("%s: source keyframe PTS without a sync sample: %v", r.Name, missingKey)
		}
		if len(extraKey) > 0 {
			t.Errorf("%s: sync samples at non-keyframe source PTS: %v", r.Name, extraKey)
		}
		if len(missingPTS) > 0 || len(extraPTS) > 0 {
			t.Errorf("%s: PTS sets differ: %d missing %v, %d extra %v", r.Name, len(missingPTS), head(missingPTS), len(extraPTS), head(extraPTS))
		}
		if !samples[0].IsSync || samples[0].PTS() != src[0].pts {
			t.Errorf("%s: first sample PTS %d sync %v, want source's first keyframe PTS %d", r.Name, samples[0].PTS(), samples[0].IsSync, src[0].pts)
		}
		var bytes int
		for _, s := range samples {
			bytes += len(s.Payload)
		}
		kbps := float64(bytes) * 8 / mediaDur.Seconds() / 1000
		t.Logf("%s: %.0f kb/s for a %d kb/s target", r.Name, kbps, r.VideoBitrate/1000)
		if kbps > 1.5*float64(r.VideoBitrate)/1000 || kbps < 0.2*float64(r.VideoBitrate)/1000 {
			t.Errorf("%s: bitrate %.0f kb/s far from target %d kb/s", r.Name, kbps, r.VideoBitrate/1000)
		}
		checkDecodes(t, ffmpeg, r.Name, col.codecs[r.Name], samples)
		slices.Sort(lat)
		if len(lat) > 0 {
			t.Logf("%s: %d samples, %d sync; encode latency (write AU -> same-PTS sample) min %v median %v p95 %v max %v",
				r.Name, len(samples), len(syncPTS), lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond),
				lat[len(lat)*95/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
		}
	}
}

func head(v []int64) []int64 {
	if len(v) > 10 {
		return v[:10]
	}
	return v
}

// When ffmpeg cannot keep up, WriteH264 drops instead of blocking, and drops
// up to the next keyframe so the renditions stay decodable and aligned.
func TestEncoderDropsWhenBehind(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	src := makeSource(t, ffmpeg, "6", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0")
	col := newCollector()
	cfg := col.config(ffmpeg, []Rung{encodedRung(360, 0)})
	cfg.QueueLength = 4
	enc, err := Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srcKey := map[int64]bool{}
	srcPTS := map[int64]bool{}
	t0 := time.Now()
	for _, a := range src { // as fast as possible
		srcPTS[a.pts] = true
		if a.idr {
			srcKey[a.pts] = true
		}
		if err := enc.WriteH264(a.pts, a.dts, a.au); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("WriteH264 blocked: %d AUs took %v", len(src), d)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	samples := col.samples["360p"]
	t.Logf("%d AUs written at once, %d dropped, %d encoded", len(src), enc.Dropped(), len(samples))
	if enc.Dropped() == 0 {
		t.Errorf("nothing dropped with a queue of 4")
	}
	if int(enc.Dropped())+len(samples) != len(src) {
		t.Errorf("dropped %d + encoded %d != written %d", enc.Dropped(), len(samples), len(src))
	}
	for i, s := range samples {
		if !srcPTS[s.PTS()] {
			t.Errorf("sample %d: PTS %d not in source", i, s.PTS())
		}
		if s.IsSync != srcKey[s.PTS()] {
			t.Errorf("sample %d: PTS %d sync %v, source keyframe %v", i, s.PTS(), s.IsSync, srcKey[s.PTS()])
		}
	}
}

func TestStartErrors(t *testing.T) {
	_, err := Start(context.Background(), Config{FFmpegPath: "/nonexistent/ffmpeg", Rungs: DefaultLadder()}, nil)
	if err == nil || !strings.Contains(err.Error(), `ffmpeg not found at "/nonexistent/ffmpeg"`) {
		t.Errorf("bad path: %v", err)
	}
	_, err = Start(context.Background(), Config{Rungs: []Rung{SourceRung()}}, nil)
	if err == nil || !strings.Contains(err.Error(), "no rung to encode") {
		t.Errorf("source only: %v", err)
	}
	_, err = Start(context.Background(), Config{Rungs: []Rung{{Name: "x", Height: 481, VideoBitrate: 1e6}}}, nil)
	if err == nil || !strings.Contains(err.Error(), `rung "x": bad height 481`) {
		t.Errorf("odd height: %v", err)
	}
}

// An ffmpeg that exits on its own is reported on Err() with its last stderr
// lines, and WriteH264 fails from then on.
func TestFFmpegExitsReported(t *testing.T) {
	script := filepath.Join(t.TempDir(), "ffmpeg")
	err := os.WriteFile(script, []byte("#!/bin/sh\necho 'starting up' >&2\necho 'Unrecognized option: boom' >&2\nexit 3\n"), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := Start(context.Background(), Config{FFmpegPath: script, Rungs: []Rung{encodedRung(360, 0)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-enc.Err():
		t.Logf("Err(): %v", err)
		if err == nil || !strings.Contains(err.Error(), "ffmpeg exited unexpectedly (exit status 3); ffmpeg said: starting up | Unrecognized option: boom") {
			t.Errorf("Err() = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error on Err()")
	}
	if err := enc.WriteH264(0, 0, [][]byte{{0x65, 1}}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("WriteH264 after failure = %v", err)
	}
	if err := enc.Close(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Close after failure = %v", err)
	}
}

// A real ffmpeg killed mid-stream is reported on Err().
func TestFFmpegKilledReported(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	src := makeSource(t, ffmpeg, "2", "-g", "30")
	col := newCollector()
	enc, err := Start(context.Background(), col.config(ffmpeg, []Rung{encodedRung(240, 0)}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range src[:30] {
		if err := enc.WriteH264(a.pts, a.dts, a.au); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	enc.cmd.Process.Kill()
	select {
	case err := <-enc.Err():
		t.Logf("Err(): %v", err)
		if err == nil || !strings.Contains(err.Error(), "ffmpeg exited unexpectedly (signal: killed)") {
			t.Errorf("Err() = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error on Err()")
	}
	<-enc.Done()
}

// Cancelling the context stops the encoder cleanly.
func TestEncoderContextCancel(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	enc, err := Start(ctx, Config{FFmpegPath: ffmpeg, Rungs: []Rung{encodedRung(240, 0)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-enc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not stopped after cancel")
	}
	if err, ok := <-enc.Err(); ok {
		t.Errorf("Err() after cancel: %v", err)
	}
	if err := enc.WriteH264(0, 0, [][]byte{{0x65, 1}}); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteH264 after cancel = %v", err)
	}
}

// checkDecodes re-muxes a rung's samples into fMP4 and decodes them with
// ffmpeg -xerror: the payloads and parameter sets must make a valid stream.
func checkDecodes(t *testing.T, ffmpeg, name string, codec *codecs.H264, samples []outSample) {
	t.Helper()
	var b seekablebuffer.Buffer
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: media.VideoClockRate, Codec: codec}}}
	if err := init.Marshal(&b); err != nil {
		t.Fatal(err)
	}
	var file []byte
	file = append(file, b.Bytes()...)
	for i, s := range samples {
		dur := uint32(3000)
		if i+1 < len(samples) {
			dur = uint32(samples[i+1].DTS - s.DTS)
		}
		var pb seekablebuffer.Buffer
		p := fmp4.Part{SequenceNumber: uint32(i + 1), Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: uint64(s.DTS - samples[0].DTS),
			Samples: []*fmp4.Sample{{Duration: dur, PTSOffset: s.PTSOffset, IsNonSyncSample: !s.IsSync, Payload: s.Payload}}}}}
		if err := p.Marshal(&pb); err != nil {
			t.Fatal(err)
		}
		file = append(file, pb.Bytes()...)
	}
	path := filepath.Join(t.TempDir(), name+".mp4")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ffmpeg, "-v", "error", "-xerror", "-i", path, "-f", "framemd5", "-").CombinedOutput()
	if err != nil {
		t.Errorf("%s: rendition does not decode: %v: %s", name, err, out)
		return
	}
	frames := 0
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			frames++
		}
	}
	if frames != len(samples) {
		t.Errorf("%s: %d frames decoded from %d samples", name, frames, len(samples))
	}
}
