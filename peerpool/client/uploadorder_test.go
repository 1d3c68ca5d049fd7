package client

import (
	"os/exec"
	"testing"
)

// uploadCase is one scenario for test/uploadorder_check.js.
type uploadCase struct {
	Name     string       `json:"name"`
	CapBps   int          `json:"capBps"`
	MaxFrame int          `json:"maxFrame"`
	Size     int          `json:"size"` // bytes of every part
	Wants    []uploadWant `json:"wants"`
	// Order is the order the WANTs must finish in (indexes into Wants),
	// the first within FirstWithinMs of the start.
	Order         []int `json:"order"`
	FirstWithinMs int   `json:"firstWithinMs"`
}

type uploadWant struct {
	From string `json:"from"`
	Part struct {
		MSN uint64 `json:"msn"`
		I   int    `json:"i"`
	} `json:"part"`
	After int `json:"after"` // ms after the start
}

func want(from string, msn uint64, i, after int) uploadWant {
	w := uploadWant{From: from, After: after}
	w.Part.MSN, w.Part.I = msn, i
	return w
}

// TestJSUploadOrder checks that a capped browser viewer uploads like the Go
// peer: one copy at a time (two 40 KB copies at 200 KB/s: the first done
// after one copy's time, not both at the end), a copy under way finished
// first, then the newest part.
func TestJSUploadOrder(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make deps`")
	}
	runNodeCheck(t, node, "test/uploadorder_check.js", []uploadCase{
		{
			Name: "two copies of one part", CapBps: 200_000, MaxFrame: 4096, Size: 40_000,
			Wants: []uploadWant{want("a", 8, 0, 0), want("b", 8, 0, 0)},
			// One copy takes 200 ms at the cap; interleaved, both take 400.
			Order: []int{0, 1}, FirstWithinMs: 290,
		},
		{
			Name: "a copy under way finishes first", CapBps: 200_000, MaxFrame: 4096, Size: 20_000,
			Wants: []uploadWant{want("a", 8, 0, 0), want("b", 8, 1, 30)},
			// a's copy (100 ms at the cap) is under way when b asks for a
			// newer part: a's goes on, b's follows.
			Order: []int{0, 1}, FirstWithinMs: 160,
		},
		{
			Name: "the newest part first among those waiting", CapBps: 200_000, MaxFrame: 4096, Size: 20_000,
			Wants: []uploadWant{want("a", 8, 0, 0), want("b", 8, 3, 40), want("c", 9, 0, 50)},
			// While a's copy goes out, b and then c ask: c's newer segment
			// goes next, b's last.
			Order: []int{0, 2, 1}, FirstWithinMs: 160,
		},
	})
}
