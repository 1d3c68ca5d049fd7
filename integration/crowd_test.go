package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
)

// testCrowdBehindOneNAT: the per-network limits must not shut out viewers
// who share one address (an office, a campus, a carrier-grade NAT). Twelve
// Go viewers on one network watch a stream, and then twelve on networks of
// their own, for 30 s each on the same stack. The crowd must all play,
// nearly all from the swarm, and cost at most a couple of copies more than
// the same viewers spread over twelve networks. The figures of both go to
// the log (README: "Hostile viewers").
func testCrowdBehindOneNAT(t *testing.T) {
	const viewers = 12
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)
	type result struct {
		copies, share float64
		stalls        int
		stallTime     time.Duration
	}
	run := func(name string, header func() http.Header) result {
		var vs []*viewer.Viewer
		for range viewers {
			h := header()
			vs = append(vs, joinSwarm(ctx, t, s, func(c *viewer.Config) { c.SignalHeader = h }))
		}
		sleepCtx(ctx, t, 10*time.Second) // the crowd's later sessions are on probation until proven
		before := serverCopies(ctx, t, s.base())
		start := make([]viewer.Stats, len(vs))
		for i, v := range vs {
			start[i] = v.Stats()
		}
		sleepCtx(ctx, t, 30*time.Second)
		after := serverCopies(ctx, t, s.base())
		var r result
		var httpBytes, p2pBytes int64
		for i, v := range vs {
			st := v.Stats()
			httpBytes += st.HTTPBytes - start[i].HTTPBytes
			p2pBytes += st.P2PBytes - start[i].P2PBytes
			r.stalls += st.Stalls - start[i].Stalls
			r.stallTime += st.StallTime - start[i].StallTime
			if !st.Playing || st.PartsPlayed-start[i].PartsPlayed < 40 {
				t.Errorf("%s: viewer %d played %d parts in 30 s", name, i, st.PartsPlayed-start[i].PartsPlayed)
			}
			if err := v.Err(); err != nil {
				t.Errorf("%s: viewer %d stopped: %v", name, i, err)
			}
		}
		for _, v := range vs {
			v.Close()
		}
		r.copies = (after.served - before.served) / (after.made - before.made)
		r.share = float64(p2pBytes) / float64(max(httpBytes+p2pBytes, 1))
		t.Logf("%s: %d viewers, 30 s: %.2f server copies, P2P %.0f%%, %d stalls (%v)", name, viewers, r.copies, 100*r.share, r.stalls, r.stallTime.Round(time.Millisecond))
		return r
	}
	nat := http.Header{"X-Forwarded-For": {"198.19.200.1"}}
	crowd := run("one network", func() http.Header { return nat })
	sleepCtx(ctx, t, 5*time.Second) // the crowd's sessions leave the mesh
	spread := run("a network each", harness.HomeHeader)
	if crowd.share < 0.8 {
		t.Errorf("the crowd behind one address got %.0f%% from the swarm", 100*crowd.share)
	}
	if crowd.copies > spread.copies+2 {
		t.Errorf("the crowd behind one address cost %.2f copies against %.2f spread out", crowd.copies, spread.copies)
	}
}
