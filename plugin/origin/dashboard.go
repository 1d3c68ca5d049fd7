package origin

import (
	"context"

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
