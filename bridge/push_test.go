package bridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

var (
	pushSPS = []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x6a, 0x02, 0x02, 0x02, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18, 0xcb}
	pushPPS = []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
)

// endedPush is a push whose host closes its side at once.
type endedPush struct{ tracks contract.PushTracks }

func (p endedPush) Tracks() contract.PushTracks { return p.tracks }
func (p endedPush) Next() (contract.AccessUnit, error) {
	return contract.AccessUnit{}, io.EOF
}

func pushRequest() contract.AttachRequest {
	return contract.AttachRequest{Path: "live/pushed", SourceType: "test", Options: contract.DefaultStreamOptions()}
}

func quietBridge() *Bridge {
	return New(Settings{ListenAddress: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
}

// A push goes the way of a pulled stream: served, then kept for the
// publisher's return once the host closed its side.
func TestPushServesUntilTheHostCloses(t *testing.T) {
	b := quietBridge()
	defer b.Close()
	var events []contract.Event
	err := b.Push(context.Background(), pushRequest(), endedPush{contract.PushTracks{SPS: pushSPS, PPS: pushPPS}}, func(e contract.Event) { events = append(events, e) })
	if err != nil {
		t.Fatalf("push ended with %v", err)
	}
	if len(events) < 2 || events[0].Kind != contract.EventAttached || events[0].URL == "" || events[1].Kind != contract.EventRenditions {
		t.Errorf("events %+v", events)
	}
	st, _ := b.Status(context.Background())
	if len(st.Streams) != 1 || st.Streams[0].Path != "live/pushed" || st.Streams[0].State != contract.StateWaitingForReconnect {
		t.Errorf("status %+v", st)
	}
}

// A push the contract would refuse is refused here too, and leaves nothing.
func TestPushRefusesBadRequests(t *testing.T) {
	b := quietBridge()
	defer b.Close()
	withURL := pushRequest()
	withURL.PullURL = "rtsp://127.0.0.1/live/pushed"
	if err := b.Push(context.Background(), withURL, endedPush{contract.PushTracks{SPS: pushSPS, PPS: pushPPS}}, func(contract.Event) {}); !contract.IsPermanent(err) {
		t.Errorf("a push with a pull URL: %v", err)
	}
	if err := b.Push(context.Background(), pushRequest(), endedPush{contract.PushTracks{SPS: pushPPS, PPS: pushPPS}}, func(contract.Event) {}); !errors.Is(err, contract.ErrBadPush) {
		t.Errorf("a push of a PPS as SPS: %v", err)
	}
	if st, _ := b.Status(context.Background()); len(st.Streams) != 0 {
		t.Errorf("refused pushes left streams: %+v", st.Streams)
	}
}
