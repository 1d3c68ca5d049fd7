package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

var pid = PartID{Rendition: "720p", MSN: 123, Index: 2}

func mustAppend(t testing.TB, f Frame) []byte {
	t.Helper()
	b, err := AppendFrame(nil, f)
	if err != nil {
		t.Fatalf("AppendFrame(%+v): %v", f, err)
	}
	return b
}

func TestFrameRoundTrip(t *testing.T) {
	frames := []Frame{
		ControlFrame{FrameHave, pid},
		ControlFrame{FrameWant, PartID{"a", 0, 0}},
		ControlFrame{FrameCancel, PartID{strings.Repeat("z", 32), MaxMSN, MaxPartIndex}},
		ControlFrame{FrameNope, pid},
		DataFrame{Part: pid, Offset: 0, Total: 3, Payload: []byte("abc")},
		DataFrame{Part: pid, Offset: 10, Total: MaxPartSize, Payload: []byte{0}},
	}
	for _, f := range frames {
		b := mustAppend(t, f)
		g, err := ParseFrame(b)
		if err != nil {
			t.Fatalf("ParseFrame(%x): %v", b, err)
		}
		if !reflect.DeepEqual(f, g) {
			t.Fatalf("round trip: %+v became %+v", f, g)
		}
	}
	// Exact layout of a WANT.
	want := []byte{2, 4, '7', '2', '0', 'p', 0, 0, 0, 0, 0, 0, 0, 123, 0, 2}
	if b := mustAppend(t, ControlFrame{FrameWant, pid}); !bytes.Equal(b, want) {
		t.Fatalf("WANT is %x, want %x", b, want)
	}
	// A DATA payload aliases the input.
	b := mustAppend(t, DataFrame{Part: pid, Total: 1, Payload: []byte{7}})
	g, _ := ParseFrame(b)
	b[len(b)-1] = 8
	if g.(DataFrame).Payload[0] != 8 {
		t.Fatal("payload does not alias the frame buffer")
	}
}

func TestParseBadFrames(t *testing.T) {
	good := mustAppend(t, DataFrame{Part: pid, Offset: 0, Total: 3, Payload: []byte("abc")})
	set := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	data := func(off, total uint32, payload int) []byte {
		b := []byte{byte(FrameData)}
		b = appendPartID(b, pid)
		b = binary.BigEndian.AppendUint32(b, off)
		b = binary.BigEndian.AppendUint32(b, total)
		return append(b, make([]byte, payload)...)
	}
	cases := []struct {
		name, wantErr string
		b             []byte
	}{
		{"empty", "empty frame", nil},
		{"type 0", "frame type 0 is unknown", set(0, 0)},
		{"type 6", "frame type 6 is unknown", set(0, 6)},
		{"no part id", "DATA frame: part id is missing", []byte{3}},
		{"name length 0", "rendition name length 0", set(1, 0)},
		{"name length 33", "rendition name length 33", set(1, 33)},
		{"short id", "part id is cut short", good[:10]},
		{"bad name", "part id: rendition name", set(2, 'A')},
		{"index 1001", "index 1001", append([]byte{1, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0}, 0x03, 0xe9)},
		{"msn 2^53", "msn 9007199254740992", []byte{1, 1, 'a', 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"control trailing", "HAVE frame for a/0.0 has 1 trailing bytes", []byte{1, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}},
		{"data short", "cut short before offset", data(0, 3, 0)[:20]},
		{"empty payload", "empty payload", data(0, 3, 0)},
		{"total 0", "total 0", data(0, 0, 1)},
		{"total too big", "total 16777217", data(0, MaxPartSize+1, 1)},
		{"past total", "offset 3 + payload 1 is past total 3", data(3, 3, 1)},
		{"offset overflow", "offset 4294967295 + payload 2", data(0xffffffff, MaxPartSize, 2)},
		{"too long", "longer than 65536", data(0, MaxPartSize, MaxFrameSize)},
	}
	for _, c := range cases {
		f, err := ParseFrame(c.b)
		if err == nil {
			t.Errorf("%s: ParseFrame = %+v, want error", c.name, f)
			continue
		}
		if !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.wantErr)
		}
	}
}

func TestAppendFrameRejectsInvalid(t *testing.T) {
	for _, f := range []Frame{
		nil,
		ControlFrame{FrameData, pid},
		ControlFrame{0, pid},
		ControlFrame{FrameHave, PartID{}},
		DataFrame{Part: pid, Total: 1},
		DataFrame{Part: pid, Offset: 1, Total: 1, Payload: []byte{1}},
		DataFrame{Part: pid, Total: MaxPartSize, Payload: make([]byte, MaxFrameSize)},
	} {
		if b, err := AppendFrame([]byte("keep"), f); err == nil || string(b) != "keep" {
			t.Errorf("AppendFrame(%+v) = %q, %v; want error and dst unchanged", f, b, err)
		}
	}
}

func TestChunkPartReassembles(t *testing.T) {
	data := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1, 2}).Read(data)
	sum := sha256.Sum256(data)
	for _, maxFrame := range []int{MaxFrameSize, 16384, MinFrameSize, 1000 + DataHeaderLen(pid)} {
		if maxFrame < MinFrameSize {
			continue
		}
		frames, err := ChunkPart(pid, data, maxFrame)
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewAssembler(pid, len(data), sum)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range frames {
			if len(b) > maxFrame || len(b) > MaxFrameSize {
				t.Fatalf("frame %d is %d bytes, max %d", i, len(b), maxFrame)
			}
			f, err := ParseFrame(b)
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			done, err := a.Add(f.(DataFrame))
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if done != (i == len(frames)-1) {
				t.Fatalf("frame %d of %d: done=%v", i, len(frames), done)
			}
		}
		if !bytes.Equal(a.Bytes(), data) {
			t.Fatal("reassembled part differs")
		}
		// Every frame but the last is full.
		if n := len(frames[0]); n != maxFrame {
			t.Fatalf("first frame is %d bytes, want %d", n, maxFrame)
		}
	}
	for _, bad := range []struct {
		id       PartID
		n, frame int
	}{{PartID{}, 10, MaxFrameSize}, {pid, 0, MaxFrameSize}, {pid, MaxPartSize + 1, MaxFrameSize}, {pid, 10, MinFrameSize - 1}, {pid, 10, MaxFrameSize + 1}} {
		if _, err := ChunkPart(bad.id, make([]byte, bad.n), bad.frame); err == nil {
			t.Errorf("ChunkPart(%v, %d bytes, %d) succeeded", bad.id, bad.n, bad.frame)
		}
	}
}

func TestAssemblerHashMismatch(t *testing.T) {
	data := bytes.Repeat([]byte("swarm"), 1000)
	sum := sha256.Sum256(data)
	frames, _ := ChunkPart(pid, data, MinFrameSize)
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	badFrames, _ := ChunkPart(pid, bad, MinFrameSize)

	a, _ := NewAssembler(pid, len(data), sum)
	var err error
	for _, b := range badFrames {
		f, _ := ParseFrame(b)
		_, err = a.Add(f.(DataFrame))
	}
	if !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), "720p/123.2") {
		t.Fatalf("corrupted part: err %v, want ErrHashMismatch naming the part", err)
	}
	if a.Bytes() != nil || a.Done() || !errors.Is(a.Err(), ErrHashMismatch) {
		t.Fatal("failed assembler exposes bytes or is not failed")
	}
	// Failure is sticky.
	f, _ := ParseFrame(frames[0])
	if _, err := a.Add(f.(DataFrame)); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Add after failure: %v", err)
	}
}

func TestAssemblerErrors(t *testing.T) {
	data := make([]byte, 3000)
	sum := sha256.Sum256(data)
	chunk := func(off, total uint32, n int) DataFrame {
		return DataFrame{Part: pid, Offset: off, Total: total, Payload: data[off : int(off)+n]}
	}
	cases := []struct {
		name    string
		frames  []DataFrame
		wantErr string
	}{
		{"other part", []DataFrame{{Part: PartID{"720p", 123, 3}, Total: 3000, Payload: data[:10]}}, "DATA frame is for part 720p/123.3"},
		{"wrong total", []DataFrame{chunk(0, 2999, 10)}, "total 2999 differs from the announced size 3000"},
		{"gap", []DataFrame{chunk(0, 3000, 10), chunk(20, 3000, 10)}, "offset 20, expected 10"},
		{"repeat", []DataFrame{chunk(0, 3000, 10), chunk(0, 3000, 10)}, "offset 0, expected 10"},
		{"empty", []DataFrame{chunk(0, 3000, 0)}, "empty payload"},
		{"after done", []DataFrame{chunk(0, 3000, 3000), chunk(3000, 3000, 0)}, "after the part was complete"},
	}
	for _, c := range cases {
		a, _ := NewAssembler(pid, len(data), sum)
		var err error
		for _, f := range c.frames {
			if _, err = a.Add(f); err != nil {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "part 720p/123.2") {
			t.Errorf("%s: err %v, want it to name the part and contain %q", c.name, err, c.wantErr)
		}
	}
	// Payload longer than what remains (total is a lie within the frame).
	a, _ := NewAssembler(pid, 5, sha256.Sum256([]byte("hello")))
	if _, err := a.Add(DataFrame{Part: pid, Total: 5, Payload: []byte("hello!")}); err == nil || !strings.Contains(err.Error(), "past the announced size") {
		t.Errorf("overlong payload: %v", err)
	}
	if _, err := NewAssembler(pid, 0, sum); err == nil {
		t.Error("NewAssembler accepted size 0")
	}
	if _, err := NewAssembler(pid, MaxPartSize+1, sum); err == nil {
		t.Error("NewAssembler accepted a size over MaxPartSize")
	}
	if _, err := NewAssembler(PartID{Rendition: "X"}, 1, sum); err == nil {
		t.Error("NewAssembler accepted a bad part id")
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add([]byte{})
	for _, fr := range []Frame{
		ControlFrame{FrameHave, pid}, ControlFrame{FrameWant, pid}, ControlFrame{FrameCancel, pid}, ControlFrame{FrameNope, pid},
		DataFrame{Part: pid, Offset: 2, Total: 10, Payload: []byte("hello")},
	} {
		f.Add(mustAppend(f, fr))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b)
		if err != nil {
			return
		}
		if err := fr.PartID().Validate(); err != nil {
			t.Fatalf("parsed an invalid part id: %v", err)
		}
		// Parsing is exact: re-encoding gives back the input.
		out, err := AppendFrame(nil, fr)
		if err != nil {
			t.Fatalf("parsed %x but cannot re-encode: %v", b, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoding %x gave %x", b, out)
		}
	})
}

// appendStream frames data for FuzzAssembler: 2-byte big-endian length, frame.
func appendStream(dst []byte, frames ...[]byte) []byte {
	for _, f := range frames {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

// FuzzAssembler feeds arbitrary frames to an assembler for a part whose
// announced hash is that of part: it must never panic, and a part it
// declares done must hash to the announced hash and have its size.
func FuzzAssembler(f *testing.F) {
	part := bytes.Repeat([]byte("0123456789"), 250)
	frames, _ := ChunkPart(pid, part, MinFrameSize)
	f.Add(part, appendStream(nil, frames...))
	f.Add(part, appendStream(nil, frames[0], frames[2], frames[1]))
	f.Add(part, appendStream(nil, frames[0], frames[0]))
	bad := bytes.Clone(part)
	bad[7] = 'x'
	badFrames, _ := ChunkPart(pid, bad, MinFrameSize)
	f.Add(part, appendStream(nil, badFrames...))
	small := []byte("hi")
	smallFrames, _ := ChunkPart(pid, small, MinFrameSize)
	f.Add(small, appendStream(nil, smallFrames...))
	f.Add(small, appendStream(nil, mustAppend(f, DataFrame{Part: pid, Total: 2, Payload: []byte("h")}), mustAppend(f, DataFrame{Part: pid, Offset: 1, Total: 2, Payload: []byte("o")})))
	f.Fuzz(func(t *testing.T, part, stream []byte) {
		if len(part) == 0 {
			return
		}
		// Chunks of MinChunkSize: the verified prefix must only ever hold
		// the part's own bytes.
		ann := PartAnnounce{ID: pid, Size: len(part), SHA256: sha256.Sum256(part), ChunkSize: MinChunkSize}
		for off := 0; off < len(part); off += MinChunkSize {
			ann.Chunks = append(ann.Chunks, sha256.Sum256(part[off:min(off+MinChunkSize, len(part))]))
		}
		if len(ann.Chunks) > MaxChunks {
			return
		}
		a, err := NewAssemblerFor(&ann)
		if err != nil {
			t.Fatal(err)
		}
		for len(stream) >= 2 {
			n := int(binary.BigEndian.Uint16(stream))
			stream = stream[2:]
			if n > len(stream) {
				n = len(stream)
			}
			fr, err := ParseFrame(stream[:n])
			stream = stream[n:]
			if err != nil {
				continue
			}
			df, ok := fr.(DataFrame)
			if !ok {
				continue
			}
			done, err := a.Add(df)
			if a.Received() > len(part) {
				t.Fatalf("assembler holds %d bytes of a %d-byte part", a.Received(), len(part))
			}
			if v := a.Verified(); !bytes.Equal(v, part[:len(v)]) {
				t.Fatal("the verified prefix differs from the part")
			}
			if err != nil {
				if done && a.Bytes() == nil {
					t.Fatal("done with an error but no bytes")
				}
				continue
			}
			if done {
				got := a.Bytes()
				if len(got) != len(part) || Hash(sha256.Sum256(got)) != ann.SHA256 {
					t.Fatalf("completed part of %d bytes does not hash to the announced hash", len(got))
				}
			}
		}
		if a.Done() && a.Err() != nil {
			t.Fatal("done and failed")
		}
	})
}
