package cmaf

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/swarmtx/swarmtx/bridge/media"
)

// A real 1280x720 High-profile SPS and its PPS, as x264 writes them.
var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x6a, 0x02, 0x02, 0x02, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18, 0xcb}
	testPPS = []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
)

type recorder struct {
	inits    []*Init
	parts    []*Part
	segments []struct {
		msn uint64
		dur time.Duration
	}
}

func (r *recorder) PublishInit(i *Init) { r.inits = append(r.inits, i) }
func (r *recorder) PublishPart(p *Part) { r.parts = append(r.parts, p) }
func (r *recorder) FinishSegment(_ string, msn uint64, d time.Duration) {
	r.segments = append(r.segments, struct {
		msn uint64
		dur time.Duration
	}{msn, d})
}

// obsLikeVideo returns 30 fps samples with a keyframe every 60 frames and
// B-frames (PTS offsets), like OBS's x264 output.
func obsLikeVideo(frames int) []media.Sample {
	const step = media.VideoClockRate / 30
	out := make([]media.Sample, frames)
	for i := range out {
		out[i] = media.Sample{
			DTS:       int64(i) * step,
			PTSOffset: int32(step * int64(1+i%3)),
			IsSync:    i%60 == 0,
			Payload:   []byte{0, 0, 0, 2, 0x65, byte(i)},
		}
	}
	return out
}

func newTestSegmenter(t *testing.T, rendition string, leader bool, cuts *Cuts, out Output) *Segmenter {
	t.Helper()
	s, err := NewSegmenter(Config{
		Rendition: rendition, SegmentTarget: 2 * time.Second, PartTarget: 500 * time.Millisecond,
		Cuts: cuts, Leader: leader, Output: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseH264Config(testSPS, testPPS)
	if err != nil {
		t.Fatal(err)
	}
	s.SetVideo(v)
	a, err := NewAudioInfo(mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelConfig: 2})
	if err != nil {
		t.Fatal(err)
	}
	s.SetAudio(a)
	return s
}

func TestSegmenterCutsSegmentsAndParts(t *testing.T) {
	var rec recorder
	s := newTestSegmenter(t, "source", true, NewCuts(100), &rec)
	audioStep := int64(1024)
	nextAudio := int64(0)
	for _, v := range obsLikeVideo(300) { // 10 s
		for nextAudio*media.VideoClockRate <= v.DTS*48000 {
			s.WriteAudio(media.Sample{DTS: nextAudio, IsSync: true, Payload: []byte{1, 2, 3}})
			nextAudio += audioStep
		}
		if err := s.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}

	if len(rec.inits) != 1 || rec.inits[0].Codecs != "avc1.64001f,mp4a.40.2" || rec.inits[0].Width != 1280 || rec.inits[0].Height != 720 {
		t.Fatalf("init = %+v", rec.inits)
	}
	if len(rec.segments) != 5 {
		t.Fatalf("got %d segments, want 5", len(rec.segments))
	}
	for i, seg := range rec.segments {
		if seg.msn != uint64(100+i) || seg.dur != 2*time.Second {
			t.Errorf("segment %d = msn %d dur %v, want msn %d dur 2s", i, seg.msn, seg.dur, 100+i)
		}
	}
	if len(rec.parts) != 20 {
		t.Fatalf("got %d parts, want 20", len(rec.parts))
	}
	var audioFrames int
	for i, p := range rec.parts {
		if p.Duration != 500*time.Millisecond {
			t.Errorf("part %v lasts %v", p.ID, p.Duration)
		}
		if p.ID.Index != i%4 || p.ID.MSN != uint64(100+i/4) {
			t.Errorf("part %d has id %v", i, p.ID)
		}
		if (p.Segment != nil) != (i%4 == 0) || p.Independent != (i%4 == 0) {
			t.Errorf("part %v: segment start %v independent %v", p.ID, p.Segment, p.Independent)
		}
		if p.SHA256 != sha256.Sum256(p.Data) {
			t.Errorf("part %v: hash does not match data", p.ID)
		}
		var parts fmp4.Parts
		if err := parts.Unmarshal(p.Data); err != nil {
			t.Fatalf("part %v does not parse: %v", p.ID, err)
		}
		for _, tr := range parts[0].Tracks {
			if tr.ID == audioTrackID {
				audioFrames += len(tr.Samples)
			}
		}
	}
	if audioFrames < int(nextAudio/audioStep)-2 {
		t.Errorf("only %d of %d audio frames were packaged", audioFrames, nextAudio/audioStep)
	}
}

func TestFollowerCutsWhereLeaderCut(t *testing.T) {
	cuts := NewCuts(7)
	var lead, follow recorder
	leader := newTestSegmenter(t, "source", true, cuts, &lead)
	follower := newTestSegmenter(t, "360p", false, cuts, &follow)
	frames := obsLikeVideo(300)
	for _, v := range frames {
		if err := leader.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
	}
	// The follower starts late, mid-GOP, without B-frames, as the ladder does.
	for _, v := range frames[75:] {
		v.DTS += media.VideoClockRate / 30 // presentation order, PTS as the leader's
		v.PTSOffset = 0
		if err := follower.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
	}
	if len(follow.segments) == 0 || follow.segments[0].msn != 9 {
		t.Fatalf("follower segments %+v, want the first to be msn 9", follow.segments)
	}
	for _, fs := range follow.segments {
		for _, ls := range lead.segments {
			if ls.msn == fs.msn && ls.dur != fs.dur {
				t.Errorf("segment %d: leader %v, follower %v", fs.msn, ls.dur, fs.dur)
			}
		}
	}
}

func TestSegmenterNewInitOnSPSChange(t *testing.T) {
	var rec recorder
	s := newTestSegmenter(t, "source", true, NewCuts(0), &rec)
	frames := obsLikeVideo(120)
	for i, v := range frames {
		if i == 30 {
			sps := bytes.Clone(testSPS)
			sps[3] = 0x28 // level 4.0
			v2, err := ParseH264Config(sps, testPPS)
			if err != nil {
				t.Fatal(err)
			}
			s.SetVideo(v2)
		}
		if err := s.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
	}
	// The change lands at the next keyframe (frame 60) even though the
	// segment there is only... 2 s long anyway; check the init and discontinuity.
	if len(rec.inits) != 2 || rec.inits[1].Codecs[:11] != "avc1.640028" {
		t.Fatalf("inits %+v", rec.inits)
	}
	var found bool
	for _, p := range rec.parts {
		if p.Segment != nil && p.Segment.InitID == rec.inits[1].ID {
			found = p.Segment.Discontinuity
		}
	}
	if !found {
		t.Error("segment after the SPS change is not marked as a discontinuity")
	}
}

func TestSegmenterRejectsBackwardsDTS(t *testing.T) {
	var rec recorder
	s := newTestSegmenter(t, "source", true, NewCuts(0), &rec)
	frames := obsLikeVideo(3)
	_ = s.WriteVideo(frames[0])
	_ = s.WriteVideo(frames[1])
	if err := s.WriteVideo(frames[0]); err == nil {
		t.Fatal("a frame going back in time was accepted")
	}
	if err := s.WriteVideo(frames[2]); err != nil {
		t.Fatalf("the stream did not continue after a bad frame: %v", err)
	}
}
