package crowd

import (
	"context"
	"strings"
	"testing"

	"github.com/swarmtx/swarmtx/peerpool/viewer"
)

func TestPickVariant(t *testing.T) {
	vs := []viewer.Variant{{Name: "720p", Bandwidth: 2e6}, {Name: "source", Bandwidth: 3e6}}
	if v, err := pickVariant(vs, ""); err != nil || v.Name != "source" {
		t.Errorf("default: %+v, %v; want source", v, err)
	}
	if v, err := pickVariant(vs[:1], ""); err != nil || v.Name != "720p" {
		t.Errorf("default without source: %+v, %v; want the first", v, err)
	}
	if v, err := pickVariant(vs, "720p"); err != nil || v.Name != "720p" {
		t.Errorf("asked 720p: %+v, %v", v, err)
	}
	if _, err := pickVariant(vs, "1080p"); err == nil || !strings.Contains(err.Error(), `"1080p" is not offered; the stream has 720p, source`) {
		t.Errorf("asked 1080p: %v", err)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	for _, n := range []int{0, -1, MaxViewers + 1} {
		if _, err := Start(context.Background(), Config{URL: "http://127.0.0.1:1/live/show/", Viewers: n}); err == nil || !strings.Contains(err.Error(), "viewers is outside") {
			t.Errorf("%d viewers: %v", n, err)
		}
	}
	if _, err := Start(context.Background(), Config{URL: "ftp://x/", Viewers: 1}); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
		t.Errorf("ftp URL: %v", err)
	}
}

func TestUploadCap(t *testing.T) {
	c := &Crowd{bitRate: 1_000_000}
	if got := c.uploadCap(0.5); got != 62_500 {
		t.Errorf("half of 1 Mbit/s: %d bytes/s, want 62500", got)
	}
	// A cap that rounds to nothing must not become "no cap".
	c.bitRate = 1
	if got := c.uploadCap(0.5); got != 1 {
		t.Errorf("half of 1 bit/s: %d bytes/s, want 1", got)
	}
}
