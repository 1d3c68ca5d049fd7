package sim

import (
	"context"
	"testing"
	"time"
)

// BenchmarkThousandViewers is the profile target for the simulator's own
// cost: go test -bench Thousand -cpuprofile cpu.out ./peerpool/sim
func BenchmarkThousandViewers(b *testing.B) {
	for range b.N {
		r, err := Run(context.Background(), Config{Peers: 1000, Duration: 15 * time.Second, Seed: 1, HoldBack: 8})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Events)/r.Wall.Seconds(), "events/s")
	}
}
