// Package rtsppull reads one stream from MediaMTX over RTSP (TCP) with
// gortsplib and hands over H.264 and AAC access units with their
// presentation times.
//
// RTSP is swarmtx's default way back into MediaMTX: every stream MediaMTX
// accepts (RTMP, SRT, ...) is re-served over RTSP without the decode-time
// derivation that makes MediaMTX drop RTMP readers of B-frame streams.
package rtsppull

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/swarmtx/swarmtx/bridge/media"
)

// Conn is an RTSP read session.
type Conn struct {
	client *gortsplib.Client
	desc   *description.Session
	vMedia *description.Media
	vForma *format.H264
	aMedia *description.Media
	aForma *format.MPEG4Audio
	others []string
	tracks media.Tracks
}

// readTimeout is how long the session may go without data.
const readTimeout = 10 * time.Second

// Dial connects to an RTSP URL and reads the stream's description. A stream
// whose codecs are not H.264 video with optional AAC audio gets an error
// wrapping media.ErrUnsupportedCodec that names the codecs.
func Dial(ctx context.Context, rawURL string) (*Conn, error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("pull URL: %w", err)
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return nil, fmt.Errorf("pull URL %s: scheme must be rtsp or rtsps", redact(u))
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		Protocol:     &tcp,
		ReadTimeout:  readTimeout,
		WriteTimeout: readTimeout,
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(u), err)
	}
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	desc, _, err := c.Describe(u)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("describe %s: %w", redact(u), err)
	}
	conn := &Conn{client: c, desc: desc}
	if err := conn.pickTracks(); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.Setup(desc.BaseURL, conn.vMedia, 0, 0); err != nil {
		c.Close()
		return nil, fmt.Errorf("set up video of %s: %w", redact(u), err)
	}
	if conn.aMedia != nil {
		if _, err := c.Setup(desc.BaseURL, conn.aMedia, 0, 0); err != nil {
			c.Close()
			return nil, fmt.Errorf("set up audio of %s: %w", redact(u), err)
		}
	}
	return conn, nil
}

func (c *Conn) pickTracks() error {
	for _, m := range c.desc.Medias {
		for _, f := range m.Formats {
			switch f := f.(type) {
			case *format.H264:
				if c.vForma == nil {
					c.vMedia, c.vForma = m, f
					continue
				}
			case *format.MPEG4Audio:
				if c.aForma == nil && f.Config != nil {
					c.aMedia, c.aForma = m, f
					continue
				}
			}
			c.others = append(c.others, codecName(f))
		}
	}
	if c.vForma == nil {
		return media.UnsupportedError(c.others)
	}
	sps, pps := c.vForma.SafeParams()
	if sps == nil || pps == nil {
		return errors.New("the stream's H.264 parameter sets (SPS/PPS) are not announced yet")
	}
	c.tracks.SPS, c.tracks.PPS = sps, pps
	if c.aForma != nil {
		c.tracks.Audio = c.aForma.Config
	}
	return nil
}

func codecName(f format.Format) string {
	switch f.(type) {
	case *format.MPEG4Audio:
		return "AAC audio without configuration"
	}
	return f.Codec()
}

// Tracks returns the stream's codec configuration.
func (c *Conn) Tracks() media.Tracks { return c.tracks }

// UnsupportedTracks lists ignored tracks, for a warning.
func (c *Conn) UnsupportedTracks() []string { return c.others }

// Run plays the stream until ctx ends or the session fails; it closes the
// connection. Handlers are called one at a time.
func (c *Conn) Run(ctx context.Context, h media.Handlers) error {
	defer c.client.Close()
	stop := context.AfterFunc(ctx, c.client.Close)
	defer stop()

	var mu sync.Mutex // gortsplib may read medias on different goroutines
	vDec, err := c.vForma.CreateDecoder()
	if err != nil {
		return fmt.Errorf("H.264 RTP decoder: %w", err)
	}
	vRate := int64(c.vForma.ClockRate())
	c.client.OnPacketRTP(c.vMedia, c.vForma, func(pkt *rtp.Packet) {
		pts, ok := c.client.PacketPTS(c.vMedia, pkt)
		if !ok {
			return
		}
		au, err := vDec.Decode(pkt)
		if err != nil {
			// More packets needed, or a broken access unit, which is
			// skipped: the next keyframe recovers it.
			return
		}
		mu.Lock()
		h.OnVideo(media.TicksToDuration(pts, vRate), au)
		mu.Unlock()
	})
	if c.aForma != nil {
		aDec, err := c.aForma.CreateDecoder()
		if err != nil {
			return fmt.Errorf("AAC RTP decoder: %w", err)
		}
		aRate := int64(c.aForma.ClockRate())
		c.client.OnPacketRTP(c.aMedia, c.aForma, func(pkt *rtp.Packet) {
			pts, ok := c.client.PacketPTS(c.aMedia, pkt)
			if !ok {
				return
			}
			aus, err := aDec.Decode(pkt)
			if err != nil {
				return // more packets needed, or a broken frame skipped
			}
			mu.Lock()
			for i, au := range aus {
				h.OnAudio(media.TicksToDuration(pts+int64(i)*1024, aRate), au)
			}
			mu.Unlock()
		})
	}
	if _, err := c.client.Play(nil); err != nil {
		return fmt.Errorf("play: %w", err)
	}
	err = c.client.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("read RTSP: %w", err)
}

// Close ends the session.
func (c *Conn) Close() { c.client.Close() }

func redact(u *base.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
