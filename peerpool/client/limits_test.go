package client

import (
	"os"
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
	node := nodeBinary(t)
	limits := []limitCase{
		{"MAX_UPLOADS", wire.MaxUploads},
		{"MAX_BUFFERED", wire.MaxBuffered},
		{"LOW_WATER", wire.LowWater},
		{"BUSY_HORIZON_MS", wire.BusyHorizonMs},
		{"START_WITHIN_MS", wire.StartWithinMs},
		{"BUSY_UPLOADS", wire.BusyUploads},
		{"MAX_DECLINED", wire.MaxDeclined},
		{"STARVED_UPLOAD_MS", wire.StarvedUploadMs},
		{"HAVE_ON_OPEN", wire.HaveOnOpen},
		{"MAX_PENDING_BYTES", wire.MaxPendingBytes},
		{"MAX_INCOMING", wire.MaxIncoming},
		{"MAX_HAVE", wire.MaxHave},
		{"MAX_ANNOUNCED", wire.MaxAnnounced},
		{"CONNECT_TIMEOUT_MS", wire.ConnectTimeoutMs},
		{"UNREACHABLE_AFTER_MS", wire.UnreachableAfterMs},
		{"MAX_PATHS", wire.MaxPaths},
		{"MAX_FRUITLESS_WANTS", wire.MaxFruitlessWants},
		{"MAX_UNPROVEN_NOPES", wire.MaxUnprovenNopes},
		{"MAX_LIST_LEN", wire.MaxListLen},
		{"MAX_FRAMES_PER_SEC", wire.MaxFramesPerSec},
		{"MAX_UNSOLICITED", wire.MaxUnsolicited},
		{"MAX_REQUESTS", wire.MaxRequests},
		{"MAX_CONTROL_QUEUE", wire.MaxControlQueue},
		{"UPLOAD_POLL_MS", wire.UploadPollMs},
		{"FIRST_BYTE_MS", wire.FirstByteMs},
	}
	runNodeCheck(t, node, "test/limits_check.js", limits)
	// The shared limits may be bound to a number only in wire.js.
	own := regexp.MustCompile(`(?m)^const ([A-Z_]+) = [0-9(]`)
	shared := map[string]bool{}
	for _, l := range limits {
		shared[l.Name] = true
	}
	for _, file := range []string{"src/exchange.js", "src/swarm.js"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range own.FindAllSubmatch(src, -1) {
			if shared[string(m[1])] {
				t.Errorf("%s sets %s itself; take it from wire.js", file, m[1])
			}
		}
	}
}
