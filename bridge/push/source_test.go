package push

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/media"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x6a, 0x02, 0x02, 0x02, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18, 0xcb}
	testPPS = []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	testASC = []byte{0x11, 0x90} // AAC-LC, 48 kHz, stereo
)

// fakeSource hands out its units, then its end (nil: block forever).
type fakeSource struct {
	tracks contract.PushTracks
	units  chan contract.AccessUnit
	end    error
}

func (f *fakeSource) Tracks() contract.PushTracks { return f.tracks }
func (f *fakeSource) Next() (contract.AccessUnit, error) {
	au, ok := <-f.units
	if !ok {
		if f.end == nil {
			select {}
		}
		return contract.AccessUnit{}, f.end
	}
	return au, nil
}

func TestSourceDeliversAndEnds(t *testing.T) {
	f := &fakeSource{tracks: contract.PushTracks{SPS: testSPS, PPS: testPPS, AudioConfig: testASC}, units: make(chan contract.AccessUnit, 3), end: io.EOF}
	f.units <- contract.AccessUnit{PTS: time.Second, NALUs: [][]byte{{0x65, 1}}}
	f.units <- contract.AccessUnit{Audio: true, PTS: 990 * time.Millisecond, Payload: []byte{1, 2}}
	close(f.units)
	s, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := s.Tracks()
	if tr.Audio == nil || tr.Audio.SampleRate != 48000 || tr.Audio.ChannelCount != 2 || string(tr.SPS) != string(testSPS) {
		t.Fatalf("tracks %+v", tr)
	}
	var video, audio []time.Duration
	err = s.Run(context.Background(), media.Handlers{
		OnVideo: func(pts time.Duration, au [][]byte) { video = append(video, pts) },
		OnAudio: func(pts time.Duration, au []byte) { audio = append(audio, pts) },
	})
	if err != io.EOF {
		t.Fatalf("Run ended with %v, want io.EOF (the host closed its side)", err)
	}
	if len(video) != 1 || video[0] != time.Second || len(audio) != 1 || audio[0] != 990*time.Millisecond {
		t.Fatalf("video %v audio %v", video, audio)
	}
}

func TestSourceBadPushEndsRun(t *testing.T) {
	bad := contract.Permanent(contract.ErrBadPush)
	f := &fakeSource{tracks: contract.PushTracks{SPS: testSPS, PPS: testPPS}, units: make(chan contract.AccessUnit), end: bad}
	close(f.units)
	s, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background(), media.Handlers{OnVideo: func(time.Duration, [][]byte) {}}); !errors.Is(err, contract.ErrBadPush) {
		t.Fatalf("Run ended with %v", err)
	}
}

// A session replaced by a newer one returns at once, though the host is
// silent and Next blocks.
func TestSourceReturnsOnCancel(t *testing.T) {
	f := &fakeSource{tracks: contract.PushTracks{SPS: testSPS, PPS: testPPS}, units: make(chan contract.AccessUnit)}
	s, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Run(ctx, media.Handlers{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run ended with %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Run took %v to see its context end", d)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	f := &fakeSource{tracks: contract.PushTracks{SPS: testPPS, PPS: testPPS}}
	if _, err := New(f); !errors.Is(err, contract.ErrBadPush) {
		t.Fatalf("got %v", err)
	}
}
