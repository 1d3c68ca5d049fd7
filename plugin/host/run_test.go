package host

import (
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

func TestFormatEvent(t *testing.T) {
	got := FormatEvent(contract.Event{Kind: contract.EventError, Permanent: true, Message: "bad\ncodec", Renditions: []string{"source"}, URL: "http://x/"})
	if got != "ERROR (permanent) bad codec renditions=source url=http://x/" {
		t.Fatal(got)
	}
}

func TestWriteStatus(t *testing.T) {
	now := time.Unix(1000, 0)
	var b strings.Builder
	WriteStatus(&b, contract.Status{Pid: 7, Version: "v1", ListenAddress: ":8880", Started: now.Add(-time.Hour), Streams: []contract.StreamStatus{
		{Path: "live/z", State: contract.StateWaitingForReconnect, BytesServed: 3 << 20, AttachedSince: now.Add(-time.Minute)},
		{Path: "live/a", State: contract.StateAttached, Renditions: []string{"source", "720p"}, Viewers: 12, P2PShare: 0.914,
			Copies: []contract.RenditionCopies{{Rendition: "source", HTTP: 0.25, Peer: 2}, {Rendition: "720p", HTTP: 1, Peer: 0}}},
	}}, now)
	out := b.String()
	for _, want := range []string{"pid 7, version v1, listening on :8880, up 1h0m0s, 2 stream(s)", "PATH", "live/a  attached", "source,720p", "waiting-for-reconnect", "3.0 MiB", "1m0s",
		"VIEWERS", "SERVER COPIES", "P2P", "source 2.2 (http 0.2), 720p 1.0 (http 1.0)", "91%"} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in\n%s", want, out)
		}
	}
	if strings.Index(out, "live/a") > strings.Index(out, "live/z") {
		t.Fatal("not sorted")
	}
}
