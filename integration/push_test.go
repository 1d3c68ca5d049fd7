package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
)

// gortmpServerBinary builds examples/gortmp-server once per test run.
func gortmpServerBinary(t testing.TB) string { return goBinary(t, "../examples/gortmp-server") }

// gortmpServer is the example RTMP server running with its own swarmtx
// plugin, launched managed.
type gortmpServer struct {
	cmd      *exec.Cmd
	rtmpPort int
	stateDir string
	logPath  string
	// origin is a stack value for the plugin's origin, so the stack's
	// helpers (base, browserBase, Go viewers, browsers) reach it; there is
	// no MediaMTX.
	origin *stack
	exited chan struct{}
}

func startGortmpServer(t *testing.T) *gortmpServer {
	t.Helper()
	g := &gortmpServer{rtmpPort: harness.FreePort(t), exited: make(chan struct{})}
	g.origin = &stack{t: t, httpPort: harness.FreePort(t)}
	// The state directory holds a unix socket: keep its path short.
	dir, err := os.MkdirTemp("", "stx")
	if err != nil {
		t.Fatal(err)
	}
	g.stateDir = dir
	g.origin.stateDir = dir
	cfgPath := filepath.Join(dir, "swarmtx.yml")
	cfg := fmt.Sprintf("listen: \":%d\"\nstateDir: %s\nffmpeg: ffmpeg\nlogLevel: debug\n", g.origin.httpPort, dir)
	for _, key := range []string{"stunAddress", "iceUDPAddress", "iceTCPAddress"} {
		cfg += fmt.Sprintf("%s: \":%d\"\n", key, harness.FreePort(t))
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	g.logPath = filepath.Join(dir, "gortmp-server.log")
	logf, err := os.Create(g.logPath)
	if err != nil {
		t.Fatal(err)
	}
	g.cmd = exec.Command(gortmpServerBinary(t), "-listen", "127.0.0.1:"+strconv.Itoa(g.rtmpPort),
		"-swarmtx", swarmtxBinary(t), "-config", cfgPath)
	g.cmd.Stdout, g.cmd.Stderr = logf, logf
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	go func() { _ = g.cmd.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("gortmp-server log tail:\n%s", tail(g.log(), 4000))
			t.Logf("plugin log tail:\n%s", tail(g.origin.pluginLog(), 4000))
		}
		_ = os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	waitUntil(ctx, t, "the example server listens", func() (bool, string) {
		select {
		case <-g.exited:
			t.Fatalf("gortmp-server exited:\n%s", g.log())
		default:
		}
		return strings.Contains(g.log(), "RTMP ingest listening"), tail(g.log(), 2000)
	})
	return g
}

func (g *gortmpServer) log() string {
	b, _ := os.ReadFile(g.logPath)
	return string(b)
}

// stop ends the server as an operator does, with SIGINT.
func (g *gortmpServer) stop() {
	_ = g.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
}

// TestGoRTMPServerPush: the example RTMP server on go-rtmp takes an
// OBS-like publish and hands it to swarmtx in push mode, with the plugin
// launched managed. The ladder decodes; Go viewers and a Chromium player
// play through the swarm; a publisher of the wrong codec and one sending
// broken AMF are each ended with a clear error while the good stream goes
// on; stopping the server stops its plugin.
func TestGoRTMPServerPush(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	g := startGortmpServer(t)
	pluginPID := childWithArg(g.cmd.Process.Pid, "plugin")
	if pluginPID == 0 {
		t.Fatalf("the example server has no swarmtx plugin child")
	}
	if _, err := os.Stat(filepath.Join(g.stateDir, "plugin.json")); err == nil {
		t.Errorf("the managed plugin wrote a reattach file for hooks to find")
	}

	// OBS's profile, x264's adaptive B-frames included: there is no
	// MediaMTX in between to trip over them.
	harness.Publish(ctx, t, harness.PublishOptions{Port: g.rtmpPort, Path: "live/show", Size: "640x360", VideoBitrate: 1000, AdaptiveBFrames: true})
	base := g.origin.base()
	mv := waitMultivariant(ctx, t, base+"/live/show/index.m3u8", 2)
	if mv[0].Resolution == "" || !strings.Contains(mv[0].Codecs, "avc1.") || !strings.Contains(mv[0].Codecs, "mp4a.40.2") {
		t.Errorf("multivariant lacks resolution or codecs: %+v", mv)
	}

	// While the ladder is decoded, the two bad publishers come and go.
	var wg sync.WaitGroup
	errs := make(chan error, len(mv))
	for _, v := range mv {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := harness.DecodeCheck(ctx, base+"/live/show/"+v.URI, 6); err != nil {
				errs <- fmt.Errorf("rendition %s: %w", v.Name, err)
			}
		}()
	}
	// The newest segment of the source rendition, listed or in progress.
	newest := func() uint64 {
		_, body, _ := get(ctx, base+"/live/show/source.m3u8")
		pl := parseMedia(body)
		return pl.MediaSequence + uint64(len(pl.Segments))
	}
	before := newest()
	wrong := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15", "-t", "5", "-c:v", "flv1",
		"-f", "flv", fmt.Sprintf("rtmp://127.0.0.1:%d/live/wrong", g.rtmpPort))
	if out, err := wrong.CombinedOutput(); err == nil {
		t.Errorf("an FLV1 publisher was let publish for its whole 5 s:\n%s", out)
	}
	garbage := sendBrokenAMF(ctx, t, g.rtmpPort)
	waitUntil(ctx, t, "both bad publishers' errors in the server log", func() (bool, string) {
		log := g.log()
		return strings.Contains(log, "path=live/wrong error=\"its metadata announces Sorenson H.263 (FLV1) video; swarmtx takes H.264 (AVC)") &&
			strings.Contains(log, `"RTMP connection ended with an error" remote=`+garbage), tail(log, 3000)
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if after := newest(); after <= before {
		t.Errorf("live/show stopped advancing while the bad publishers came: newest segment %d, then %d", before, after)
	}
	for _, l := range strings.Split(g.log(), "\n") {
		if strings.Contains(l, "live/wrong") || strings.Contains(l, garbage) {
			t.Logf("server: %s", l)
		}
	}
	if strings.Contains(g.origin.pluginLog(), `"path":"live/wrong"`) {
		t.Errorf("the FLV1 publisher reached the plugin")
	}

	// Go viewers and a Chromium player watch through the swarm together.
	const viewers = 3
	var vs []*viewer.Viewer
	for range viewers {
		vs = append(vs, joinSwarm(ctx, t, g.origin, nil))
	}
	src := g.origin.browserBase() + "/live/show/index.m3u8"
	b := startSwarmBrowser(ctx, t, g.origin, "live/show", []string{src})
	player := b.Players[0]
	if err := player.WaitPlaying(ctx); err != nil {
		t.Fatalf("%v\nchromium log tail:\n%s", err, tail(swarmLog(b.Log()), 4000))
	}
	start, _ := player.Latest()
	const watch = 12 * time.Second
	time.Sleep(watch)
	end, _ := player.Latest()
	if adv := end.CurrentTime - start.CurrentTime; adv < 0.8*watch.Seconds() || len(end.Errors) > 0 {
		t.Errorf("Chromium player advanced %.1fs in %v, errors %q", adv, watch, end.Errors)
	} else {
		t.Logf("Chromium player: advanced %.1fs in %v, lag %.0f ms, extra %s", adv, watch, end.LagMs, end.Extra)
	}
	http, p2p := mediaBytes(vs)
	for i, v := range vs {
		st := v.Stats()
		t.Logf("Go viewer %d: playing %v, parts %d, stalls %d, lag %v, P2P %.0f%%", i, st.Playing, st.PartsPlayed, st.Stalls, st.Lag.Round(time.Millisecond), 100*st.P2PShare())
		if !st.Playing || st.PartsPlayed < int64(2*watch.Seconds())-4 {
			t.Errorf("Go viewer %d played %d parts", i, st.PartsPlayed)
		}
		if st.HTTPHashMismatches > 0 || st.PeerHashMismatches > 0 || st.Unverified > 0 {
			t.Errorf("Go viewer %d: bad or unverified parts", i)
		}
	}
	t.Logf("Go viewers: %d bytes over HTTP, %d from peers", http, p2p)
	if p2p == 0 {
		t.Errorf("no part went between the Go viewers: the swarm did not carry the pushed stream")
	}

	// The plugin belongs to the server: stopping the server stops it.
	g.stop()
	waitGone(pluginPID, 10*time.Second)
	if syscall.Kill(pluginPID, 0) == nil {
		t.Errorf("the managed plugin (pid %d) outlived the server that launched it", pluginPID)
	}
}

// sendBrokenAMF connects to an RTMP server as a publisher would, makes
// the handshake, then sends a connect command whose AMF0 body is broken
// (a number where the command object belongs). It returns its local
// address, which the server's log names.
func sendBrokenAMF(ctx context.Context, t *testing.T, port int) string {
	t.Helper()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	c1 := make([]byte, 1+1536)
	c1[0] = 3 // RTMP version
	if _, err := c.Write(c1); err != nil {
		t.Fatal(err)
	}
	s := make([]byte, 1+1536+1536)
	if _, err := io.ReadFull(c, s); err != nil {
		t.Fatalf("RTMP handshake: %v", err)
	}
	if _, err := c.Write(s[1 : 1+1536]); err != nil { // C2 echoes S1
		t.Fatal(err)
	}
	// AMF0: string "connect", number 1 (transaction), then a number where
	// the command object must be.
	var body bytes.Buffer
	body.Write([]byte{0x02, 0x00, 0x07})
	body.WriteString("connect")
	body.WriteByte(0x00)
	_ = binary.Write(&body, binary.BigEndian, float64(1))
	body.WriteByte(0x00)
	_ = binary.Write(&body, binary.BigEndian, float64(2))
	msg := []byte{0x03, 0, 0, 0} // chunk stream 3, type 0 header, timestamp 0
	msg = append(msg, byte(body.Len()>>16), byte(body.Len()>>8), byte(body.Len()))
	msg = append(msg, 20, 0, 0, 0, 0) // AMF0 command, message stream 0
	msg = append(msg, body.Bytes()...)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	// The server closes the connection.
	_, _ = io.Copy(io.Discard, c)
	return c.LocalAddr().String()
}
