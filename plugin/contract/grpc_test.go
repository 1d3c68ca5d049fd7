package contract

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

type fakeBridge struct {
	attachErr error
	attached  chan string
	pushed    chan pushResult
}

func (f *fakeBridge) Attach(ctx context.Context, req AttachRequest, emit func(Event)) error {
	emit(Event{Kind: EventAttached, URL: "http://127.0.0.1:8880/" + req.Path + "/"})
	emit(Event{Kind: EventRenditions, Renditions: []string{"source", "720p"}})
	if f.attachErr != nil {
		return f.attachErr
	}
	f.attached <- req.Path
	<-ctx.Done()
	return nil
}

// Push reads the whole push and reports what it got.
func (f *fakeBridge) Push(ctx context.Context, req AttachRequest, src PushSource, emit func(Event)) error {
	emit(Event{Kind: EventAttached, URL: "http://127.0.0.1:8880/" + req.Path + "/"})
	var got []AccessUnit
	for {
		au, err := src.Next()
		if err != nil {
			if f.pushed != nil {
				f.pushed <- pushResult{req: req, tracks: src.Tracks(), aus: got, err: err}
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
		got = append(got, au)
	}
}

type pushResult struct {
	req    AttachRequest
	tracks PushTracks
	aus    []AccessUnit
	err    error
}

func (f *fakeBridge) Status(context.Context) (Status, error) {
	return Status{ListenAddress: ":8880", Streams: []StreamStatus{{Path: "live/show", State: StateAttached, BytesServed: 42, AttachedSince: time.UnixMilli(1700000000000),
		Viewers: 30, P2PShare: 0.9, ViewersWithoutP2P: 2, Connections: []ConnectionCount{{"host/udp", 12}, {"relay/udp", 1}}, Copies: []RenditionCopies{{Rendition: "source", HTTP: 0.5, Peer: 2, Viewers: 28, LastMinuteMade: 1000, LastMinuteSent: 2500}}}}}, nil
}

func dial(t *testing.T, b Bridge) *Client {
	t.Helper()
	gp := &GRPCPlugin{Impl: b, Version: "test-1"}
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: gp})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*Client)
}

func TestGRPCAttachAndStatus(t *testing.T) {
	fb := &fakeBridge{attached: make(chan string, 1)}
	c := dial(t, fb)
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 10)
	errc := make(chan error, 1)
	go func() { errc <- c.Attach(ctx, validReq(), func(e Event) { events <- e }) }()
	select {
	case p := <-fb.attached:
		if p != "live/show" {
			t.Fatal(p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no attach")
	}
	ev := <-events
	if ev.Kind != EventAttached || ev.URL != "http://127.0.0.1:8880/live/show/" {
		t.Fatalf("event %+v", ev)
	}
	ev = <-events
	if ev.Kind != EventRenditions || len(ev.Renditions) != 2 {
		t.Fatalf("event %+v", ev)
	}
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != "test-1" || st.Pid == 0 || len(st.Streams) != 1 || st.Streams[0].BytesServed != 42 || st.Streams[0].AttachedSince.UnixMilli() != 1700000000000 {
		t.Fatalf("status %+v", st)
	}
	if s := st.Streams[0]; s.Viewers != 30 || s.P2PShare != 0.9 || len(s.Copies) != 1 || s.Copies[0] != (RenditionCopies{Rendition: "source", HTTP: 0.5, Peer: 2, Viewers: 28, LastMinuteMade: 1000, LastMinuteSent: 2500}) {
		t.Fatalf("stream status %+v", s)
	}
	if s := st.Streams[0]; s.ViewersWithoutP2P != 2 || !slices.Equal(s.Connections, []ConnectionCount{{"host/udp", 12}, {"relay/udp", 1}}) {
		t.Fatalf("stream connections %+v, %d without P2P", s.Connections, s.ViewersWithoutP2P)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("attach returned %v", err)
	}
}

func TestGRPCPermanentAndTransient(t *testing.T) {
	c := dial(t, &fakeBridge{attachErr: Permanent(errors.New("unsupported codec H265 on live/show"))})
	err := c.Attach(context.Background(), validReq(), nil)
	if !IsPermanent(err) || err.Error() != "unsupported codec H265 on live/show" {
		t.Fatalf("got %v", err)
	}
	c = dial(t, &fakeBridge{attachErr: errors.New("rtmp read: EOF")})
	err = c.Attach(context.Background(), validReq(), nil)
	if err == nil || IsPermanent(err) || errors.Is(err, ErrPluginGone) {
		t.Fatalf("got %v", err)
	}
	bad := validReq()
	bad.Path = "../etc"
	err = c.Attach(context.Background(), bad, nil)
	if !IsPermanent(err) {
		t.Fatalf("invalid request: got %v", err)
	}
}

// The options cross the wire whole; a hook from before the hold-back
// existed sends none, and the plugin reads the default.
func TestAttachRequestOptionsRoundTrip(t *testing.T) {
	req := validReq()
	req.Options.HoldBackParts = 8
	if got := attachRequestFromPB(attachRequestToPB(req)); got.Options != req.Options {
		t.Errorf("options %+v came back as %+v", req.Options, got.Options)
	}
	old := attachRequestToPB(validReq())
	old.Options.HoldBackParts = 0
	if got := attachRequestFromPB(old).Options.HoldBackParts; got != DefaultStreamOptions().HoldBackParts {
		t.Errorf("no hold-back on the wire read as %d, want the default", got)
	}
}
