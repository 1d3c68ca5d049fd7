package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	flvtag "github.com/yutopp/go-flv/tag"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

// This file turns FLV video and audio tag bodies, as RTMP carries them,
// into what swarmtx's push contract takes. Everything here reads bytes a
// publisher sent, so every length is checked before it is used.

// parseAVCConfig reads an FLV AVC sequence header, an
// AVCDecoderConfigurationRecord (ISO 14496-15 5.2.4.1), and returns its
// first SPS and PPS.
func parseAVCConfig(b []byte) (sps, pps []byte, err error) {
	if len(b) < 7 {
		return nil, nil, fmt.Errorf("AVC sequence header of %d bytes is too short", len(b))
	}
	if b[0] != 1 {
		return nil, nil, fmt.Errorf("AVC sequence header has configuration version %d, want 1", b[0])
	}
	if n := b[4]&0x03 + 1; n != 4 {
		// Every encoder in use writes 4-byte lengths; the NAL unit split
		// below reads only those.
		return nil, nil, fmt.Errorf("AVC sequence header declares %d-byte NAL unit lengths; only 4 is supported", n)
	}
	pos := 6 // past the header and numOfSequenceParameterSets (b[5])
	readSets := func(count int) ([]byte, error) {
		var first []byte
		for i := 0; i < count; i++ {
			if len(b)-pos < 2 {
				return nil, errors.New("AVC sequence header is truncated")
			}
			l := int(binary.BigEndian.Uint16(b[pos:]))
			pos += 2
			if l == 0 || len(b)-pos < l {
				return nil, fmt.Errorf("AVC sequence header: parameter set of %d bytes where %d remain", l, len(b)-pos)
			}
			if l > contract.MaxParamSetLen {
				return nil, fmt.Errorf("AVC sequence header: parameter set of %d bytes, more than %d", l, contract.MaxParamSetLen)
			}
			if first == nil {
				first = b[pos : pos+l]
			}
			pos += l
		}
		return first, nil
	}
	if sps, err = readSets(int(b[5] & 0x1f)); err != nil {
		return nil, nil, err
	}
	if sps == nil {
		return nil, nil, errors.New("AVC sequence header carries no SPS")
	}
	if len(b)-pos < 1 {
		return nil, nil, errors.New("AVC sequence header ends before its PPS count")
	}
	count := int(b[pos])
	pos++
	if pps, err = readSets(count); err != nil {
		return nil, nil, err
	}
	if pps == nil {
		return nil, nil, errors.New("AVC sequence header carries no PPS")
	}
	return sps, pps, nil
}

// splitNALUs splits an FLV AVC NALU packet's body (AVCC: 4-byte lengths)
// into NAL units, within the contract's limits.
func splitNALUs(b []byte) ([][]byte, error) {
	if len(b) > contract.MaxVideoAUBytes {
		return nil, fmt.Errorf("video frame of %d bytes, more than %d", len(b), contract.MaxVideoAUBytes)
	}
	var au h264.AVCC
	if err := au.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("video frame is not length-prefixed H.264: %w", err)
	}
	if len(au) > contract.MaxNALUsPerAU {
		return nil, fmt.Errorf("video frame of %d NAL units, more than %d", len(au), contract.MaxNALUsPerAU)
	}
	return au, nil
}

// videoCodecName names an FLV video codec id for an error message.
func videoCodecName(id flvtag.CodecID) string {
	switch id {
	case flvtag.CodecIDJPEG:
		return "JPEG"
	case flvtag.CodecIDSorensonH263:
		return "Sorenson H.263 (FLV1)"
	case flvtag.CodecIDScreenVideo, flvtag.CodecIDScreenVideoVersion2:
		return "Screen Video"
	case flvtag.CodecIDOn2VP6, flvtag.CodecIDOn2VP6WithAlphaChannel:
		return "On2 VP6"
	case flvtag.CodecIDAVC:
		return "H.264"
	case 12:
		return "H.265 (enhanced RTMP)"
	}
	return fmt.Sprintf("codec id %d", id)
}

// soundFormatName names an FLV sound format for a warning.
func soundFormatName(f flvtag.SoundFormat) string {
	switch f {
	case flvtag.SoundFormatMP3, flvtag.SoundFormatMP3_8kHz:
		return "MP3"
	case flvtag.SoundFormatAAC:
		return "AAC"
	case flvtag.SoundFormatSpeex:
		return "Speex"
	case flvtag.SoundFormatG711ALawLogarithmicPCM, flvtag.SoundFormatG711muLawLogarithmicPCM:
		return "G.711"
	case flvtag.SoundFormatNellymoser, flvtag.SoundFormatNellymoser8kHzMono, flvtag.SoundFormatNellymoser16kHzMono:
		return "Nellymoser"
	case flvtag.SoundFormatLinearPCMPlatformEndian, flvtag.SoundFormatLinearPCMLittleEndian:
		return "PCM"
	}
	return fmt.Sprintf("sound format %d", f)
}
