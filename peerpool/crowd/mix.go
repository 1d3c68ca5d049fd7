package crowd

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Share is the fraction of a crowd whose viewers upload at most Upload
// times the rendition's bit rate (0: they upload nothing, as a viewer who
// opted out).
type Share struct {
	Fraction float64
	Upload   float64
}

// Mix is how a crowd's upload capacity is spread: home uplinks are
// uneven, and a swarm is only as good as what its viewers can give back.
type Mix []Share

// DefaultMix is a realistic spread of home uplinks: a third of the viewers
// cannot give back what they watch, most can give twice, a few much more.
var DefaultMix = Mix{{0.3, 0.5}, {0.5, 2}, {0.2, 5}}

// Upload caps are multiples of the bit rate; above this a cap means
// nothing on any link a viewer has.
const maxUpload = 100

// maxShares bounds the entries of a mix given on a command line.
const maxShares = 32

// ParseMix reads a mix such as "30%:0.5x,50%:2x,20%:5x": percentages of
// the viewers and their upload in multiples of the bit rate, the
// percentages adding up to 100. "1x" alone means every viewer uploads
// once the bit rate.
func ParseMix(s string) (Mix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("upload mix is empty")
	}
	if !strings.ContainsAny(s, ",:%") {
		s = "100%:" + s
	}
	var m Mix
	total := 0.0
	for _, entry := range strings.Split(s, ",") {
		if len(m) == maxShares {
			return nil, fmt.Errorf("upload mix %q has more than %d entries", short(s), maxShares)
		}
		entry = strings.TrimSpace(entry)
		pct, up, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("upload mix entry %q is not <percent>%%:<upload>x, e.g. 30%%:0.5x", short(entry))
		}
		p, err := number(strings.TrimSuffix(strings.TrimSpace(pct), "%"))
		if err != nil || p <= 0 || p > 100 {
			return nil, fmt.Errorf("upload mix entry %q: share %q is not a percentage in (0, 100]", short(entry), short(pct))
		}
		u, err := number(strings.TrimSuffix(strings.TrimSpace(up), "x"))
		if err != nil || u < 0 || u > maxUpload {
			return nil, fmt.Errorf("upload mix entry %q: upload %q is not a multiple of the bit rate in [0, %d]", short(entry), short(up), maxUpload)
		}
		total += p
		m = append(m, Share{Fraction: p / 100, Upload: u})
	}
	if math.Abs(total-100) > 0.01 {
		return nil, fmt.Errorf("upload mix %q: shares add up to %g%%, not 100%%", short(s), total)
	}
	return m, nil
}

func number(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a number")
	}
	return f, nil
}

func short(s string) string {
	if len(s) > 40 {
		return wire.Truncate(s, 40) + "…"
	}
	return s
}

// String renders m as ParseMix reads it.
func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, s := range m {
		parts[i] = strconv.FormatFloat(100*s.Fraction, 'f', -1, 64) + "%:" + strconv.FormatFloat(s.Upload, 'f', -1, 64) + "x"
	}
	return strings.Join(parts, ",")
}

// Mean is the crowd's average upload in multiples of the bit rate.
func (m Mix) Mean() float64 {
	sum := 0.0
	for _, s := range m {
		sum += s.Fraction * s.Upload
	}
	return sum
}

// Uploads gives n viewers their uploads: each share gets its fraction of
// n, rounded so the counts add up to n (largest remainders first), and the
// shares are interleaved so that a crowd that has only partly joined
// already has the mix.
func (m Mix) Uploads(n int) []float64 {
	if n <= 0 || len(m) == 0 {
		return nil
	}
	counts := make([]int, len(m))
	type rem struct {
		i    int
		frac float64
	}
	rems := make([]rem, len(m))
	given := 0
	for i, s := range m {
		exact := s.Fraction * float64(n)
		counts[i] = int(exact)
		given += counts[i]
		rems[i] = rem{i, exact - float64(counts[i])}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].frac > rems[b].frac })
	for k := 0; given < n; k++ {
		counts[rems[k%len(rems)].i]++
		given++
	}
	// Interleave: viewer j takes the share furthest behind its quota.
	out := make([]float64, 0, n)
	placed := make([]int, len(m))
	for j := range n {
		best, bestLag := -1, math.Inf(-1)
		for i := range m {
			if placed[i] == counts[i] {
				continue
			}
			lag := float64(j+1)*float64(counts[i])/float64(n) - float64(placed[i])
			if lag > bestLag {
				best, bestLag = i, lag
			}
		}
		placed[best]++
		out = append(out, m[best].Upload)
	}
	return out
}
