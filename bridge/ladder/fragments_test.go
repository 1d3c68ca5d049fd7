package ladder

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/swarmtx/swarmtx/bridge/media"
)

var testSPS720 = []byte{
	0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50,
	0x05, 0xbb, 0x01, 0x6c, 0x80, 0x00, 0x00, 0x03,
	0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18,
	0xcb,
}

// testStream builds ftyp+moov and two moof+mdat fragments with mediacommon.
func testStream(t testing.TB) []byte {
	var out bytes.Buffer
	var b seekablebuffer.Buffer
	in := fmp4.Init{Tracks: []*fmp4.InitTrack{{
		ID: 1, TimeScale: 90000,
		Codec: &codecs.H264{SPS: testSPS720, PPS: []byte{0x68, 0xee, 0x3c, 0x80}},
	}}}
	if err := in.Marshal(&b); err != nil {
		t.Fatal(err)
	}
	out.Write(b.Bytes())
	for i, frag := range [][]*fmp4.Sample{
		{{Duration: 3000, Payload: []byte{0, 0, 0, 1, 0x65}}, {Duration: 3003, PTSOffset: 6000, IsNonSyncSample: true, Payload: []byte{0, 0, 0, 1, 0x41}}},
		{{Duration: 2970, IsNonSyncSample: true, Payload: []byte{0, 0, 0, 2, 0x41, 0x9a}}},
	} {
		var pb seekablebuffer.Buffer
		base := uint64(900000)
		if i == 1 {
			base += 6003
		}
		p := fmp4.Part{SequenceNumber: uint32(i + 1), Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: base, Samples: frag}}}
		if err := p.Marshal(&pb); err != nil {
			t.Fatal(err)
		}
		out.Write(pb.Bytes())
	}
	return out.Bytes()
}

func TestReadFragments(t *testing.T) {
	stream := testStream(t)
	var inits []videoInit
	var samples []media.Sample
	err := readFragments(bytes.NewReader(stream),
		func(vi videoInit) error { inits = append(inits, vi); return nil },
		func(s media.Sample) error { samples = append(samples, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(inits) != 1 || inits[0].width != 1280 || inits[0].height != 720 || inits[0].trackID != 1 {
		t.Fatalf("inits = %+v", inits)
	}
	want := []struct {
		dts  int64
		off  int32
		sync bool
	}{{900000, 0, true}, {903000, 6000, false}, {906003, 0, false}}
	if len(samples) != len(want) {
		t.Fatalf("%d samples, want %d", len(samples), len(want))
	}
	for i, w := range want {
		s := samples[i]
		if s.DTS != w.dts || s.PTSOffset != w.off || s.IsSync != w.sync {
			t.Errorf("sample %d = dts %d off %d sync %v, want %+v", i, s.DTS, s.PTSOffset, s.IsSync, w)
		}
	}
	if !bytes.Equal(samples[2].Payload, []byte{0, 0, 0, 2, 0x41, 0x9a}) {
		t.Errorf("payload %x", samples[2].Payload)
	}
}

// largesize boxes (size field 1 + 64-bit size) are read like normal ones.
func TestReadFragmentsLargeSize(t *testing.T) {
	stream := testStream(t)
	large := func(typ string, body []byte) []byte {
		var hdr [16]byte
		binary.BigEndian.PutUint32(hdr[0:], 1)
		copy(hdr[4:8], typ)
		binary.BigEndian.PutUint64(hdr[8:], uint64(len(body))+16)
		return append(hdr[:], body...)
	}
	var conv bytes.Buffer
	for rest := stream; len(rest) > 0; {
		size := binary.BigEndian.Uint32(rest)
		typ := string(rest[4:8])
		switch typ {
		case "ftyp", "moov": // moof/mdat stay: trun data offsets count from the moof
			conv.Write(large(typ, rest[8:size]))
		default:
			conv.Write(rest[:size])
		}
		if typ == "mdat" {
			conv.Write(large("free", []byte("padding")))
		}
		rest = rest[size:]
	}
	var got [][]byte
	var h int
	err := readFragments(&conv, func(vi videoInit) error { h = vi.height; return nil },
		func(s media.Sample) error { got = append(got, s.Payload); return nil })
	if err != nil || len(got) != 3 || h != 720 || !bytes.Equal(got[2], []byte{0, 0, 0, 2, 0x41, 0x9a}) {
		t.Fatalf("got %x height %d err=%v", got, h, err)
	}
}

func TestReadFragmentsErrors(t *testing.T) {
	stream := testStream(t)
	box := func(size uint32, typ string, extra ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, size)
		return append(append(b, typ...), extra...)
	}
	moovEnd := bytes.Index(stream, []byte("moof")) - 4
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"truncated header", []byte{0, 0, 0}, "truncated box header"},
		{"size zero", box(0, "mdat"), `box "mdat" with size 0`},
		{"size below header", box(4, "free"), "smaller than its 8-byte header"},
		{"huge", box(0xffffffff, "mdat"), "above the 16777216-byte limit"},
		{"huge largesize", box(1, "mdat", 0xff, 0, 0, 0, 0, 0, 0, 0), "above the 16777216-byte limit"},
		{"truncated body", box(100, "free", 1, 2, 3), `box "free" truncated after 11 of 100 bytes`},
		{"moof first", stream[moovEnd:], "moof before moov"},
		{"no video track", box(8, "moov"), "bad init segment"},
		{"binary type", box(0, "\x00\x01ab"), `box "??ab"`},
		{"moof without mdat", stream[:len(stream)-bytes.Index(reverse(stream), reverse([]byte("tadm")))], ""},
	}
	for _, c := range cases {
		err := readFragments(bytes.NewReader(c.in), nil, nil)
		switch {
		case c.want == "" && c.name != "moof without mdat":
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		case c.name == "moof without mdat":
			if err == nil {
				t.Errorf("%s: no error", c.name)
			}
		case err == nil || !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %v, want containing %q", c.name, err, c.want)
		}
	}
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return r
}

// FuzzReadFragments feeds arbitrary bytes to the fragment reader: it must
// return (an error or nil) without panicking and without allocating more
// than the data it was given plus the box limit.
func FuzzReadFragments(f *testing.F) {
	stream := testStream(f)
	f.Add(stream)
	f.Add(stream[:len(stream)/2])
	f.Add([]byte{0, 0, 0, 1, 'm', 'd', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 16})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'm', 'o', 'o', 'v'})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		_ = readFragments(bytes.NewReader(data),
			func(vi videoInit) error {
				if vi.codec == nil {
					t.Fatal("init without codec")
				}
				return nil
			},
			func(s media.Sample) error {
				n++
				if len(s.Payload) > len(data) {
					t.Fatal("payload larger than input")
				}
				return nil
			})
	})
}
