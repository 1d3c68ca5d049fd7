package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PublishOptions configures Publish. Zero values give what a default OBS
// profile sends: 1280x720 30 fps H.264 (B-frames, 2 s GOP, 2500 kb/s) and
// 48 kHz stereo AAC at 128 kb/s, over RTMP.
type PublishOptions struct {
	// Protocol is "rtmp" (default) or "srt".
	Protocol string
	// Host defaults to 127.0.0.1; Port is MediaMTX's RTMP or SRT port.
	Host string
	Port int
	// Path is the stream path, e.g. "live/test".
	Path string
	// Codec is "h264" (default, libx264) or "h265" (libx265; SRT only since
	// ffmpeg 5.1's FLV muxer has no HEVC), for unsupported-codec tests.
	Codec string
	// Size is WxH, default 1280x720; FPS defaults to 30.
	Size string
	FPS  int
	// VideoBitrate in kb/s, default 2500.
	VideoBitrate int
	// NoAudio drops the AAC track.
	NoAudio bool
	// Duration stops the publish by itself after that long (0: until Stop).
	Duration time.Duration
	// AdaptiveBFrames lets x264 vary the number of consecutive B-frames
	// (b-adapt, the x264/OBS default). Off by default because MediaMTX
	// v1.15.3's DTS extractor fails on such streams: RTMP readers are closed
	// with "DTS is greater than PTS" and the HLS muxer is destroyed after a
	// few seconds (upstream issues #5207, #5209, #5226). With it off the
	// stream still has 2 B-frames per GOP step (b-adapt=0), so PTS != DTS is
	// exercised. Turn it on to reproduce the upstream failure.
	AdaptiveBFrames bool
	// Preset is x264's preset, default veryfast (OBS's). superfast keeps
	// B-frames and costs less CPU, for tests that also decode in browsers.
	Preset string
}

// Publisher is a running ffmpeg publish.
type Publisher struct {
	LogPath      string
	ProgressPath string // ffmpeg -progress output, for Speed
	URL          string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Publish starts ffmpeg publishing a synthetic test stream. It runs until
// ctx ends, Stop is called, Duration elapses, or the test cleans up.
func Publish(ctx context.Context, t testing.TB, o PublishOptions) *Publisher {
	t.Helper()
	if o.Protocol == "" {
		o.Protocol = "rtmp"
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Codec == "" {
		o.Codec = "h264"
	}
	if o.Size == "" {
		o.Size = "1280x720"
	}
	if o.FPS == 0 {
		o.FPS = 30
	}
	if o.VideoBitrate == 0 {
		o.VideoBitrate = 2500
	}
	if o.Port == 0 || o.Path == "" {
		t.Fatalf("Publish: Port and Path are required")
	}

	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning",
		"-progress", "pipe:1", "-stats_period", "1",
		// -re paces input at real time like a live encoder.
		"-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", o.Size, o.FPS)}
	if !o.NoAudio {
		args = append(args, "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	if o.Duration > 0 {
		args = append(args, "-t", strconv.FormatFloat(o.Duration.Seconds(), 'f', 3, 64))
	}
	gop := strconv.Itoa(2 * o.FPS)
	br := strconv.Itoa(o.VideoBitrate) + "k"
	switch o.Codec {
	case "h264":
		// yuv420p: testsrc2 would otherwise give High 4:4:4, which browsers
		// cannot play.
		preset := o.Preset
		if preset == "" {
			preset = "veryfast"
		}
		args = append(args, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", preset,
			"-bf", "2", "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
			"-b:v", br, "-maxrate", br, "-bufsize", strconv.Itoa(2*o.VideoBitrate)+"k")
		if !o.AdaptiveBFrames {
			args = append(args, "-x264-params", "b-adapt=0")
		}
	case "h265":
		if o.Protocol != "srt" {
			t.Fatalf("Publish: h265 needs Protocol srt (ffmpeg's FLV muxer has no HEVC)")
		}
		args = append(args, "-c:v", "libx265", "-pix_fmt", "yuv420p", "-preset", "ultrafast",
			"-g", gop, "-keyint_min", gop, "-b:v", br, "-x265-params", "log-level=error:scenecut=0")
	default:
		t.Fatalf("Publish: unknown codec %q", o.Codec)
	}
	if !o.NoAudio {
		args = append(args, "-c:a", "aac", "-ar", "48000", "-ac", "2", "-b:a", "128k")
	}
	var url string
	switch o.Protocol {
	case "rtmp":
		url = fmt.Sprintf("rtmp://%s:%d/%s", o.Host, o.Port, o.Path)
		args = append(args, "-f", "flv", url)
	case "srt":
		url = fmt.Sprintf("srt://%s:%d?streamid=publish:%s&pkt_size=1316", o.Host, o.Port, o.Path)
		args = append(args, "-f", "mpegts", url)
	default:
		t.Fatalf("Publish: unknown protocol %q", o.Protocol)
	}

	dir := t.TempDir()
	p := &Publisher{
		LogPath:      filepath.Join(dir, "ffmpeg-publish.log"),
		ProgressPath: filepath.Join(dir, "ffmpeg-progress.txt"),
		URL:          url,
		done:         make(chan struct{}),
	}
	logf, err := os.Create(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	progf, err := os.Create(p.ProgressPath)
	if err != nil {
		t.Fatal(err)
	}
	defer progf.Close()
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	cmd.Stdout, cmd.Stderr = progf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// SIGINT makes ffmpeg finish the stream cleanly, like OBS's "Stop
	// Streaming"; WaitDelay kills it if it hangs.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	p.cmd = cmd
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Stop)
	t.Logf("publishing %s %s to %s (log %s)", o.Codec, o.Size, url, p.LogPath)
	return p
}

// Stop ends the publish: SIGINT, then SIGKILL after 5 s. Safe to call twice.
func (p *Publisher) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Wait waits for ffmpeg to exit and returns its error, with the log tail.
func (p *Publisher) Wait() error {
	<-p.done
	if p.err != nil {
		return fmt.Errorf("ffmpeg publish %s: %w\n%s", p.URL, p.err, tail(p.Log(), 2000))
	}
	return nil
}

// Done is closed when ffmpeg has exited.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Log returns ffmpeg's output so far.
func (p *Publisher) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Speed is ffmpeg's last reported encoding speed (1.0 = real time; 0 before
// the first report). Below 1 the machine cannot keep up: the stream falls
// behind wall clock and lag measurements include that deficit.
func (p *Publisher) Speed() float64 {
	b, _ := os.ReadFile(p.ProgressPath)
	s := string(b)
	i := strings.LastIndex(s, "speed=")
	if i < 0 {
		return 0
	}
	v, _, _ := strings.Cut(s[i+len("speed="):], "\n")
	f, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "x"), 64)
	return f
}
