package client

import (
	"os/exec"
	"testing"
)

// earlyCase is one scenario for test/earlypush_check.js.
type earlyCase struct {
	Name string `json:"name"`
	Size int    `json:"size"` // of each pushed part
	// Parts pushed before any announcement; Before of the first part's
	// frames come before its announcement, the rest after.
	Parts  int `json:"parts"`
	Before int `json:"before"`
	// What the part's announcement or frames do wrong: "" nothing,
	// "size" the announcement gives another size, "gap" a frame is skipped.
	Break string `json:"break"`
	// Want: "stored" the first part is verified and stored, "protocol"
	// the seed is dropped for a protocol error, "bounded" the held bytes
	// stay within the bound and the parts past it are cancelled.
	Want string `json:"want"`
}

// TestJSHoldsPushesBeforeTheirAnnouncement: a seed's DATA for a part the
// viewer has no announcement for yet (the push and the announcement travel
// different ways) is held, in order and bounded, and verified when the
// announcement comes, as the Go peer does; before, the browser dropped
// such a push and fetched the part again.
func TestJSHoldsPushesBeforeTheirAnnouncement(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make deps`")
	}
	runNodeCheck(t, node, "test/earlypush_check.js", []earlyCase{
		{Name: "whole part before its announcement", Size: 62_000, Parts: 1, Before: 4, Want: "stored"},
		{Name: "half before, half after", Size: 62_000, Parts: 1, Before: 2, Want: "stored"},
		{Name: "one-frame part", Size: 5_000, Parts: 1, Before: 1, Want: "stored"},
		{Name: "announced with another size", Size: 62_000, Parts: 1, Before: 4, Break: "size", Want: "protocol"},
		{Name: "a frame missing", Size: 62_000, Parts: 1, Before: 4, Break: "gap", Want: "protocol"},
		{Name: "more than the byte bound", Size: 1 << 20, Parts: 6, Before: 64, Want: "bounded"},
		{Name: "more parts than the bound", Size: 2_000, Parts: 30, Before: 1, Want: "bounded"},
	})
}
