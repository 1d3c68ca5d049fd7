package main

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

// A real 1280x720 High-profile SPS and its PPS as x264 writes them, and
// the AudioSpecificConfig of 48 kHz stereo AAC-LC.
var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x6a, 0x02, 0x02, 0x02, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18, 0xcb}
	testPPS = []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	testASC = []byte{0x11, 0x90}
)

// avcConfig builds an AVCDecoderConfigurationRecord as encoders send it.
func avcConfig(sps, pps []byte) []byte {
	b := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return append(b, pps...)
}

// avcc frames NAL units with 4-byte lengths.
func avcc(nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
		b = append(b, n...)
	}
	return b
}

func TestParseAVCConfig(t *testing.T) {
	sps, pps, err := parseAVCConfig(avcConfig(testSPS, testPPS))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sps, testSPS) || !bytes.Equal(pps, testPPS) {
		t.Fatalf("got %x %x", sps, pps)
	}
	good := avcConfig(testSPS, testPPS)
	for name, b := range map[string][]byte{
		"empty":            nil,
		"short":            good[:6],
		"version 0":        append([]byte{0}, good[1:]...),
		"2-byte lengths":   append(append([]byte{}, good[:4]...), append([]byte{0xfd}, good[5:]...)...),
		"no SPS":           {1, 0x64, 0, 0x1f, 0xff, 0xe0, 1, 0, 1, 0x68},
		"truncated SPS":    good[:10],
		"no PPS count":     good[:8+len(testSPS)],
		"zero PPS":         append(append([]byte{}, good[:8+len(testSPS)]...), 0),
		"PPS past the end": append(append([]byte{}, good[:8+len(testSPS)]...), 1, 0, 9, 0x68),
	} {
		if _, _, err := parseAVCConfig(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSplitNALUs(t *testing.T) {
	nalus, err := splitNALUs(avcc([]byte{0x65, 1, 2}, []byte{0x06, 5}))
	if err != nil || len(nalus) != 2 || nalus[0][0] != 0x65 || len(nalus[1]) != 2 {
		t.Fatalf("got %x, %v", nalus, err)
	}
	if _, err := splitNALUs([]byte{0, 0, 0, 9, 0x65}); err == nil {
		t.Error("a length past the end was accepted")
	}
	if _, err := splitNALUs(make([]byte, contract.MaxVideoAUBytes+1)); err == nil {
		t.Error("an oversized frame was accepted")
	}
}

// FuzzParseAVCConfig: a publisher's sequence header never panics the
// parser, and what it accepts is within the contract's limits.
func FuzzParseAVCConfig(f *testing.F) {
	f.Add(avcConfig(testSPS, testPPS))
	f.Add([]byte{1, 0x64, 0, 0x1f, 0xff, 0xe1, 0xff, 0xff})
	f.Add([]byte{1, 0x64, 0, 0x1f, 0xff, 0xe0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		sps, pps, err := parseAVCConfig(b)
		if err != nil {
			return
		}
		if len(sps) == 0 || len(pps) == 0 || len(sps) > contract.MaxParamSetLen || len(pps) > contract.MaxParamSetLen {
			t.Fatalf("accepted SPS of %d and PPS of %d bytes", len(sps), len(pps))
		}
	})
}

// FuzzSplitNALUs: a publisher's frame never panics the split, and what it
// accepts is within the contract's limits.
func FuzzSplitNALUs(f *testing.F) {
	f.Add(avcc([]byte{0x65, 1, 2}))
	f.Add(avcc(testSPS, testPPS, []byte{0x65, 0x88}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		nalus, err := splitNALUs(b)
		if err != nil {
			return
		}
		if len(nalus) == 0 || len(nalus) > contract.MaxNALUsPerAU {
			t.Fatalf("accepted %d NAL units", len(nalus))
		}
	})
}
