package ladder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/swarmtx/swarmtx/bridge/media"
)

// MaxBoxSize is the largest MP4 box the fragment reader accepts. One box is
// at most one encoded frame (frag_every_frame) or the init segment, far below.
const MaxBoxSize = 16 << 20

// videoInit is what the reader learns from ftyp+moov.
type videoInit struct {
	trackID   int
	timeScale uint32
	codec     *codecs.H264
	width     int
	height    int
}

// fragmentReader reads a fragmented MP4 stream (ftyp, moov, then moof+mdat
// pairs) box by box from a pipe, without seeking and with bounded memory.
type fragmentReader struct {
	r   io.Reader
	hdr [16]byte
	// callbacks
	onInit   func(videoInit) error
	onSample func(media.Sample) error

	init    *videoInit
	initBuf bytes.Buffer // ftyp + moov
	moof    []byte       // pending moof awaiting its mdat
}

// readFragments reads r until EOF (returns nil on a clean EOF between boxes)
// or the first error. It calls onInit once, after the moov box, and onSample
// for every sample of every fragment, in order.
func readFragments(r io.Reader, onInit func(videoInit) error, onSample func(media.Sample) error) error {
	fr := &fragmentReader{r: r, onInit: onInit, onSample: onSample}
	return fr.run()
}

func (fr *fragmentReader) run() error {
	for {
		typ, box, err := fr.readBox()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if fr.moof != nil {
					return fmt.Errorf("fmp4: stream ended after a moof without its mdat")
				}
				return nil
			}
			return err
		}
		if err := fr.handle(typ, box); err != nil {
			return err
		}
	}
}

// readBox reads one whole top-level box. It returns io.EOF only when the
// stream ends cleanly before a box header.
func (fr *fragmentReader) readBox() (string, []byte, error) {
	n, err := io.ReadFull(fr.r, fr.hdr[:8])
	if err != nil {
		if errors.Is(err, io.EOF) && n == 0 {
			return "", nil, io.EOF
		}
		return "", nil, fmt.Errorf("fmp4: truncated box header: %w", noEOF(err))
	}
	size := uint64(binary.BigEndian.Uint32(fr.hdr[0:4]))
	typ := string(fr.hdr[4:8])
	hdrLen := 8
	switch size {
	case 0:
		return "", nil, fmt.Errorf("fmp4: box %q with size 0 (extends to end of file) cannot be streamed", printable(typ))
	case 1:
		if _, err := io.ReadFull(fr.r, fr.hdr[8:16]); err != nil {
			return "", nil, fmt.Errorf("fmp4: truncated largesize of box %q: %w", printable(typ), noEOF(err))
		}
		size = binary.BigEndian.Uint64(fr.hdr[8:16])
		hdrLen = 16
	}
	if size < uint64(hdrLen) {
		return "", nil, fmt.Errorf("fmp4: box %q has size %d, smaller than its %d-byte header", printable(typ), size, hdrLen)
	}
	if size > MaxBoxSize {
		return "", nil, fmt.Errorf("fmp4: box %q has size %d, above the %d-byte limit", printable(typ), size, MaxBoxSize)
	}
	// Grow the buffer only as data actually arrives, so a lying header
	// cannot make us allocate MaxBoxSize up front.
	var buf bytes.Buffer
	buf.Write(fr.hdr[:hdrLen])
	want := int64(size) - int64(hdrLen)
	got, err := io.CopyN(&buf, fr.r, want)
	if err != nil {
		return "", nil, fmt.Errorf("fmp4: box %q truncated after %d of %d bytes: %w", printable(typ), got+int64(hdrLen), size, noEOF(err))
	}
	return typ, buf.Bytes(), nil
}

func (fr *fragmentReader) handle(typ string, box []byte) error {
	switch typ {
	case "ftyp":
		if fr.init != nil || fr.initBuf.Len() != 0 {
			return fmt.Errorf("fmp4: unexpected second ftyp")
		}
		fr.initBuf.Write(box)
	case "moov":
		if fr.init != nil {
			return fmt.Errorf("fmp4: unexpected second moov")
		}
		fr.initBuf.Write(box)
		vi, err := parseInit(fr.initBuf.Bytes())
		if err != nil {
			return err
		}
		fr.initBuf = bytes.Buffer{}
		fr.init = &vi
		if fr.onInit != nil {
			if err := fr.onInit(vi); err != nil {
				return err
			}
		}
	case "moof":
		if fr.init == nil {
			return fmt.Errorf("fmp4: moof before moov")
		}
		if fr.moof != nil {
			return fmt.Errorf("fmp4: two moof boxes without mdat")
		}
		fr.moof = box
	case "mdat":
		if fr.moof == nil {
			if fr.init == nil {
				return fmt.Errorf("fmp4: mdat before moov")
			}
			return fmt.Errorf("fmp4: mdat without moof")
		}
		frag := make([]byte, 0, len(fr.moof)+len(box))
		frag = append(append(frag, fr.moof...), box...)
		moof := fr.moof
		fr.moof = nil
		return fr.handleFragment(moof, frag)
	default:
		// styp, sidx, free, mfra, ...: not needed.
	}
	return nil
}

func (fr *fragmentReader) handleFragment(moof, frag []byte) error {
	var parts fmp4.Parts
	if err := safeUnmarshalParts(&parts, frag); err != nil {
		return fmt.Errorf("fmp4: bad fragment: %w", err)
	}
	truns, err := scanTruns(moof)
	if err != nil {
		return fmt.Errorf("fmp4: bad moof: %w", err)
	}
	for _, p := range parts {
		for ti, t := range p.Tracks {
			if ti < len(truns) {
				// mediacommon ignores trun's first_sample_flags, which ffmpeg
				// uses to mark the keyframe that starts a fragment.
				idx := 0
				for _, tr := range truns[ti] {
					if tr.hasFirstFlags && idx < len(t.Samples) {
						t.Samples[idx].IsNonSyncSample = tr.firstFlags&sampleIsNonSync != 0
					}
					idx += int(tr.sampleCount)
				}
			}
			if t.ID != fr.init.trackID {
				continue
			}
			if t.BaseTime > 1<<62 {
				return fmt.Errorf("fmp4: base time %d out of range", t.BaseTime)
			}
			dts := int64(t.BaseTime)
			for _, s := range t.Samples {
				ms := media.Sample{
					DTS:       dts,
					PTSOffset: s.PTSOffset,
					IsSync:    !s.IsNonSyncSample,
					Payload:   s.Payload,
				}
				if fr.onSample != nil {
					if err := fr.onSample(ms); err != nil {
						return err
					}
				}
				dts += int64(s.Duration)
			}
		}
	}
	return nil
}

func parseInit(b []byte) (vi videoInit, err error) {
	var in fmp4.Init
	if err := safeUnmarshalInit(&in, b); err != nil {
		return vi, fmt.Errorf("fmp4: bad init segment: %w", err)
	}
	for _, t := range in.Tracks {
		c, ok := t.Codec.(*codecs.H264)
		if !ok {
			continue
		}
		if t.TimeScale != media.VideoClockRate {
			return vi, fmt.Errorf("fmp4: video track timescale is %d, want %d", t.TimeScale, media.VideoClockRate)
		}
		var sps h264.SPS
		if err := safeUnmarshalSPS(&sps, c.SPS); err != nil {
			return vi, fmt.Errorf("fmp4: bad H.264 SPS in init segment: %w", err)
		}
		return videoInit{
			trackID:   t.ID,
			timeScale: t.TimeScale,
			codec:     c,
			width:     sps.Width(),
			height:    sps.Height(),
		}, nil
	}
	return vi, fmt.Errorf("fmp4: init segment has no H.264 track (%d tracks)", len(in.Tracks))
}

// The safe* wrappers turn a panic inside the parsing libraries into an
// error: the input comes from another process and must never crash us.

func safeUnmarshalInit(in *fmp4.Init, b []byte) (err error) {
	defer recoverInto(&err)
	return in.Unmarshal(bytes.NewReader(b))
}

func safeUnmarshalParts(ps *fmp4.Parts, b []byte) (err error) {
	defer recoverInto(&err)
	return ps.Unmarshal(b)
}

func safeUnmarshalSPS(sps *h264.SPS, b []byte) (err error) {
	defer recoverInto(&err)
	return sps.Unmarshal(b)
}

func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("parser panic: %v", r)
	}
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func printable(typ string) string {
	b := []byte(typ)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

const (
	trunDataOffsetPresent       = 0x000001
	trunFirstSampleFlagsPresent = 0x000004
	sampleIsNonSync             = 0x00010000
)

type trunInfo struct {
	sampleCount   uint32
	hasFirstFlags bool
	firstFlags    uint32
}

// scanTruns walks a moof box and returns, per traf in order, the header
// fields of its trun boxes that mediacommon does not expose.
func scanTruns(moof []byte) ([][]trunInfo, error) {
	var out [][]trunInfo
	err := walkBoxes(moof[boxHeaderLen(moof):], func(typ string, traf []byte) error {
		if typ != "traf" {
			return nil
		}
		var truns []trunInfo
		err := walkBoxes(traf, func(typ string, trun []byte) error {
			if typ != "trun" {
				return nil
			}
			if len(trun) < 8 {
				return fmt.Errorf("short trun")
			}
			flags := binary.BigEndian.Uint32(trun[0:4]) & 0xffffff
			ti := trunInfo{sampleCount: binary.BigEndian.Uint32(trun[4:8])}
			pos := 8
			if flags&trunDataOffsetPresent != 0 {
				pos += 4
			}
			if flags&trunFirstSampleFlagsPresent != 0 {
				if len(trun) < pos+4 {
					return fmt.Errorf("short trun")
				}
				ti.hasFirstFlags = true
				ti.firstFlags = binary.BigEndian.Uint32(trun[pos:])
			}
			truns = append(truns, ti)
			return nil
		})
		out = append(out, truns)
		return err
	})
	return out, err
}

// boxHeaderLen returns the header length of the box at the start of b
// (which readBox has already validated).
func boxHeaderLen(b []byte) int {
	if len(b) >= 4 && binary.BigEndian.Uint32(b) == 1 {
		return 16
	}
	return 8
}

// walkBoxes calls fn with the type and body of every box in b.
func walkBoxes(b []byte, fn func(typ string, body []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return fmt.Errorf("truncated box header")
		}
		size := uint64(binary.BigEndian.Uint32(b))
		hl := uint64(8)
		if size == 1 {
			if len(b) < 16 {
				return fmt.Errorf("truncated box header")
			}
			size, hl = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hl || size > uint64(len(b)) {
			return fmt.Errorf("bad box size %d", size)
		}
		if err := fn(string(b[4:8]), b[hl:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}
