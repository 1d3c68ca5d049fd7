package ladder

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/swarmtx/swarmtx/bridge/media"
)

// Defaults of Config.
const (
	DefaultQueueLength = 150             // access units (5 s at 30 fps)
	DefaultStopTimeout = 3 * time.Second // grace period for ffmpeg to exit
	stderrTailLines    = 20
	// tsMargin is how far (90 kHz ticks) ahead of zero the first DTS is put on
	// ffmpeg's timeline, so every PTS/DTS and the PCR stay positive.
	tsMargin = 10 * media.VideoClockRate
	tsMax    = 1 << 33 // MPEG-TS timestamps are 33 bits
)

// ErrClosed is returned by WriteH264 after Close.
var ErrClosed = errors.New("ladder: encoder closed")

// Config configures an Encoder.
type Config struct {
	// FFmpegPath is the ffmpeg binary ("" means "ffmpeg" from PATH).
	FFmpegPath string
	// Rungs are the renditions to encode. Source rungs are skipped (they are
	// never sent to ffmpeg); at least one encoded rung is required.
	Rungs []Rung
	// Logger receives warnings and ffmpeg's stderr (debug). nil: slog.Default().
	Logger *slog.Logger
	// OnInit is called once per rung when its init segment is known, with the
	// rendition's H.264 parameters and its size in pixels.
	OnInit func(rung Rung, codec *codecs.H264, width, height int)
	// OnSample is called for every encoded access unit of a rung, in DTS
	// order. Timestamps are on the source's timeline (90 kHz), the PTS of
	// every sample equals the PTS of the source access unit it came from.
	// Payload is AVCC (4-byte lengths) and is not reused by the encoder.
	//
	// OnInit and OnSample run on the reader goroutine of their rung: calls
	// for one rung are sequential (OnInit first), calls for different rungs
	// are concurrent. A slow callback stalls that rung's output and, in the
	// end, ffmpeg.
	OnSample func(rung Rung, s media.Sample)
	// QueueLength bounds the number of access units waiting for ffmpeg.
	// When it is full, WriteH264 drops access units (counted, warned) until
	// the next keyframe instead of blocking. 0: DefaultQueueLength.
	QueueLength int
	// StopTimeout is how long Close waits for ffmpeg to flush and exit after
	// its input is closed before killing it. 0: DefaultStopTimeout.
	StopTimeout time.Duration
}

// Encoder is one running ffmpeg process transcoding one stream's video into
// the encoded rungs of the ladder.
type Encoder struct {
	cfg   Config
	rungs []Rung
	log   *slog.Logger
	cmd   *exec.Cmd
	stdin io.WriteCloser
	tail  *tailWriter

	mu       sync.Mutex // guards the fields below and sending on queue
	queue    chan tsAU
	closed   bool
	started  bool // first keyframe seen
	base     int64
	lastDTS  int64
	dropping bool
	sps, pps []byte

	dropped atomic.Int64

	stopOnce sync.Once
	stopCh   chan struct{} // closed to request a stop
	errOnce  sync.Once
	errVal   atomic.Pointer[error]
	errCh    chan error
	done     chan struct{} // closed when everything has stopped
}

type tsAU struct {
	pts, dts int64 // on ffmpeg's timeline
	au       [][]byte
	enqueued time.Time
}

// Start launches ffmpeg for the encoded rungs of cfg. source holds the source
// stream's SPS/PPS, injected before keyframes that lack them (may be nil when
// they are in band). The encoder stops when ctx is done or Close is called.
func Start(ctx context.Context, cfg Config, source *codecs.H264) (*Encoder, error) {
	var rungs []Rung
	for _, r := range cfg.Rungs {
		if r.Source {
			continue
		}
		if r.Height < MinHeight || r.Height > MaxHeight || r.Height%2 != 0 {
			return nil, fmt.Errorf("ladder: rung %q: bad height %d", r.Name, r.Height)
		}
		if r.VideoBitrate < MinBitrate || r.VideoBitrate > MaxBitrate {
			return nil, fmt.Errorf("ladder: rung %q: bad bitrate %d", r.Name, r.VideoBitrate)
		}
		rungs = append(rungs, r)
	}
	if len(rungs) == 0 {
		return nil, fmt.Errorf("ladder: no rung to encode")
	}
	path, ok := FFmpegAvailable(cfg.FFmpegPath)
	if !ok {
		return nil, fmt.Errorf("ladder: ffmpeg not found at %q", cfg.FFmpegPath)
	}
	if cfg.QueueLength <= 0 {
		cfg.QueueLength = DefaultQueueLength
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "ladder")

	e := &Encoder{
		cfg:    cfg,
		rungs:  rungs,
		log:    log,
		queue:  make(chan tsAU, cfg.QueueLength),
		stopCh: make(chan struct{}),
		errCh:  make(chan error, 1),
		done:   make(chan struct{}),
	}
	if source != nil {
		e.sps, e.pps = clone(source.SPS), clone(source.PPS)
	}

	readers := make([]*os.File, len(rungs))
	writers := make([]*os.File, len(rungs))
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			if f != nil {
				f.Close()
			}
		}
	}
	for i := range rungs {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(readers)
			closeAll(writers)
			return nil, fmt.Errorf("ladder: pipe: %w", err)
		}
		readers[i], writers[i] = r, w
	}

	e.cmd = exec.Command(path, FFmpegArgs(rungs)...)
	e.cmd.ExtraFiles = writers
	e.tail = newTailWriter(stderrTailLines, func(line string) { log.Debug("ffmpeg", "line", line) })
	e.cmd.Stderr = e.tail
	stdin, err := e.cmd.StdinPipe()
	if err != nil {
		closeAll(readers)
		closeAll(writers)
		return nil, fmt.Errorf("ladder: %w", err)
	}
	e.stdin = stdin
	if err := e.cmd.Start(); err != nil {
		closeAll(readers)
		closeAll(writers)
		return nil, fmt.Errorf("ladder: starting ffmpeg %s: %w", path, err)
	}
	closeAll(writers) // ffmpeg holds them now; EOF on our side when it exits
	log.Info("ffmpeg started", "pid", e.cmd.Process.Pid, "rungs", rungNames(rungs))

	var wg sync.WaitGroup
	wg.Add(len(rungs))
	for i, r := range rungs {
		go func() {
			defer wg.Done()
			defer readers[i].Close()
			if err := e.readRung(r, readers[i]); err != nil {
				e.fail(fmt.Errorf("ladder: rung %s: %w", r.Name, err))
				// keep draining so ffmpeg never blocks on this pipe
				io.Copy(io.Discard, readers[i])
			}
		}()
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		e.writeLoop()
	}()
	waitDone := make(chan error, 1)
	go func() { waitDone <- e.cmd.Wait() }()

	go func() {
		var waitErr error
		exited := false
		select {
		case waitErr = <-waitDone:
			exited = true
		case <-e.stopCh:
		case <-ctx.Done():
			e.requestStop()
		}
		if !exited {
			// Graceful: the writer closes stdin once the queue is drained,
			// ffmpeg flushes its encoders and exits.
			select {
			case waitErr = <-waitDone:
			case <-time.After(e.cfg.StopTimeout):
				e.log.Warn("ffmpeg did not exit in time, killing it", "timeout", e.cfg.StopTimeout)
				e.cmd.Process.Kill()
				waitErr = <-waitDone
			}
		}
		stopping := e.stopRequestedBeforeExit(exited)
		e.requestStop() // unblock the writer if ffmpeg exited on its own
		if !stopping {
			e.fail(fmt.Errorf("ladder: ffmpeg exited unexpectedly (%s)%s", exitString(waitErr), e.tail.Summary()))
		} else if waitErr != nil && e.err() == nil && !isKill(waitErr) {
			level := slog.LevelWarn
			if !e.wroteAny() {
				level = slog.LevelDebug // stopped before any input: ffmpeg complains
			}
			e.log.Log(context.Background(), level, "ffmpeg exited with an error while stopping", "err", waitErr, "stderr", e.tail.Summary())
		}
		<-writerDone
		wg.Wait()
		if n := e.dropped.Load(); n > 0 {
			e.log.Warn("access units dropped because ffmpeg fell behind", "total", n)
		}
		close(e.errCh)
		close(e.done)
	}()
	return e, nil
}

// stopRequestedBeforeExit reports whether a stop was requested before ffmpeg
// exited (exited tells whether it exited on its own while running).
func (e *Encoder) stopRequestedBeforeExit(exited bool) bool {
	if !exited {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// FFmpegArgs returns ffmpeg's arguments (without the program name) for the
// given encoded rungs: MPEG-TS video on stdin, rung i as fragmented MP4 on
// file descriptor 3+i.
func FFmpegArgs(rungs []Rung) []string {
	args := []string{
		"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		// start fast, do not buffer input
		// (no -fflags nobuffer: it discards the packets read while probing,
		// i.e. the whole first GOP)
		"-probesize", "32768", "-analyzeduration", "0",
		// frame-threaded decoding delays output by one frame per thread
		"-thread_type", "slice",
		// keep input timestamps: output PTS == input PTS
		"-copyts",
		"-f", "mpegts", "-i", "pipe:0",
	}
	var fc strings.Builder
	if len(rungs) == 1 {
		fmt.Fprintf(&fc, "[0:v]scale=-2:%d[v0]", rungs[0].Height)
	} else {
		fmt.Fprintf(&fc, "[0:v]split=%d", len(rungs))
		for i := range rungs {
			fmt.Fprintf(&fc, "[s%d]", i)
		}
		for i, r := range rungs {
			fmt.Fprintf(&fc, ";[s%d]scale=-2:%d[v%d]", i, r.Height, i)
		}
	}
	args = append(args, "-filter_complex", fc.String())
	for i, r := range rungs {
		b := strconv.Itoa(r.VideoBitrate)
		args = append(args,
			"-map", fmt.Sprintf("[v%d]", i),
			"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
			"-pix_fmt", "yuv420p",
			"-b:v", b, "-maxrate", b, "-bufsize", strconv.Itoa(2*r.VideoBitrate),
			// keyframes exactly where the source has them, and nowhere else
			"-force_key_frames", "source", "-g", "100000", "-sc_threshold", "0",
			// no frame-rate conversion, no timestamp rounding to a frame grid
			"-fps_mode", "passthrough", "-enc_time_base", "1:90000",
			"-f", "mp4",
			"-movflags", "empty_moov+default_base_moof+frag_every_frame+frag_discont",
			// with frag_discont: tfdt carries the real timestamps, not 0-based
			"-use_editlist", "0", "-avoid_negative_ts", "disabled",
			"-video_track_timescale", strconv.Itoa(media.VideoClockRate),
			"-flush_packets", "1",
			fmt.Sprintf("pipe:%d", 3+i),
		)
	}
	return args
}

// Rungs returns the rungs this encoder produces.
func (e *Encoder) Rungs() []Rung { return append([]Rung(nil), e.rungs...) }

// Dropped returns how many access units were dropped because ffmpeg fell
// behind. (Access units before the first keyframe are skipped, not counted.)
func (e *Encoder) Dropped() int64 { return e.dropped.Load() }

// Err returns a channel that yields the first fatal error (ffmpeg exited or
// crashed, with its last stderr lines; an unreadable rendition) and is closed
// once the encoder has fully stopped. After Close without a failure it is
// closed without yielding anything.
func (e *Encoder) Err() <-chan error { return e.errCh }

// Done is closed once ffmpeg has exited and every callback has returned.
func (e *Encoder) Done() <-chan struct{} { return e.done }

// WriteH264 queues one source access unit (Annex-B NALUs without start
// codes, as gortmplib delivers them) with its 90 kHz timestamps. It never
// blocks on ffmpeg: when the queue is full the access unit is dropped, and so
// is everything up to the next keyframe (a decoder cannot use P-frames whose
// references are gone). Access units before the first keyframe and
// parameter-set-only access units are skipped. DTS must increase; a publisher
// that restarts its timeline needs a new Encoder.
//
// It returns the encoder's error once it failed, ErrClosed after Close.
// The caller may reuse au after it returns.
func (e *Encoder) WriteH264(pts, dts int64, au [][]byte) error {
	if err := e.err(); err != nil {
		return err
	}
	idr, hasVCL, hasSPS, hasPPS := inspectAU(au)

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	// remember in-band parameter sets
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if !bytes.Equal(n, e.sps) {
				e.sps = clone(n)
			}
		case h264.NALUTypePPS:
			if !bytes.Equal(n, e.pps) {
				e.pps = clone(n)
			}
		}
	}
	if !hasVCL {
		return nil
	}
	if !e.started {
		if !idr {
			return nil
		}
		e.started = true
		e.base = dts - tsMargin
		e.lastDTS = dts - 1
	}
	if dts <= e.lastDTS {
		return fmt.Errorf("ladder: DTS %d not after previous %d; restart the encoder on a timeline reset", dts, e.lastDTS)
	}
	fpts, fdts := pts-e.base, dts-e.base
	if fdts < 0 || fpts < 0 || fpts >= tsMax || fdts >= tsMax {
		return fmt.Errorf("ladder: timestamp pts=%d dts=%d outside ffmpeg's 33-bit range (base %d); restart the encoder", pts, dts, e.base)
	}
	e.lastDTS = dts

	if e.dropping && !idr {
		e.dropped.Add(1)
		return nil
	}
	// copy: the caller may reuse its buffers; add parameter sets to keyframes
	// that lack them so ffmpeg can start decoding at any keyframe.
	size := 0
	for _, n := range au {
		size += len(n)
	}
	var prefix [][]byte
	if idr {
		if !hasSPS && e.sps != nil {
			prefix = append(prefix, e.sps)
			size += len(e.sps)
		}
		if !hasPPS && e.pps != nil {
			prefix = append(prefix, e.pps)
			size += len(e.pps)
		}
	}
	nalus := make([][]byte, 0, len(prefix)+len(au))
	if len(prefix) > 0 && len(au[0]) > 0 && h264.NALUType(au[0][0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
		// the access unit delimiter must stay first
		nalus = append(append(append(nalus, au[0]), prefix...), au[1:]...)
	} else {
		nalus = append(append(nalus, prefix...), au...)
	}
	buf := make([]byte, 0, size)
	out := make([][]byte, 0, len(nalus))
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		start := len(buf)
		buf = append(buf, n...)
		out = append(out, buf[start:len(buf):len(buf)])
	}
	select {
	case e.queue <- tsAU{pts: fpts, dts: fdts, au: out, enqueued: time.Now()}:
		if e.dropping {
			e.dropping = false
			e.log.Warn("ffmpeg caught up, encoding again from a keyframe", "dropped_total", e.dropped.Load())
		}
	default:
		e.dropped.Add(1)
		if !e.dropping {
			e.dropping = true
			e.log.Warn("ffmpeg falls behind, dropping access units until the next keyframe",
				"queue", cap(e.queue), "dropped_total", e.dropped.Load())
		}
	}
	return nil
}

// Close stops ffmpeg (letting it flush what it has, killing it after
// Config.StopTimeout), waits for it and for the callbacks to return, and
// releases the pipes. It returns the encoder's fatal error, if any. Safe to
// call more than once and concurrently.
func (e *Encoder) Close() error {
	e.requestStop()
	<-e.done
	return e.err()
}

func (e *Encoder) requestStop() {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		close(e.queue)
		e.mu.Unlock()
		close(e.stopCh)
	})
}

func (e *Encoder) fail(err error) {
	e.errOnce.Do(func() {
		e.errVal.Store(&err)
		e.errCh <- err
		e.log.Error("ladder encoder failed", "err", err)
		e.requestStop()
		// the process may still be running (a rung reader failed)
		if e.cmd.Process != nil {
			e.cmd.Process.Kill()
		}
	})
}

func (e *Encoder) wroteAny() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started
}

func (e *Encoder) err() error {
	if p := e.errVal.Load(); p != nil {
		return *p
	}
	return nil
}

// writeLoop muxes queued access units into MPEG-TS on ffmpeg's stdin. It
// closes stdin when the queue is closed, which makes ffmpeg flush and exit.
func (e *Encoder) writeLoop() {
	defer e.stdin.Close()
	bw := bufio.NewWriterSize(e.stdin, 256<<10)
	track := &mpegts.Track{Codec: &tscodecs.H264{}}
	w := &mpegts.Writer{W: bw, Tracks: []*mpegts.Track{track}}
	if err := w.Initialize(); err != nil {
		e.fail(fmt.Errorf("ladder: mpegts writer: %w", err))
		return
	}
	failed := false
	for a := range e.queue {
		if failed {
			continue // drain
		}
		err := w.WriteH264(track, a.pts, a.dts, a.au)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			failed = true
			// ffmpeg gone: the process waiter reports why, unless we stop.
			select {
			case <-e.stopCh:
			case <-time.After(e.cfg.StopTimeout):
				e.fail(fmt.Errorf("ladder: writing to ffmpeg: %w%s", err, e.tail.Summary()))
			}
		}
	}
}

// readRung reads one rung's fragmented MP4 and calls the callbacks. The
// reported timestamps are moved back onto the source's timeline.
func (e *Encoder) readRung(r Rung, f io.Reader) error {
	gotInit := false
	return readFragments(bufio.NewReaderSize(f, 64<<10),
		func(vi videoInit) error {
			if gotInit {
				return fmt.Errorf("second init segment")
			}
			gotInit = true
			e.log.Info("rung ready", "rung", r.Name, "width", vi.width, "height", vi.height)
			if e.cfg.OnInit != nil {
				e.cfg.OnInit(r, vi.codec, vi.width, vi.height)
			}
			return nil
		},
		func(s media.Sample) error {
			e.mu.Lock()
			base := e.base
			e.mu.Unlock()
			s.DTS += base
			if e.cfg.OnSample != nil {
				e.cfg.OnSample(r, s)
			}
			return nil
		})
}

// inspectAU classifies an access unit.
func inspectAU(au [][]byte) (idr, vcl, sps, pps bool) {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch typ := h264.NALUType(n[0] & 0x1f); typ {
		case h264.NALUTypeIDR:
			idr, vcl = true, true
		case h264.NALUTypeNonIDR, h264.NALUTypeDataPartitionA:
			vcl = true
		case h264.NALUTypeSPS:
			sps = true
		case h264.NALUTypePPS:
			pps = true
		}
	}
	return
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func rungNames(rs []Rung) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	return strings.Join(names, ",")
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func isKill(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && strings.Contains(ee.Error(), "killed")
}

// tailWriter keeps the last lines written to it (ffmpeg's stderr).
type tailWriter struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial []byte
	onLine  func(string)
}

func newTailWriter(max int, onLine func(string)) *tailWriter {
	return &tailWriter{max: max, onLine: onLine}
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(t.partial[:i]), "\r")
		t.partial = t.partial[i+1:]
		if line == "" {
			continue
		}
		if t.onLine != nil {
			t.onLine(line)
		}
		t.lines = append(t.lines, line)
		if len(t.lines) > t.max {
			t.lines = t.lines[len(t.lines)-t.max:]
		}
	}
	if len(t.partial) > 4096 { // a runaway line without newline
		t.partial = t.partial[len(t.partial)-4096:]
	}
	return len(p), nil
}

// Summary returns "; ffmpeg said: a | b | c" or "" when ffmpeg was silent.
func (t *tailWriter) Summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := append([]string(nil), t.lines...)
	if len(t.partial) > 0 {
		lines = append(lines, string(t.partial))
	}
	if len(lines) == 0 {
		return ""
	}
	return "; ffmpeg said: " + strings.Join(lines, " | ")
}
