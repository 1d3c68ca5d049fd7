package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Data-channel frame limits.
const (
	// MaxFrameSize bounds every data-channel frame (bytes).
	MaxFrameSize = 65536
	// MinFrameSize is the smallest frame size a peer may be told to use
	// (welcome.maxFrame) and the smallest ChunkPart accepts.
	MinFrameSize = 1024
)

// FrameType is byte 0 of a data-channel frame.
type FrameType uint8

// Frame types.
const (
	FrameHave   FrameType = 1 // "I have this part" (verified)
	FrameWant   FrameType = 2 // "send me this part"
	FrameData   FrameType = 3 // a chunk of a part
	FrameCancel FrameType = 4 // "stop sending / forget my WANT"
	FrameNope   FrameType = 5 // "I don't have it / won't send it"
)

func (t FrameType) String() string {
	switch t {
	case FrameHave:
		return "HAVE"
	case FrameWant:
		return "WANT"
	case FrameData:
		return "DATA"
	case FrameCancel:
		return "CANCEL"
	case FrameNope:
		return "NOPE"
	}
	return fmt.Sprintf("FrameType(%d)", uint8(t))
}

// Frame is a parsed data-channel frame: a ControlFrame or a DataFrame.
type Frame interface {
	FrameType() FrameType
	PartID() PartID
	frame()
}

// ControlFrame is a HAVE, WANT, CANCEL or NOPE frame: a type and a part.
type ControlFrame struct {
	Type FrameType
	Part PartID
}

// DataFrame is a DATA frame: bytes [Offset, Offset+len(Payload)) of a part
// of Total bytes. A DataFrame from ParseFrame aliases the parsed buffer.
type DataFrame struct {
	Part    PartID
	Offset  uint32
	Total   uint32
	Payload []byte
}

func (f ControlFrame) FrameType() FrameType { return f.Type }
func (f ControlFrame) PartID() PartID       { return f.Part }
func (ControlFrame) frame()                 {}
func (DataFrame) FrameType() FrameType      { return FrameData }
func (f DataFrame) PartID() PartID          { return f.Part }
func (DataFrame) frame()                    {}

// partIDLen is the binary size of id: name length byte, name, msn, index.
func partIDLen(id PartID) int { return 1 + len(id.Rendition) + 8 + 2 }

// DataHeaderLen is the size of a DATA frame for id without its payload.
func DataHeaderLen(id PartID) int { return 1 + partIDLen(id) + 8 }

func (f ControlFrame) validate() error {
	switch f.Type {
	case FrameHave, FrameWant, FrameCancel, FrameNope:
	default:
		return fmt.Errorf("%v is not a control frame type", f.Type)
	}
	if err := f.Part.Validate(); err != nil {
		return fmt.Errorf("%v frame: %w", f.Type, err)
	}
	return nil
}

func (f DataFrame) validate() error {
	if err := f.Part.Validate(); err != nil {
		return fmt.Errorf("DATA frame: %w", err)
	}
	if f.Total == 0 || f.Total > MaxPartSize {
		return fmt.Errorf("DATA frame for %s: total %d is outside 1..%d", f.Part, f.Total, MaxPartSize)
	}
	if len(f.Payload) == 0 {
		return fmt.Errorf("DATA frame for %s: empty payload", f.Part)
	}
	if end := uint64(f.Offset) + uint64(len(f.Payload)); end > uint64(f.Total) {
		return fmt.Errorf("DATA frame for %s: offset %d + payload %d is past total %d", f.Part, f.Offset, len(f.Payload), f.Total)
	}
	return nil
}

// AppendFrame validates f and appends its binary form to dst. The frame,
// and so a DataFrame's payload, must fit in MaxFrameSize.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	switch f := f.(type) {
	case ControlFrame:
		if err := f.validate(); err != nil {
			return dst, err
		}
		dst = append(dst, byte(f.Type))
		return appendPartID(dst, f.Part), nil
	case DataFrame:
		if err := f.validate(); err != nil {
			return dst, err
		}
		if n := DataHeaderLen(f.Part) + len(f.Payload); n > MaxFrameSize {
			return dst, fmt.Errorf("DATA frame for %s would be %d bytes, longer than %d", f.Part, n, MaxFrameSize)
		}
		dst = append(dst, byte(FrameData))
		dst = appendPartID(dst, f.Part)
		dst = binary.BigEndian.AppendUint32(dst, f.Offset)
		dst = binary.BigEndian.AppendUint32(dst, f.Total)
		return append(dst, f.Payload...), nil
	case nil:
		return dst, errors.New("nil frame")
	}
	return dst, fmt.Errorf("unknown frame %T", f) // unreachable: Frame is sealed
}

func appendPartID(dst []byte, id PartID) []byte {
	dst = append(dst, byte(len(id.Rendition)))
	dst = append(dst, id.Rendition...)
	dst = binary.BigEndian.AppendUint64(dst, id.MSN)
	return binary.BigEndian.AppendUint16(dst, uint16(id.Index))
}

// ParseFrame parses and validates one data-channel frame. A DataFrame's
// Payload aliases b (nothing is copied but the rendition name), so b must
// not be reused while the frame is in use.
func ParseFrame(b []byte) (Frame, error) {
	if len(b) == 0 {
		return nil, errors.New("empty frame")
	}
	if len(b) > MaxFrameSize {
		return nil, fmt.Errorf("frame is %d bytes, longer than %d", len(b), MaxFrameSize)
	}
	t := FrameType(b[0])
	switch t {
	case FrameHave, FrameWant, FrameData, FrameCancel, FrameNope:
	default:
		return nil, fmt.Errorf("frame type %d is unknown", b[0])
	}
	id, rest, err := parsePartID(b[1:])
	if err != nil {
		return nil, fmt.Errorf("%v frame: %w", t, err)
	}
	if t != FrameData {
		if len(rest) != 0 {
			return nil, fmt.Errorf("%v frame for %s has %d trailing bytes", t, id, len(rest))
		}
		return ControlFrame{Type: t, Part: id}, nil
	}
	if len(rest) < 8 {
		return nil, fmt.Errorf("DATA frame for %s is cut short before offset and total", id)
	}
	f := DataFrame{
		Part:    id,
		Offset:  binary.BigEndian.Uint32(rest),
		Total:   binary.BigEndian.Uint32(rest[4:]),
		Payload: rest[8:],
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

func parsePartID(b []byte) (PartID, []byte, error) {
	if len(b) < 1 {
		return PartID{}, nil, errors.New("part id is missing")
	}
	n := int(b[0])
	if n < 1 || n > MaxRenditionName {
		return PartID{}, nil, fmt.Errorf("part id: rendition name length %d is outside 1..%d", n, MaxRenditionName)
	}
	if len(b) < 1+n+10 {
		return PartID{}, nil, fmt.Errorf("part id is cut short: %d bytes, want %d", len(b), 1+n+10)
	}
	id := PartID{
		Rendition: string(b[1 : 1+n]),
		MSN:       binary.BigEndian.Uint64(b[1+n:]),
		Index:     int(binary.BigEndian.Uint16(b[1+n+8:])),
	}
	if err := id.Validate(); err != nil {
		return PartID{}, nil, err
	}
	return id, b[1+n+10:], nil
}

// ChunkPart splits a whole part into DATA frames of at most maxFrame bytes
// (MinFrameSize ≤ maxFrame ≤ MaxFrameSize), in order. The frames share one
// allocation and may be sent to many peers; do not modify them.
func ChunkPart(id PartID, data []byte, maxFrame int) ([][]byte, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if len(data) == 0 || len(data) > MaxPartSize {
		return nil, fmt.Errorf("part %s: size %d is outside 1..%d", id, len(data), MaxPartSize)
	}
	if maxFrame < MinFrameSize || maxFrame > MaxFrameSize {
		return nil, fmt.Errorf("part %s: frame size %d is outside %d..%d", id, maxFrame, MinFrameSize, MaxFrameSize)
	}
	hdr := DataHeaderLen(id)
	per := maxFrame - hdr
	n := (len(data) + per - 1) / per
	buf := make([]byte, 0, len(data)+n*hdr)
	frames := make([][]byte, 0, n)
	for off := 0; off < len(data); off += per {
		end := min(off+per, len(data))
		start := len(buf)
		buf = append(buf, byte(FrameData))
		buf = appendPartID(buf, id)
		buf = binary.BigEndian.AppendUint32(buf, uint32(off))
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(data)))
		buf = append(buf, data[off:end]...)
		frames = append(frames, buf[start:len(buf):len(buf)])
	}
	return frames, nil
}
