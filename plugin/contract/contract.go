package contract

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the go-plugin application protocol version. Bump it on
// any incompatible change of the gRPC contract: a hook that finds a plugin
// speaking another version replaces that plugin.
const ProtocolVersion = 1

// PluginName is the key of the bridge plugin in PluginMap.
const PluginName = "bridge"

// Handshake is the go-plugin handshake shared by host and plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SWARMTX_PLUGIN",
	MagicCookieValue: "7d1f0c5e-swarmtx-bridge",
}

// EnvManaged, set to "1" in the environment of `swarmtx plugin`, makes
// the plugin belong to the process that launched it (a Go server pushing
// its streams, with go-plugin's managed client): it writes no reattach
// file for hooks to find and stops when that process kills it or exits.
// Hooks launch the plugin without it, as a process of its own.
const EnvManaged = "SWARMTX_PLUGIN_MANAGED"

// PluginMap returns the plugin set for go-plugin. On the plugin side impl
// is the served Bridge and shutdown (may be nil) is called by the Shutdown
// RPC; on the host side pass nil for both.
func PluginMap(impl Bridge, shutdown func(reason string)) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &GRPCPlugin{Impl: impl, ShutdownFunc: shutdown}}
}

// ErrPermanent marks a failure that retrying the same attach cannot fix
// (unsupported codec, invalid request, ...). A Bridge signals it by returning
// an error that wraps ErrPermanent (use Permanent(err)); the host then prints
// it once and stays idle instead of letting MediaMTX's runOnReadyRestart
// loop the same error.
var ErrPermanent = errors.New("permanent")

// ErrPluginGone is returned by Client.Attach when the connection to the plugin
// broke (the plugin crashed or was killed). The hook exits non-zero so that
// MediaMTX restarts it, which relaunches the plugin.
var ErrPluginGone = errors.New("connection to swarmtx plugin lost")

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() []error {
	return []error{e.err, ErrPermanent}
}

// Permanent wraps err so that errors.Is(err, ErrPermanent) holds while the
// message stays err's own. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return permanentError{err}
}

// IsPermanent reports whether err wraps ErrPermanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// EventKind is the kind of an Event sent from the plugin to the hook.
type EventKind int

const (
	// EventAttached: the plugin accepted the stream; URL is where viewers play it.
	EventAttached EventKind = iota + 1
	// EventRenditions: the rendition set is known or changed (Renditions).
	EventRenditions
	// EventWarning: something degraded but the stream is served (e.g. no ffmpeg).
	EventWarning
	// EventError: an error; Permanent tells whether retrying can help.
	EventError
)

func (k EventKind) String() string {
	switch k {
	case EventAttached:
		return "ATTACHED"
	case EventRenditions:
		return "RENDITIONS"
	case EventWarning:
		return "WARNING"
	case EventError:
		return "ERROR"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is progress reported to the hook, which prints it to its stderr
// (MediaMTX shows hook output in its log).
type Event struct {
	Kind       EventKind
	Message    string
	Renditions []string
	URL        string
	// Permanent is meaningful for EventError only.
	Permanent bool
}

// StreamOptions are the per-stream settings (swarmtx config, overridden per
// path by `swarmtx attach` flags).
type StreamOptions struct {
	SegmentDuration time.Duration // target segment duration, 1s..10s
	PartDuration    time.Duration // LL-HLS part duration, 100ms..2s, ≤ SegmentDuration/2
	ReconnectWindow time.Duration // how long a dropped publisher may take to come back, 0..10m
	Ladder          string        // e.g. "source,720p,480p,360p"; see ladder.ParseLadder
	WindowSegments  int           // segments kept in the playlist window, 3..60
	// HoldBackParts is how many parts behind the live edge players play
	// (the playlist's PART-HOLD-BACK), 3..20 and at most two segments'
	// worth. Each part more gives the swarm that much longer to carry a
	// part before a viewer must fetch it over HTTP: lower server egress
	// for more latency.
	HoldBackParts int
}

// DefaultStreamOptions are the built-in defaults (also swarmtx config's).
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{
		SegmentDuration: 2 * time.Second,
		PartDuration:    500 * time.Millisecond,
		ReconnectWindow: 30 * time.Second,
		Ladder:          "source,720p,480p,360p",
		WindowSegments:  8,
		HoldBackParts:   3,
	}
}

// AttachRequest asks the plugin to serve one MediaMTX path. It comes from a
// hook command line and environment, so it is untrusted: call Validate.
type AttachRequest struct {
	Path       string // MediaMTX path, e.g. "live/show"
	Query      string // MTX_QUERY
	SourceType string // MTX_SOURCE_TYPE, e.g. "rtmpConn", "srtConn"
	SourceID   string // MTX_SOURCE_ID
	PullURL    string // rtmp(s):// or rtsp(s):// URL to read the stream from MediaMTX
	Options    StreamOptions
}

// StreamState is the state of an attached stream.
type StreamState string

const (
	StateAttached            StreamState = "attached"
	StateWaitingForReconnect StreamState = "waiting-for-reconnect"
)

// StreamStatus describes one attached stream.
type StreamStatus struct {
	Path          string
	State         StreamState
	Renditions    []string
	AttachedSince time.Time
	BytesServed   uint64
	URL           string
	// Viewers is the number of viewers in the stream's swarm now.
	Viewers int
	// Copies are, per rendition since the stream attached, the bytes the
	// server sent for it divided by its bytes (plain HTTP costs one copy
	// per viewer).
	Copies []RenditionCopies
	// P2PShare is the share of the media bytes viewers reported that came
	// from other viewers, since the stream attached.
	P2PShare float64
	// Connections are the peer connections the swarm's viewers report now,
	// by type (e.g. "host/udp", "srflx/udp", "relay/udp": a candidate
	// pair's worse end and its protocol), the usual types first; types
	// with none are left out.
	Connections []ConnectionCount
	// ViewersWithoutP2P are the viewers joined for 10 s or more that got
	// no media from peers.
	ViewersWithoutP2P int
}

// ConnectionCount is the number of peer connections of one type.
type ConnectionCount struct {
	Type  string
	Count int
}

// RenditionCopies are the server copies of one rendition, by channel.
type RenditionCopies struct {
	Rendition string
	HTTP      float64 // sent by the origin
	Peer      float64 // pushed into the swarm by the plugin's seeder
	// Viewers in the rendition's swarm when its last seed window ended; 0
	// when none ended in the last minute (windows end only while the
	// rendition's swarm viewers report media).
	Viewers int
	// LastMinuteMade and LastMinuteSent are the rendition's bytes and the
	// server's bytes sent for it (HTTP and seeding) over the last minute;
	// see CopiesLastMinute.
	LastMinuteMade uint64
	LastMinuteSent uint64
}

// CopiesLastMinute is the server copies over the last minute, the figure
// that shows a change at once while the totals since attach move slowly.
// ok is false when the rendition made no bytes in that minute.
func (c RenditionCopies) CopiesLastMinute() (copies float64, ok bool) {
	if c.LastMinuteMade == 0 {
		return 0, false
	}
	return float64(c.LastMinuteSent) / float64(c.LastMinuteMade), true
}

// Status describes the plugin process. Pid, Version and ListenAddress may be
// left empty by a Bridge: the plugin server fills Pid and Version.
type Status struct {
	Pid           int
	Version       string
	ListenAddress string // HTTP listen address of the origin
	Started       time.Time
	Streams       []StreamStatus
}

// Bridge is what the plugin serves; bridge/ implements it.
type Bridge interface {
	// Attach serves the stream until ctx ends (the hook went away) or the
	// stream fails; emit reports progress to the hook. Return nil when ctx
	// ended; an error wrapping ErrPermanent for failures retrying cannot fix
	// (e.g. unsupported codec); any other error for transient failures
	// (the hook exits non-zero and MediaMTX restarts it). emit must not be
	// called after Attach returns; it is safe for concurrent use.
	Attach(ctx context.Context, req AttachRequest, emit func(Event)) error
	// Push serves a stream whose media the host pushes (src) instead of
	// the plugin pulling it, with the same lifetime and error rules as
	// Attach: it returns nil when ctx ended or the host closed its side
	// (src.Next gave io.EOF), and the error src.Next gave when the host
	// broke the rules (it wraps ErrPermanent). req.PullURL is empty.
	Push(ctx context.Context, req AttachRequest, src PushSource, emit func(Event)) error
	// Status reports every attached stream.
	Status(ctx context.Context) (Status, error)
}
