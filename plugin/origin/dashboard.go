package origin

import (
	"context"
	"net/http"

	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/plugin/dashboard"
)

// dashboardSource is the origin as its dashboard reads it: the bridge's
// streams, their series as /metrics has them, and their hubs' snapshots.
type dashboardSource struct{ o *Origin }

func (s dashboardSource) Streams(ctx context.Context) ([]dashboard.Stream, error) {
	st, err := s.o.media.Status(ctx)
	if err != nil {
		return nil, err
	}
	figures := s.o.metrics.ByStream()
	out := make([]dashboard.Stream, 0, len(st.Streams))
	for _, ss := range st.Streams {
		f, ok := figures[ss.Path]
		if !ok {
			f = s.o.metrics.Stream(ss.Path) // none yet: empty figures
		}
		out = append(out, dashboard.Stream{
			Path:          ss.Path,
			State:         string(ss.State),
			AttachedSince: ss.AttachedSince,
			Renditions:    ss.Renditions,
			Figures:       f,
		})
	}
	return out, nil
}

func (s dashboardSource) Swarm(path string) (signal.Snapshot, bool) {
	st := s.o.stream(path)
	if st == nil {
		return signal.Snapshot{}, false
	}
	return st.hub.Snapshot(), true
}

// gzipDashboard compresses the dashboard's page and answers for clients
// that accept gzip: a large swarm's picture is a few hundred kilobytes of
// JSON every 2 s per open dashboard, mostly repeated ids and keys.
func gzipDashboard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if r.Method != http.MethodGet || !acceptsGzip(r.Header) {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{heldWriter{ResponseWriter: w}}
		next.ServeHTTP(gw, r)
		gw.finish()
	})
}
