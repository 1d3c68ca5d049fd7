// Package rtmppull reads one stream over RTMP with gortmplib, the RTMP code
// MediaMTX itself uses, and hands over H.264 and AAC access units with their
// presentation times.
//
// MediaMTX v1.15 closes an RTMP reader when its own DTS derivation fails
// ("DTS is greater than PTS"), which happens with x264's default B-pyramid;
// swarmtx therefore pulls from MediaMTX over RTSP by default (rtsppull) and
// uses RTMP for pull URLs that name it.
package rtmppull

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"

	"github.com/swarmtx/swarmtx/bridge/media"
)

// Conn is an RTMP read session.
type Conn struct {
	client *gortmplib.Client
	reader *gortmplib.Reader
	video  *gortmplib.Track
	audio  *gortmplib.Track
	tracks media.Tracks
}

// readTimeout is how long a session may go without a message: MediaMTX
// sends media continuously while the stream is ready.
const readTimeout = 10 * time.Second

// Dial connects to an RTMP URL and reads the stream's tracks. A stream whose
// codecs are not H.264 video with optional AAC audio gets an error wrapping
// media.ErrUnsupportedCodec that names the codecs.
func Dial(ctx context.Context, rawURL string) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("pull URL: %w", err)
	}
	if u.Scheme != "rtmp" && u.Scheme != "rtmps" {
		return nil, fmt.Errorf("pull URL %q: scheme must be rtmp or rtmps", redact(u))
	}
	c := &gortmplib.Client{URL: u}
	if err := c.Initialize(ctx); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(u), err)
	}
	conn := &Conn{client: c}
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	_ = c.NetConn().SetReadDeadline(time.Now().Add(readTimeout))
	conn.reader = &gortmplib.Reader{Conn: c}
	if err := conn.reader.Initialize(); err != nil {
		c.Close()
		return nil, fmt.Errorf("read tracks from %s: %w", redact(u), err)
	}
	if err := conn.pickTracks(); err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}

func (c *Conn) pickTracks() error {
	var unsupported []string
	for _, t := range c.reader.Tracks() {
		switch codec := t.Codec.(type) {
		case *codecs.H264:
			if c.video == nil {
				c.video = t
				c.tracks.SPS, c.tracks.PPS = codec.SPS, codec.PPS
			}
		case *codecs.MPEG4Audio:
			if c.audio == nil && codec.Config != nil {
				c.audio = t
				c.tracks.Audio = codec.Config
			}
		default:
			unsupported = append(unsupported, codecName(t.Codec))
		}
	}
	if c.video == nil {
		return media.UnsupportedError(unsupported)
	}
	return nil
}

// UnsupportedTracks lists ignored tracks, for a warning.
func (c *Conn) UnsupportedTracks() []string {
	var out []string
	for _, t := range c.reader.Tracks() {
		if t != c.video && t != c.audio {
			out = append(out, codecName(t.Codec))
		}
	}
	return out
}

// Tracks returns the stream's codec configuration.
func (c *Conn) Tracks() media.Tracks { return c.tracks }

// Run reads until ctx ends or the session fails; it closes the connection.
func (c *Conn) Run(ctx context.Context, h media.Handlers) error {
	defer c.client.Close()
	stop := context.AfterFunc(ctx, c.client.Close)
	defer stop()
	// MediaMTX derives the DTS it sends over RTMP and gets it wrong with
	// B-frames: swarmtx derives its own from the PTS.
	c.reader.OnDataH264(c.video, func(pts, _ time.Duration, au [][]byte) { h.OnVideo(pts, au) })
	if c.audio != nil {
		c.reader.OnDataMPEG4Audio(c.audio, h.OnAudio)
	}
	for {
		_ = c.client.NetConn().SetReadDeadline(time.Now().Add(readTimeout))
		if err := c.reader.Read(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read RTMP: %w", err)
		}
	}
}

// Close ends the session.
func (c *Conn) Close() { c.client.Close() }

func codecName(c codecs.Codec) string {
	switch c.(type) {
	case *codecs.H265:
		return "H.265 video"
	case *codecs.AV1:
		return "AV1 video"
	case *codecs.VP9:
		return "VP9 video"
	case *codecs.Opus:
		return "Opus audio"
	case *codecs.MPEG1Audio:
		return "MP3 audio"
	case *codecs.AC3:
		return "AC-3 audio"
	case *codecs.FLAC:
		return "FLAC audio"
	case *codecs.G711:
		return "G.711 audio"
	case *codecs.LPCM:
		return "LPCM audio"
	case *codecs.MPEG4Audio:
		return "AAC audio without configuration"
	default:
		return fmt.Sprintf("%T", c)
	}
}

// redact drops credentials from a URL before it is logged.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	if q.Has("pass") {
		q.Set("pass", "REDACTED")
		c.RawQuery = q.Encode()
	}
	return c.String()
}
