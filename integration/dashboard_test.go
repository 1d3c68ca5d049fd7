package integration

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
)

// TestDashboardShowsTheSwarm: the operator's dashboard at /_swarmtx/, in
// headless Chromium, lists a stream that four Go viewers watch through
// the swarm (three on the source, one on 360p), draws its charts and its
// swarm (a node per seeder and per viewer, coloured by rendition, links
// that carried bytes), and shows the numbers /metrics serves. From an
// address /metrics is closed to, the dashboard is closed as well.
func TestDashboardShowsTheSwarm(t *testing.T) {
	const viewers = 4
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source,360p"})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "854x480", VideoBitrate: 1000, Preset: "superfast"})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 2)
	for i := range viewers {
		joinSwarm(ctx, t, s, func(c *viewer.Config) {
			c.UploadCapBps = 1_000_000
			if i == viewers-1 {
				c.Rendition = "360p"
			}
		})
	}

	// MediaMTX's default: metrics, and so the dashboard, for this host only.
	peer := clientFrom(harness.NetnsPeer)
	far := fmt.Sprintf("http://%s:%d", harness.NetnsHost, s.httpPort)
	want := status(ctx, peer, far+"/metrics", "", "")
	for _, door := range []string{"/_swarmtx/", "/_swarmtx/api/streams", "/_swarmtx/api/stream?path=live/show"} {
		if got := status(ctx, peer, far+door, "", ""); got != want || got != http.StatusUnauthorized {
			t.Errorf("%s from %s: %d; /metrics: %d; want both 401", door, harness.NetnsPeer, got, want)
		}
	}

	tab := harness.StartTabs(t).Open(ctx, t, s.base()+"/_swarmtx/", harness.Login{})
	// The swarm forms: both seeders and every viewer drawn, and links that
	// carried bytes: from a seeder, and on.
	var pic struct {
		Listed                bool
		Charts, Lines         int
		Seeds, Viewers, Edges int
		Seeded                int // links from a seeder
		Caption               string
		Renditions            []string
		SourceViewers, Low    string
		Renders               int
		Status                string
	}
	const picture = `(() => {
		const q = (s) => document.querySelector(s), qa = (s) => [...document.querySelectorAll(s)];
		const cap = q('#swarm-caption');
		return {
			listed: !!q('#streams a[data-path="live/show"]') && (q('#stream-title') || {}).dataset?.path === 'live/show',
			charts: qa('svg.chart').length,
			lines: qa('svg.chart[data-chart="viewers"] path.line').length,
			seeds: qa('#swarm-svg .node[data-kind="seed"]').length,
			viewers: qa('#swarm-svg .node[data-kind="viewer"]').length,
			edges: qa('#swarm-svg .edge').length,
			seeded: qa('#swarm-svg .edge').filter((e) => qa('#swarm-svg .node[data-kind="seed"]').some((n) => n.dataset.id === e.dataset.from)).length,
			caption: cap ? cap.textContent : '',
			renditions: [...new Set(qa('#swarm-svg .node[data-kind="viewer"]').map((n) => n.getAttribute('fill')))],
			sourceViewers: (q('#renditions tr[data-rendition="source"] [data-k="rendition-viewers"]') || {}).textContent || '',
			low: (q('#renditions tr[data-rendition="360p"] [data-k="rendition-viewers"]') || {}).textContent || '',
			renders: Number(document.body.dataset.renders || 0),
			status: (q('#status') || {}).textContent || '',
		};
	})()`
	deadline := time.Now().Add(45 * time.Second)
	for {
		err := tab.Eval(ctx, picture, &pic)
		if err == nil && pic.Listed && pic.Charts == 6 && pic.Lines >= 1 && pic.Seeds == 2 && pic.Viewers == viewers &&
			pic.Edges >= 2 && pic.Seeded >= 1 && len(pic.Renditions) == 2 && pic.SourceViewers == "3" && pic.Low == "1" {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("the dashboard never showed the swarm: %+v (%v); page log %q", pic, err, tab.Log())
		}
		time.Sleep(time.Second)
	}
	t.Logf("dashboard: %d charts, swarm of %d seeders and %d viewers in %d colours, %d links: %s",
		pic.Charts, pic.Seeds, pic.Viewers, len(pic.Renditions), pic.Edges, pic.Caption)

	// Its numbers are /metrics': read between two scrapes, the page's
	// viewers equal them and its server bytes lie between them. The page
	// is read after two renders past the first scrape, so its figures were
	// fetched after it.
	m1 := scrape(ctx, t, s)
	var r0 int
	if err := tab.Eval(ctx, `Number(document.body.dataset.renders || 0)`, &r0); err != nil {
		t.Fatal(err)
	}
	var figures struct {
		Renders             int
		Viewers, ServerByte string
		Copies, P2P, Stalls string
		Text                string
	}
	for {
		if err := tab.Eval(ctx, `(() => {
			const v = (k) => (document.querySelector('[data-k="' + k + '"]') || {}).dataset?.v ?? '';
			return {renders: Number(document.body.dataset.renders || 0), viewers: v('viewers'), serverByte: v('server-bytes'),
				copies: v('copies'), p2p: v('p2p'), stalls: v('stalls'), text: document.querySelector('#tiles').innerText};
		})()`, &figures); err != nil {
			t.Fatal(err)
		}
		if figures.Renders >= r0+2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the dashboard stopped updating at render %d", figures.Renders)
		}
		time.Sleep(200 * time.Millisecond)
	}
	m2 := scrape(ctx, t, s)
	pageViewers, _ := strconv.Atoi(figures.Viewers)
	pageBytes, err := strconv.ParseFloat(figures.ServerByte, 64)
	if err != nil {
		t.Fatalf("server bytes on the page: %q", figures.ServerByte)
	}
	t.Logf("page: %d viewers, %.0f server bytes, copies %s, P2P %s, stalls %s; /metrics: %v..%v viewers, %.0f..%.0f bytes\n%s",
		pageViewers, pageBytes, figures.Copies, figures.P2P, figures.Stalls, m1.viewers, m2.viewers, m1.serverBytes, m2.serverBytes, figures.Text)
	if float64(pageViewers) != m1.viewers || float64(pageViewers) != m2.viewers || pageViewers != viewers {
		t.Errorf("the page shows %d viewers; /metrics %v then %v; %d joined", pageViewers, m1.viewers, m2.viewers, viewers)
	}
	if pageBytes < m1.serverBytes || pageBytes > m2.serverBytes || pageBytes == 0 {
		t.Errorf("the page shows %.0f server bytes, not between /metrics' %.0f and %.0f", pageBytes, m1.serverBytes, m2.serverBytes)
	}
	if p2p, err := strconv.ParseFloat(figures.P2P, 64); err != nil || p2p <= 0 || p2p > 1 {
		t.Errorf("P2P share on the page: %q", figures.P2P)
	}
}

// scraped are a stream's figures from one /metrics scrape.
type scraped struct{ viewers, serverBytes float64 }

// scrape reads live/show's viewers and server media bytes (all
// renditions, HTTP and seeding) from /metrics.
func scrape(ctx context.Context, t *testing.T, s *stack) scraped {
	t.Helper()
	code, body, err := get(ctx, s.base()+"/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	var sc scraped
	sc.viewers, _ = metricValue(body, `swarmtx_viewers{path="live/show"}`)
	for _, l := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(l, `swarmtx_server_bytes_total{path="live/show",`); ok {
			if i := strings.LastIndexByte(rest, ' '); i >= 0 {
				v, _ := strconv.ParseFloat(rest[i+1:], 64)
				sc.serverBytes += v
			}
		}
	}
	return sc
}
