package crowd

import (
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix("30%:0.5x, 50%:2x,20%:5x")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m[0] != (Share{0.3, 0.5}) || m[2] != (Share{0.2, 5}) {
		t.Fatalf("got %+v", m)
	}
	if got := m.String(); got != DefaultMix.String() || got != "30%:0.5x,50%:2x,20%:5x" {
		t.Fatalf("String = %q", got)
	}
	if u, err := ParseMix("2x"); err != nil || len(u) != 1 || u[0] != (Share{1, 2}) {
		t.Fatalf(`ParseMix("2x") = %+v, %v`, u, err)
	}
}

func TestParseMixRejects(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "empty",
		"50%:1x":                               "add up to 50%",
		"50%:1x,60%:1x":                        "add up to 110%",
		"abc":                                  "not a multiple",
		"100%":                                 "not <percent>%:<upload>x",
		"0%:1x,100%:1x":                        "not a percentage",
		"100%:-1x":                             "not a multiple",
		"100%:1000x":                           "not a multiple",
		"100%:NaNx":                            "not a multiple",
		"x%:1x":                                "not a percentage",
		strings.Repeat("1%:1x,", 40) + "1%:1x": "more than 32",
	} {
		_, err := ParseMix(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMix(%q) = %v, want an error containing %q", short(in), err, want)
		}
	}
}

func TestUploadsKeepTheMix(t *testing.T) {
	for _, n := range []int{1, 7, 10, 30, 101} {
		ups := DefaultMix.Uploads(n)
		if len(ups) != n {
			t.Fatalf("n=%d: %d uploads", n, len(ups))
		}
		count := map[float64]int{}
		for _, u := range ups {
			count[u]++
		}
		for _, s := range DefaultMix {
			want := s.Fraction * float64(n)
			if d := float64(count[s.Upload]) - want; d > 1 || d < -1 {
				t.Errorf("n=%d: %d viewers at %gx, want about %.1f", n, count[s.Upload], s.Upload, want)
			}
		}
	}
	// The first ten of thirty already have the mix.
	first := DefaultMix.Uploads(30)[:10]
	count := map[float64]int{}
	for _, u := range first {
		count[u]++
	}
	if count[0.5] != 3 || count[2] != 5 || count[5] != 2 {
		t.Fatalf("first ten of thirty: %v", count)
	}
}

func FuzzParseMix(f *testing.F) {
	f.Add("30%:0.5x,50%:2x,20%:5x")
	f.Add("1x")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			return
		}
		total := 0.0
		for _, sh := range m {
			if sh.Fraction <= 0 || sh.Fraction > 1 || sh.Upload < 0 || sh.Upload > maxUpload {
				t.Fatalf("%q gave share %+v", s, sh)
			}
			total += sh.Fraction
		}
		if total < 0.9999 || total > 1.0001 {
			t.Fatalf("%q: fractions add up to %g", s, total)
		}
		if got := len(m.Uploads(17)); got != 17 {
			t.Fatalf("%q: Uploads(17) gave %d", s, got)
		}
	})
}
