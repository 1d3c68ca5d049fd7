package client

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// limitCase is one shared limit for test/limits_check.js: its name in
// src/wire.js and Go's value.
type limitCase struct {
	Name  string `json:"name"`
	Value int    `json:"value"`
}

// TestJSLimitsAgreeWithGo: the limits the browser client and the Go peer
// keep alike (peerpool/wire/limits.go) have Go's values in src/wire.js, and
// src/swarm.js takes them from there instead of keeping its own numbers.
func TestJSLimitsAgreeWithGo(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make deps`")
	}
	runNodeCheck(t, node, "test/limits_check.js", []limitCase{
		{"MAX_UPLOADS", wire.MaxUploads},
		{"MAX_BUFFERED", wire.MaxBuffered},
		{"LOW_WATER", wire.LowWater},
		{"BUSY_HORIZON_MS", wire.BusyHorizonMs},
		{"BUSY_UPLOADS", wire.BusyUploads},
		{"MAX_DECLINED", wire.MaxDeclined},
		{"STARVED_UPLOAD_MS", wire.StarvedUploadMs},
		{"HAVE_ON_OPEN", wire.HaveOnOpen},
		{"MAX_PENDING_BYTES", wire.MaxPendingBytes},
		{"MAX_INCOMING", wire.MaxIncoming},
		{"MAX_HAVE", wire.MaxHave},
		{"MAX_ANNOUNCED", wire.MaxAnnounced},
		{"CONNECT_TIMEOUT_MS", wire.ConnectTimeoutMs},
		{"MAX_FRUITLESS_WANTS", wire.MaxFruitlessWants},
		{"MAX_UNPROVEN_NOPES", wire.MaxUnprovenNopes},
	})
	src, err := os.ReadFile("src/swarm.js")
	if err != nil {
		t.Fatal(err)
	}
	// The names swarm.js gives the shared limits, bound to a number of
	// its own rather than to wire.js.
	own := regexp.MustCompile(`(?m)^const (HIGH_WATER|LOW_WATER|MAX_SERVING|BUSY_HORIZON_MS|BUSY_UPLOADS|STARVED_MS|EARLY_HAVE|MAX_DECLINED|ANNOUNCED_PARTS|HAVE_PER_NEIGHBOUR|MAX_PENDING_BYTES|MAX_INCOMING|CONNECT_TIMEOUT_MS) = [0-9(]`)
	for _, m := range own.FindAllSubmatch(src, -1) {
		t.Errorf("src/swarm.js sets %s itself; take it from wire.js", m[1])
	}
}
