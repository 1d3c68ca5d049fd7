package contract

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/swarmtx/swarmtx/plugin/contract/contractpb"
)

// A real 1280x720 High-profile SPS and its PPS as x264 writes them, and
// the AudioSpecificConfig of 48 kHz stereo AAC-LC.
var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x6a, 0x02, 0x02, 0x02, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18, 0xcb}
	testPPS = []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	testASC = []byte{0x11, 0x90}
	idr     = []byte{0x65, 0x88, 0x84, 0x00, 0x33}
)

func pushReq() AttachRequest {
	r := validReq()
	r.PullURL = ""
	r.SourceType = "rtmpConn"
	return r
}

func testTracks() PushTracks { return PushTracks{SPS: testSPS, PPS: testPPS, AudioConfig: testASC} }

func TestPushRoundTrip(t *testing.T) {
	fb := &fakeBridge{pushed: make(chan pushResult, 1)}
	c := dial(t, fb)
	ps, err := c.Push(context.Background(), pushReq(), testTracks())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ps.Events():
		if ev.Kind != EventAttached || !strings.HasSuffix(ev.URL, "/live/show/") {
			t.Fatalf("first event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ATTACHED event")
	}
	if err := ps.WriteVideo(100*time.Millisecond, [][]byte{testSPS, testPPS, idr}); err != nil {
		t.Fatal(err)
	}
	if err := ps.WriteAudio(90*time.Millisecond, []byte{0x21, 0x10, 0x05}); err != nil {
		t.Fatal(err)
	}
	if err := ps.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	r := <-fb.pushed
	if r.req.Path != "live/show" || r.req.PullURL != "" || r.req.Options != pushReq().Options {
		t.Errorf("request %+v", r.req)
	}
	if !bytes.Equal(r.tracks.SPS, testSPS) || !bytes.Equal(r.tracks.PPS, testPPS) || !bytes.Equal(r.tracks.AudioConfig, testASC) {
		t.Errorf("tracks %+v", r.tracks)
	}
	if len(r.aus) != 2 || r.aus[0].Audio || r.aus[0].PTS != 100*time.Millisecond || len(r.aus[0].NALUs) != 3 ||
		!r.aus[1].Audio || r.aus[1].PTS != 90*time.Millisecond || len(r.aus[1].Payload) != 3 {
		t.Errorf("access units %+v", r.aus)
	}
	if ps.Err() != nil {
		t.Errorf("Err after a clean close: %v", ps.Err())
	}
}

// The host side refuses what the plugin would, before sending it.
func TestPushClientChecks(t *testing.T) {
	c := dial(t, &fakeBridge{pushed: make(chan pushResult, 1)})
	req := pushReq()
	req.PullURL = "rtsp://127.0.0.1/live/show"
	if _, err := c.Push(context.Background(), req, testTracks()); !IsPermanent(err) || !strings.Contains(err.Error(), "pull_url") {
		t.Errorf("push with a pull URL: %v", err)
	}
	if _, err := c.Push(context.Background(), pushReq(), PushTracks{SPS: []byte{0x40, 0x01, 0x0c}, PPS: testPPS}); !errors.Is(err, ErrBadPush) || !strings.Contains(err.Error(), "not an H.264 SPS") {
		t.Errorf("push of an H.265 VPS as SPS: %v", err)
	}
	ps, err := c.Push(context.Background(), pushReq(), PushTracks{SPS: testSPS, PPS: testPPS})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if err := ps.WriteAudio(0, []byte{1}); !errors.Is(err, ErrBadPush) {
		t.Errorf("audio on a push without audio: %v", err)
	}
	if err := ps.WriteVideo(0, [][]byte{{0, 0, 0, 1, 0x65}}); err != nil {
		t.Errorf("a NAL unit with a start code left in is only refused once it reads as a forbidden bit: %v", err)
	}
	if err := ps.WriteVideo(0, [][]byte{{0x80, 1}}); !errors.Is(err, ErrBadPush) {
		t.Errorf("forbidden bit: %v", err)
	}
	if err := ps.WriteVideo(time.Duration(1<<62), [][]byte{idr}); !errors.Is(err, ErrBadPush) {
		t.Errorf("PTS far out: %v", err)
	}
}

// A host that breaks the rules on the wire (not through Client) gets its
// push ended with an error naming what was wrong; other pushes go on.
func TestPushPluginRejects(t *testing.T) {
	fb := &fakeBridge{pushed: make(chan pushResult, 4)}
	c := dial(t, fb)
	good, err := c.Push(context.Background(), pushReq(), testTracks())
	if err != nil {
		t.Fatal(err)
	}
	start := func(sps []byte) *pb.PushMessage {
		in := attachRequestToPB(pushReq())
		in.Path = "live/bad"
		return &pb.PushMessage{Msg: &pb.PushMessage_Start{Start: &pb.PushStart{Request: in, Sps: sps, Pps: testPPS}}}
	}
	video := func(nalus ...[]byte) *pb.PushMessage {
		return &pb.PushMessage{Msg: &pb.PushMessage_Video{Video: &pb.VideoAccessUnit{PtsNs: 1, Nalus: nalus}}}
	}
	tooMany := make([][]byte, MaxNALUsPerAU+1)
	for i := range tooMany {
		tooMany[i] = idr
	}
	cases := []struct {
		name string
		msgs []*pb.PushMessage
		want string
	}{
		{"media first", []*pb.PushMessage{video(idr)}, "first message must be the codec configuration"},
		{"empty first", []*pb.PushMessage{{}}, "not an empty message"},
		{"not H.264", []*pb.PushMessage{start([]byte{0x40, 0x01, 0x0c, 0x01})}, "not an H.264 SPS"},
		{"garbage SPS", []*pb.PushMessage{start([]byte{0x67, 0xff})}, "SPS does not parse"},
		{"huge SPS", []*pb.PushMessage{start(append([]byte{0x67}, make([]byte, MaxParamSetLen)...))}, "more than 1024"},
		{"second start", []*pb.PushMessage{start(testSPS), start(testSPS)}, "second codec configuration"},
		{"too many NAL units", []*pb.PushMessage{start(testSPS), video(tooMany...)}, "257 NAL units"},
		{"empty NAL unit", []*pb.PushMessage{start(testSPS), video(idr, nil)}, "NAL unit 1 is empty"},
		{"audio undeclared", []*pb.PushMessage{start(testSPS), {Msg: &pb.PushMessage_Audio{Audio: &pb.AudioAccessUnit{Au: []byte{1}}}}}, "declared no audio"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := c.c.Push(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.msgs {
				if err := s.Send(m); err != nil {
					break // the plugin ended the call; Recv says why
				}
			}
			for {
				_, err = s.Recv()
				if err != nil {
					break
				}
			}
			err = classify(ctx, err)
			if !errors.Is(err, ErrBadPush) || !IsPermanent(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a bad push naming %q", err, tc.want)
			}
		})
	}
	// Drain the fake's reports of the rejected pushes that reached it.
	for len(fb.pushed) > 0 {
		<-fb.pushed
	}
	if err := good.WriteVideo(0, [][]byte{testSPS, testPPS, idr}); err != nil {
		t.Fatalf("the good push broke with the bad ones: %v", err)
	}
	if err := good.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-fb.pushed; r.req.Path != "live/show" || len(r.aus) != 1 {
		t.Errorf("good push got %+v", r)
	}
}

func TestPushTracksValidate(t *testing.T) {
	if err := testTracks().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (PushTracks{SPS: testSPS, PPS: testPPS}).Validate(); err != nil {
		t.Fatalf("no audio: %v", err)
	}
	bad := map[string]PushTracks{
		"no SPS":         {PPS: testPPS},
		"no PPS":         {SPS: testSPS},
		"PPS as SPS":     {SPS: testPPS, PPS: testPPS},
		"SPS as PPS":     {SPS: testSPS, PPS: testSPS},
		"empty ASC":      {SPS: testSPS, PPS: testPPS, AudioConfig: []byte{}},
		"garbage ASC":    {SPS: testSPS, PPS: testPPS, AudioConfig: []byte{0xff, 0xff}},
		"huge ASC":       {SPS: testSPS, PPS: testPPS, AudioConfig: make([]byte, MaxAudioConfigLen+1)},
		"truncated SPS":  {SPS: testSPS[:4], PPS: testPPS},
		"huge PPS":       {SPS: testSPS, PPS: append([]byte{0x68}, make([]byte, MaxParamSetLen)...)},
		"mpeg4 part 2 ?": {SPS: []byte{0x00, 0x00, 0x01, 0xb0}, PPS: testPPS},
	}
	for name, tr := range bad {
		if err := tr.Validate(); !errors.Is(err, ErrBadPush) || !IsPermanent(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzPushMessage feeds arbitrary bytes through the plugin's decoding of a
// push message, as the first message and as a later one. Nothing may
// panic, and whatever is accepted must be within the limits.
func FuzzPushMessage(f *testing.F) {
	add := func(m *pb.PushMessage) {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	add(&pb.PushMessage{Msg: &pb.PushMessage_Start{Start: &pb.PushStart{Request: attachRequestToPB(pushReq()), Sps: testSPS, Pps: testPPS, AudioSpecificConfig: testASC}}})
	add(&pb.PushMessage{Msg: &pb.PushMessage_Video{Video: &pb.VideoAccessUnit{PtsNs: 40e6, Nalus: [][]byte{testSPS, testPPS, idr}}}})
	add(&pb.PushMessage{Msg: &pb.PushMessage_Audio{Audio: &pb.AudioAccessUnit{PtsNs: 21e6, Au: []byte{0x21, 0x10, 0x05}}}})
	add(&pb.PushMessage{Msg: &pb.PushMessage_Start{Start: &pb.PushStart{Request: attachRequestToPB(pushReq()), Sps: []byte{0x40, 0x01}, Pps: testPPS}}})
	f.Add([]byte{0x12, 0x03, 0x08, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.PushMessage
		if err := proto.Unmarshal(b, &m); err != nil {
			return
		}
		if req, tracks, err := decodePushStart(&m); err == nil {
			if req.ValidatePush() != nil || tracks.Validate() != nil {
				t.Fatal("accepted a start that does not validate")
			}
			if len(tracks.SPS) > MaxParamSetLen || len(tracks.PPS) > MaxParamSetLen || len(tracks.AudioConfig) > MaxAudioConfigLen {
				t.Fatal("accepted an oversized configuration")
			}
		} else if !errors.Is(err, ErrBadPush) || !IsPermanent(err) {
			t.Fatalf("start error %v is not a permanent bad push", err)
		}
		for _, audio := range []bool{false, true} {
			au, err := decodeAccessUnit(&m, audio)
			if err != nil {
				if !errors.Is(err, ErrBadPush) {
					t.Fatalf("access unit error %v is not a bad push", err)
				}
				continue
			}
			size := len(au.Payload)
			for _, n := range au.NALUs {
				size += len(n)
			}
			if len(au.NALUs) > MaxNALUsPerAU || size > MaxVideoAUBytes || (au.Audio && !audio) {
				t.Fatalf("accepted %d NAL units, %d bytes, audio %v on a push with audio %v", len(au.NALUs), size, au.Audio, audio)
			}
		}
	})
}
