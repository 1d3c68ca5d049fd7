// Package push reads a stream a host pushes through the plugin contract
// (a Go server embedding swarmtx's host side) the way the bridge reads a
// stream it pulls from MediaMTX, so everything after the source — the
// timeline, the segmenters, the ladder, the origin and the swarm — is the
// same for both.
package push

import (
	"context"
	"sync"

	"github.com/swarmtx/swarmtx/bridge/media"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

// Source is a pushed stream. It has the shape of the bridge's pullers:
// Tracks, UnsupportedTracks, Run, Close.
type Source struct {
	src      contract.PushSource
	tracks   media.Tracks
	stop     chan struct{}
	stopOnce sync.Once
}

// New reads the push's codec configuration (validated by the contract;
// checked again here, since a Bridge may be handed any PushSource).
func New(src contract.PushSource) (*Source, error) {
	t := src.Tracks()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	s := &Source{src: src, tracks: media.Tracks{SPS: t.SPS, PPS: t.PPS}, stop: make(chan struct{})}
	if t.AudioConfig != nil {
		asc, err := contract.ParseAudioConfig(t.AudioConfig)
		if err != nil {
			return nil, err
		}
		s.tracks.Audio = asc
	}
	return s, nil
}

// Tracks returns the pushed codec configuration.
func (s *Source) Tracks() media.Tracks { return s.tracks }

// UnsupportedTracks is empty: the contract carries H.264 and AAC only.
func (s *Source) UnsupportedTracks() []string { return nil }

// next is one result of the source's Next.
type next struct {
	au  contract.AccessUnit
	err error
}

// Run hands every pushed access unit to h until ctx ends or the push
// does: io.EOF when the host closed its side, the contract's error when
// the host broke its rules. The handlers are called from Run's goroutine.
func (s *Source) Run(ctx context.Context, h media.Handlers) error {
	// Next blocks in the call's receive, which ends only with the call;
	// reading on a goroutine of its own lets a session replaced by a newer
	// one return at once, not at the host's next message.
	ch := make(chan next)
	go func() {
		for {
			au, err := s.src.Next()
			select {
			case ch <- next{au, err}:
			case <-s.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer s.Close()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n := <-ch:
			if n.err != nil {
				return n.err
			}
			if n.au.Audio {
				if h.OnAudio != nil && s.tracks.Audio != nil {
					h.OnAudio(n.au.PTS, n.au.Payload)
				}
				continue
			}
			if h.OnVideo != nil {
				h.OnVideo(n.au.PTS, n.au.NALUs)
			}
		}
	}
}

// Close stops reading. The push itself ends with its call.
func (s *Source) Close() { s.stopOnce.Do(func() { close(s.stop) }) }
