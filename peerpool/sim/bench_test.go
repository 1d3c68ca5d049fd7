package sim

import (
	"context"
	"testing"
	"time"
)

// BenchmarkThousandViewers is the profile target for the simulator's own
// cost, in both regimes a swarm can be in: parts carried by the swarm (a
// long hold-back) and parts fetched over HTTP (the default one):
// go test -run '^$' -bench Thousand -cpuprofile cpu.out ./peerpool/sim
func BenchmarkThousandViewers(b *testing.B) {
	for _, c := range []struct {
		name     string
		holdBack int
	}{{"swarm", 8}, {"http", 3}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				r, err := Run(context.Background(), Config{Peers: 1000, Duration: 15 * time.Second, Seed: 1, HoldBack: c.holdBack})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(r.Events)/r.Wall.Seconds(), "events/s")
			}
		})
	}
}
