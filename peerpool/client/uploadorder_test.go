package client

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/exchange"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// uploadCase is one scenario for the upload order, run on the Go exchange
// here and on the browser's in test/uploadorder_check.js.
type uploadCase struct {
	Name     string       `json:"name"`
	CapBps   int64        `json:"capBps"`
	MaxFrame int          `json:"maxFrame"`
	Size     int          `json:"size"` // bytes of every part
	Wants    []uploadWant `json:"wants"`
	// Order is the order the WANTs must finish in (indexes into Wants),
	// the first within FirstWithinMs of the start.
	Order         []int `json:"order"`
	FirstWithinMs int   `json:"firstWithinMs"`
	// Finished is when each WANT finished on the Go exchange: the browser's
	// must finish at the same milliseconds.
	Finished []int `json:"finished"`
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

// TestUploadOrder: a capped peer uploads one copy at a time (two 40 KB
// copies at 200 KB/s: the first done after one copy's time, not both at
// the end), a copy under way finished first, then the newest part; and the
// browser's exchange finishes every copy at the same millisecond as Go's.
func TestUploadOrder(t *testing.T) {
	cases := []uploadCase{
		{
			Name: "two copies of one part", CapBps: 200_000, MaxFrame: 4096, Size: 40_000,
			Wants: []uploadWant{want("a", 8, 0, 0), want("b", 8, 0, 0)},
			// The bucket's 20 KB burst goes at once, then 200 bytes a ms:
			// one copy after ~100 ms; interleaved, both after ~300.
			Order: []int{0, 1}, FirstWithinMs: 150,
		},
		{
			Name: "a copy under way finishes first", CapBps: 200_000, MaxFrame: 4096, Size: 60_000,
			Wants: []uploadWant{want("a", 8, 0, 0), want("b", 8, 1, 30)},
			// a's copy (~200 ms) is under way when b asks for a newer part:
			// a's goes on, b's follows.
			Order: []int{0, 1}, FirstWithinMs: 260,
		},
		{
			Name: "the newest part first among those waiting", CapBps: 200_000, MaxFrame: 4096, Size: 40_000,
			Wants: []uploadWant{want("a", 8, 0, 0), want("b", 8, 3, 40), want("c", 9, 0, 50)},
			// While a's copy goes out, b and then c ask (less than the busy
			// horizon queued, so neither is declined): c's newer segment
			// goes next, b's last.
			Order: []int{0, 2, 1}, FirstWithinMs: 150,
		},
	}
	for i := range cases {
		c := &cases[i]
		got, err := runUploadCase(c)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		order := make([]int, len(got))
		for k := range order {
			order[k] = k
		}
		slices.SortStableFunc(order, func(a, b int) int { return got[a] - got[b] })
		t.Logf("%s: finished at %v ms", c.Name, got)
		if slices.Contains(got, -1) || !slices.Equal(order, c.Order) || got[c.Order[0]] > c.FirstWithinMs {
			t.Errorf("%s: finished at %v ms; want the order %v and the first within %d ms", c.Name, got, c.Order, c.FirstWithinMs)
		}
		c.Finished = got
	}
	node := nodeBinary(t)
	runNodeCheck(t, node, "test/uploadorder_check.js", cases)
}

// runUploadCase is test/uploadorder_check.js on the Go exchange.
func runUploadCase(c *uploadCase) ([]int, error) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	peerID := func(k int) wire.PeerID { return wire.PeerID(fmt.Sprintf("%032x", k+1)) }
	m, err := exchange.New(exchange.Config{ID: wire.PeerID(bytes.Repeat([]byte("f"), 32)), CanUpload: true, UploadCapBps: c.CapBps, MaxFrame: c.MaxFrame}, t0)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, w := range c.Wants {
		if !slices.Contains(names, w.From) {
			names = append(names, w.From)
		}
	}
	var add []wire.PeerInfo
	for k := range names {
		add = append(add, wire.PeerInfo{ID: peerID(k)})
	}
	m.SetNeighbours(t0, add, nil)
	for k := range names {
		m.Opened(t0, peerID(k))
	}
	partID := func(w uploadWant) wire.PartID {
		return wire.PartID{Rendition: "source", MSN: w.Part.MSN, Index: w.Part.I}
	}
	offered := map[wire.PartID]bool{}
	for _, w := range c.Wants {
		if !offered[partID(w)] {
			offered[partID(w)] = true
			if err := m.Offer(t0, partID(w), bytes.Repeat([]byte{byte(w.Part.I)}, c.Size)); err != nil {
				return nil, err
			}
		}
	}
	for k := range names {
		m.Flush(t0, peerID(k)) // the HAVEs
	}
	sent, done := make([]int, len(c.Wants)), make([]int, len(c.Wants))
	for k := range done {
		done[k] = -1
	}
	for ms := 0; ms <= 5000 && slices.Contains(done, -1); ms++ {
		now := at(ms)
		for _, w := range c.Wants {
			if w.After == ms {
				f, err := wire.AppendFrame(nil, wire.ControlFrame{Type: wire.FrameWant, Part: partID(w)})
				if err != nil {
					return nil, err
				}
				m.Receive(now, peerID(slices.Index(names, w.From)), f, false)
			}
		}
		m.Advance(now)
		for k, name := range names {
			for _, b := range m.Flush(now, peerID(k)) {
				f, err := wire.ParseFrame(b)
				if err != nil {
					return nil, err
				}
				d, ok := f.(wire.DataFrame)
				if !ok {
					continue
				}
				j := slices.IndexFunc(c.Wants, func(w uploadWant) bool { return w.From == name && partID(w) == d.Part })
				sent[j] += len(d.Payload)
				if sent[j] == c.Size {
					done[j] = ms
				}
			}
		}
		for _, ok := m.Poll(); ok; _, ok = m.Poll() {
		}
	}
	return done, nil
}
