package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	amf0 "github.com/yutopp/go-amf0"
	flvtag "github.com/yutopp/go-flv/tag"
	rtmpmsg "github.com/yutopp/go-rtmp/message"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

// fakeBridge stands in for the swarmtx plugin: it reports each push whole.
type fakeBridge struct{ pushed chan pushed }

type pushed struct {
	req    contract.AttachRequest
	tracks contract.PushTracks
	aus    []contract.AccessUnit
}

func (f *fakeBridge) Attach(ctx context.Context, _ contract.AttachRequest, _ func(contract.Event)) error {
	<-ctx.Done()
	return nil
}

func (f *fakeBridge) Push(ctx context.Context, req contract.AttachRequest, src contract.PushSource, emit func(contract.Event)) error {
	emit(contract.Event{Kind: contract.EventAttached, URL: "http://127.0.0.1:8880/" + req.Path + "/index.m3u8"})
	p := pushed{req: req, tracks: src.Tracks()}
	defer func() { f.pushed <- p }()
	for {
		au, err := src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p.aus = append(p.aus, au)
	}
}

func (f *fakeBridge) Status(context.Context) (contract.Status, error) { return contract.Status{}, nil }

func fakePlugin(t *testing.T) (*fakeBridge, func() (pusher, error)) {
	fb := &fakeBridge{pushed: make(chan pushed, 1)}
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{contract.PluginName: &contract.GRPCPlugin{Impl: fb}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(contract.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return fb, func() (pusher, error) { return raw.(*contract.Client), nil }
}

func videoTag(t *testing.T, codec flvtag.CodecID, typ flvtag.AVCPacketType, ctime int32, body []byte) io.Reader {
	var b bytes.Buffer
	if err := flvtag.EncodeVideoData(&b, &flvtag.VideoData{FrameType: flvtag.FrameTypeKeyFrame, CodecID: codec, AVCPacketType: typ, CompositionTime: ctime, Data: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	return &b
}

func audioTag(t *testing.T, format flvtag.SoundFormat, typ flvtag.AACPacketType, body []byte) io.Reader {
	var b bytes.Buffer
	if err := flvtag.EncodeAudioData(&b, &flvtag.AudioData{SoundFormat: format, SoundRate: flvtag.SoundRate44kHz, SoundSize: flvtag.SoundSize16Bit, SoundType: flvtag.SoundTypeStereo, AACPacketType: typ, Data: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	return &b
}

func metadata(t *testing.T, videoCodec float64) *rtmpmsg.NetStreamSetDataFrame {
	var b bytes.Buffer
	if err := flvtag.EncodeScriptData(&b, &flvtag.ScriptData{Objects: map[string]amf0.ECMAArray{"onMetaData": {"videocodecid": videoCodec, "width": 1280.0}}}); err != nil {
		t.Fatal(err)
	}
	return &rtmpmsg.NetStreamSetDataFrame{Payload: b.Bytes()}
}

// lockedBuffer collects the log: a push's events are logged from a
// goroutine of their own.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestHandler(t *testing.T, pushers func() (pusher, error)) (*connHandler, *lockedBuffer) {
	logs := &lockedBuffer{}
	h := newConnHandler(slog.New(slog.NewTextHandler(logs, nil)), "192.0.2.1:5000", contract.DefaultStreamOptions(), pushers)
	if err := h.OnConnect(0, &rtmpmsg.NetConnectionConnect{Command: rtmpmsg.NetConnectionConnectCommand{App: "live"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.OnPublish(nil, 0, &rtmpmsg.NetStreamPublish{PublishingName: "show?key=abc"}); err != nil {
		t.Fatal(err)
	}
	return h, logs
}

// An OBS-like publish: metadata, the two sequence headers, then media.
// The push carries the configuration and the frames with their PTS.
func TestPublishPushes(t *testing.T) {
	fb, pushers := fakePlugin(t)
	h, logs := newTestHandler(t, pushers)
	steps := []error{
		h.OnSetDataFrame(0, metadata(t, 7)),
		h.OnVideo(0, videoTag(t, flvtag.CodecIDAVC, flvtag.AVCPacketTypeSequenceHeader, 0, avcConfig(testSPS, testPPS))),
		h.OnAudio(0, audioTag(t, flvtag.SoundFormatAAC, flvtag.AACPacketTypeSequenceHeader, testASC)),
		h.OnAudio(0, audioTag(t, flvtag.SoundFormatAAC, flvtag.AACPacketTypeRaw, []byte{0x21, 1})), // before video: dropped
		h.OnVideo(33, videoTag(t, flvtag.CodecIDAVC, flvtag.AVCPacketTypeNALU, 67, avcc([]byte{0x65, 0x88, 0x84}))),
		h.OnAudio(21, audioTag(t, flvtag.SoundFormatAAC, flvtag.AACPacketTypeRaw, []byte{0x21, 2})),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	h.OnClose()
	var p pushed
	select {
	case p = <-fb.pushed:
	case <-time.After(5 * time.Second):
		t.Fatal("the push did not end")
	}
	if p.req.Path != "live/show" || p.req.Query != "key=abc" || p.req.PullURL != "" {
		t.Errorf("request %+v", p.req)
	}
	if !bytes.Equal(p.tracks.SPS, testSPS) || !bytes.Equal(p.tracks.PPS, testPPS) || !bytes.Equal(p.tracks.AudioConfig, testASC) {
		t.Errorf("tracks %+v", p.tracks)
	}
	if len(p.aus) != 2 || p.aus[0].Audio || p.aus[0].PTS != 100*time.Millisecond || !p.aus[1].Audio || p.aus[1].PTS != 21*time.Millisecond {
		t.Errorf("access units %+v", p.aus)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs)
	}
}

// A publisher of another codec, or of broken metadata, is ended with one
// clear error line; nothing reaches swarmtx.
func TestPublishRefused(t *testing.T) {
	noPlugin := func() (pusher, error) { t.Error("a push was opened"); return nil, io.EOF }
	cases := []struct {
		name string
		feed func(h *connHandler) error
		want string
	}{
		{"flv1 metadata", func(h *connHandler) error { return h.OnSetDataFrame(0, metadata(t, 2)) }, "announces Sorenson H.263 (FLV1) video"},
		{"flv1 frames", func(h *connHandler) error {
			return h.OnVideo(0, videoTag(t, flvtag.CodecIDSorensonH263, 0, 0, []byte{1, 2, 3}))
		}, "sends Sorenson H.263 (FLV1) video"},
		{"enhanced RTMP", func(h *connHandler) error {
			return h.OnVideo(0, bytes.NewReader([]byte{0x90, 'h', 'v', 'c', '1', 1, 2}))
		}, "enhanced-RTMP video"},
		{"garbage AMF", func(h *connHandler) error {
			return h.OnSetDataFrame(0, &rtmpmsg.NetStreamSetDataFrame{Payload: []byte{0x02, 0xff, 0xff, 'o', 'n'}})
		}, "not valid AMF0"},
		{"frame before config", func(h *connHandler) error {
			return h.OnVideo(0, videoTag(t, flvtag.CodecIDAVC, flvtag.AVCPacketTypeNALU, 0, avcc([]byte{0x65, 1})))
		}, "before its AVC sequence header"},
		{"broken config", func(h *connHandler) error {
			return h.OnVideo(0, videoTag(t, flvtag.CodecIDAVC, flvtag.AVCPacketTypeSequenceHeader, 0, []byte{1, 2, 3}))
		}, "too short"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, logs := newTestHandler(t, noPlugin)
			err := tc.feed(h)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "path=live/show") || !h.reported() {
				t.Errorf("no error line for the publish:\n%s", logs)
			}
			h.OnClose()
		})
	}
}
