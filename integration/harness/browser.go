package harness

import (
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed player.html
var playerHTML []byte

// BrowserOptions configures StartBrowser.
type BrowserOptions struct {
	// Srcs are the HLS URLs to play, one Player each. Headless Chromium
	// refuses several URLs on its command line ("Multiple targets are not
	// supported in headless mode"), so the players are iframes of one
	// launcher page: one renderer for all, which is also what makes four
	// players practical on two cores. Each iframe is its own document with
	// its own hls.js (and later its own peer connections). Call StartBrowser
	// again for players in separate browsers.
	Srcs []string
	// SetupJS is served as /setup.js before the player starts. It may define
	// window.swarmtxSetup(config, {id, src}) to change the hls.js config, and
	// window.swarmtxStats() whose result is reported as PlayerReport.Extra.
	SetupJS string
	// Host is the address the test page is served on; default NetnsHost in
	// the test namespace, else 127.0.0.1. Keep it on the same address as the
	// media so Chromium's local-network-access rules never get involved.
	Host string
	// Flags are extra Chromium flags.
	Flags []string
	// Netns runs Chromium in that network namespace, a /proc/<pid>/ns/net
	// path such as Home.Netns() of a NATBed. For a home, the page server
	// listens on the bed's origin address and the page is loaded through
	// OriginPublicAddr (Host, when set, names the address to load it from).
	Netns string
	// Nice, when above 0, runs Chromium at that lower CPU priority. On a
	// real server the viewers' browsers are elsewhere; a test that measures
	// the server's own work (the ladder's encoders) on a small machine
	// should not let the test's browser take the CPU that work needs.
	Nice int
	// PageTLS, when set, serves the test page over HTTPS with it. Chromium
	// must trust its certificate (a flag in Flags, such as
	// --ignore-certificate-errors-spki-list for a CA the test made).
	PageTLS *tls.Config
}

// PlayerReport is one snapshot a test page POSTs every 500 ms.
type PlayerReport struct {
	ID          string  `json:"id"`
	UnixMs      float64 `json:"unixMs"`      // browser clock, Date.now()
	SinceLoadMs float64 `json:"sinceLoadMs"` // since the page script started
	CurrentTime float64 `json:"currentTime"` // video.currentTime, s
	BufferedEnd float64 `json:"bufferedEnd"` // end of the buffered range at currentTime, s; -1 none
	Paused      bool    `json:"paused"`
	Ended       bool    `json:"ended"`
	ReadyState  int     `json:"readyState"`
	Playing     bool    `json:"playing"`   // a 'playing' event was seen
	StartupMs   float64 `json:"startupMs"` // page start to first 'playing'; -1 not yet
	Stalls      int     `json:"stalls"`    // 'waiting' events after playback started
	StallMs     float64 `json:"stallMs"`   // total stalled time, including an ongoing stall
	// Latency is hls.latency: seconds from the playhead to the live edge the
	// playlist advertises; -1 unknown.
	Latency float64 `json:"latency"`
	// LagMs is Date.now() - hls.playingDate: how far behind wall clock the
	// frame on screen is, per EXT-X-PROGRAM-DATE-TIME; -1 when the playlist
	// has no dates.
	LagMs             float64         `json:"lagMs"`
	Level             int             `json:"level"`  // hls.currentLevel
	Levels            int             `json:"levels"` // number of renditions
	Height            int             `json:"height"` // video.videoHeight
	BandwidthEstimate float64         `json:"bandwidthEstimate"`
	Errors            []string        `json:"errors"` // fatal hls.js errors, video and JS errors
	NonFatalErrors    int             `json:"nonFatalErrors"`
	LastNonFatal      string          `json:"lastNonFatal"`
	DroppedFrames     int             `json:"droppedFrames"`
	TotalFrames       int             `json:"totalFrames"`
	SecureContext     bool            `json:"secureContext"`   // window.isSecureContext: WebCrypto is there
	Extra             json.RawMessage `json:"extra,omitempty"` // window.swarmtxStats()
	Received          time.Time       `json:"-"`               // when the harness got it
}

// Player is one tab playing one HLS URL.
type Player struct {
	ID  string
	Src string
	URL string // the player page, loaded in an iframe of the launcher page

	mu      sync.Mutex
	reports []PlayerReport
	changed chan struct{} // closed and replaced on every report
}

// Browser is one headless Chromium with a tab per player.
type Browser struct {
	Players []*Player
	*chromium
}

// StartBrowser serves the test page, launches Chromium headless with one tab
// per opts.Srcs, and stops both on cleanup. No WebDriver: pages report back
// by POSTing JSON to the harness.
func StartBrowser(t testing.TB, opts BrowserOptions) *Browser {
	t.Helper()
	if len(opts.Srcs) == 0 {
		t.Fatal("StartBrowser: no Srcs")
	}
	hlsjs, err := HLSJSPath()
	if err != nil {
		t.Fatal(err)
	}
	host := opts.Host
	listen := bedListenHost(host)
	if host == "" {
		host = "127.0.0.1"
		if InNetns() {
			host = NetnsHost
		}
		listen = host
		if opts.Netns != "" {
			var ok bool
			if listen, host, ok = bedPageHosts(opts.Netns); !ok {
				t.Fatalf("StartBrowser: Netns %s is not a home of a NAT bed: set Host to an address it reaches", opts.Netns)
			}
		}
	}

	b := &Browser{}
	players := map[string]*Player{}
	ln, err := net.Listen("tcp", net.JoinHostPort(listen, "0"))
	if err != nil {
		t.Fatalf("StartBrowser: listen: %v", err)
	}
	scheme := "http"
	if opts.PageTLS != nil {
		scheme = "https"
		ln = tls.NewListener(ln, opts.PageTLS)
	}
	base := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	for i, src := range opts.Srcs {
		id := strconv.Itoa(i)
		p := &Player{ID: id, Src: src, changed: make(chan struct{}),
			URL: base + "/player?id=" + id + "&src=" + url.QueryEscape(src)}
		players[id] = p
		b.Players = append(b.Players, p)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, launcherHTML(b.Players))
	})
	mux.HandleFunc("GET /player", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(playerHTML)
	})
	mux.HandleFunc("GET /hls.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, hlsjs)
	})
	mux.HandleFunc("GET /setup.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, opts.SetupJS)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		p := players[r.URL.Query().Get("id")]
		var rep PlayerReport
		if p == nil || json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&rep) != nil {
			http.Error(w, "bad report", http.StatusBadRequest)
			return
		}
		rep.Received = time.Now()
		p.add(rep)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// Big enough that every player iframe is on screen: Chromium may
	// throttle frames that are not.
	flags := append([]string{"--window-size=1400,1000"}, opts.Flags...)
	b.chromium = startChromiumIn(t, opts.Netns, opts.Nice, append(flags, base+"/")...)
	t.Logf("chromium: %d tab(s), page server %s, log %s", len(b.Players), base, b.LogPath)
	return b
}

// Stop closes Chromium now (it is also closed on cleanup).
func (b *Browser) Stop() { b.stop() }

func (p *Player) add(r PlayerReport) {
	p.mu.Lock()
	p.reports = append(p.reports, r)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// Reports returns a copy of all reports so far, oldest first.
func (p *Player) Reports() []PlayerReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PlayerReport(nil), p.reports...)
}

// Latest returns the newest report; ok is false before the first one.
func (p *Player) Latest() (r PlayerReport, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reports) == 0 {
		return r, false
	}
	return p.reports[len(p.reports)-1], true
}

// WaitFor waits until a new report satisfies cond, or ctx ends.
func (p *Player) WaitFor(ctx context.Context, cond func(PlayerReport) bool) (PlayerReport, error) {
	for {
		p.mu.Lock()
		ch := p.changed
		var last PlayerReport
		have := len(p.reports) > 0
		if have {
			last = p.reports[len(p.reports)-1]
		}
		p.mu.Unlock()
		if have && cond(last) {
			return last, nil
		}
		select {
		case <-ctx.Done():
			if !have {
				return last, fmt.Errorf("player %s (%s): no report from the page: %w", p.ID, p.Src, ctx.Err())
			}
			return last, fmt.Errorf("player %s (%s): %w; last report: %s", p.ID, p.Src, ctx.Err(), last)
		case <-ch:
		}
	}
}

// ErrFatal is returned by WaitPlaying when the page reported a fatal error.
var ErrFatal = errors.New("player reported a fatal error")

// WaitPlaying waits until playback has started and the playhead moved, and
// fails early if the page reports a fatal error.
func (p *Player) WaitPlaying(ctx context.Context) error {
	r, err := p.WaitFor(ctx, func(r PlayerReport) bool {
		return len(r.Errors) > 0 || (r.Playing && r.CurrentTime > 0 && !r.Paused)
	})
	if err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("player %s (%s): %w: %s", p.ID, p.Src, ErrFatal, strings.Join(r.Errors, "; "))
	}
	return nil
}

// String summarises a report for logs.
func (r PlayerReport) String() string {
	return fmt.Sprintf("t=%.2fs buf=%.2fs playing=%v paused=%v ready=%d stalls=%d (%.0fms) latency=%.2fs lag=%.0fms level=%d/%d h=%d dropped=%d/%d errors=%q nonfatal=%d %s",
		r.CurrentTime, r.BufferedEnd, r.Playing, r.Paused, r.ReadyState, r.Stalls, r.StallMs,
		r.Latency, r.LagMs, r.Level, r.Levels, r.Height, r.DroppedFrames, r.TotalFrames,
		r.Errors, r.NonFatalErrors, r.LastNonFatal)
}

func lookChromium() string {
	for _, n := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// launcherHTML lays the player iframes out in a grid, all visible.
func launcherHTML(players []*Player) string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>swarmtx players</title>
<style>body{margin:0;display:flex;flex-wrap:wrap}iframe{width:330px;height:190px;border:0}</style>
</head><body>
`)
	for _, p := range players {
		fmt.Fprintf(&b, "<iframe allow=\"autoplay\" src=\"%s\"></iframe>\n", html.EscapeString(p.URL))
	}
	b.WriteString("</body></html>\n")
	return b.String()
}
