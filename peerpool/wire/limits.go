package wire

// Limits every peer implementation keeps alike: the Go exchange
// (peerpool/exchange) and the browser client (the same names in upper snake
// case in src/wire.js, checked against these by peerpool/client's
// TestJSLimitsAgreeWithGo). They are not rules a neighbour can check, but
// a swarm of both behaves as one only when they match: how much each peer
// queues for a neighbour before it answers NOPE, when it counts itself
// busy, how long it waits for bytes, how much it holds for a neighbour.
const (
	// MaxUploads is how many parts may be queued for upload to one
	// neighbour; a WANT beyond it is answered NOPE.
	MaxUploads = 32
	// MaxBuffered is the most queued on one data channel; sending
	// resumes below LowWater (bufferedamountlow).
	MaxBuffered = 1 << 20
	LowWater    = 256 << 10
	// A peer is busy, and declines further WANTs with NOPE until its
	// queue drains, when its queued uploads would take more than
	// BusyHorizonMs at its upload cap, or, without a cap, when BusyUploads
	// parts are queued. It remembers up to MaxDeclined declines to say
	// HAVE again for them. An upload it accepted that has not started
	// within StartWithinMs (newer parts went first) is declined then.
	// The horizon is short so that a part's copies spread to receivers
	// that pass it on rather than queue behind one uploader; the start
	// is given longer, as each such late NOPE counts towards dropping a
	// neighbour that never delivered (MaxUnprovenNopes).
	BusyHorizonMs = 100
	StartWithinMs = 300
	BusyUploads   = 8
	MaxDeclined   = 256
	// StarvedUploadMs is how long an upload of a part still arriving may
	// wait for its next verified bytes before it is dropped with NOPE.
	StarvedUploadMs = 5000
	// HaveOnOpen is how many of its newest parts a peer says HAVE for
	// when a neighbour's data channel opens.
	HaveOnOpen = 64
	// DATA of parts not announced yet is held, per neighbour, up to
	// MaxPendingBytes in all; at most MaxIncoming parts are received from
	// one neighbour at once.
	MaxPendingBytes = 4 << 20
	MaxIncoming     = 24
	// MaxHave is how many HAVEs are remembered per neighbour, and
	// MaxAnnounced how many part announcements (and parts said HAVE for
	// early) a peer remembers: two minutes of 200 ms parts, more than any
	// store of parts holds.
	MaxHave      = 600
	MaxAnnounced = 600
	// ConnectTimeoutMs is how long a neighbour's data channel may take to
	// open before the peer drops it and reports it ("timeout").
	ConnectTimeoutMs = 10000
	// UnreachableAfterMs: a peer offered neighbours none of whose data
	// channels opened within this long of the first offer says so in its
	// stats (unreachable), and the server stops offering it to others.
	UnreachableAfterMs = 5000
	// A neighbour that takes WANTs and never delivers is dropped and
	// reported ("timeout"): after MaxFruitlessWants WANTs in a row that it
	// let stall without sending a byte, or, while it has never delivered a verified byte,
	// MaxUnprovenNopes NOPEs. A busy honest peer NOPEs too, but it also
	// delivers, and each delivery starts the count again.
	MaxFruitlessWants = 4
	MaxUnprovenNopes  = 8
	// A WANT counts against a neighbour only when it brought neither a byte
	// nor a NOPE within FirstByteMs: an honest peer starts an upload it
	// accepted within StartWithinMs or answers NOPE, so a busy one is never
	// taken for a liar. A fetch moves on to the next holder sooner; the
	// WANT stays open until it is judged.
	FirstByteMs = 1000
	// A neighbour that sends more than MaxFramesPerSec frames in a second,
	// or more than MaxUnsolicited bytes of DATA nobody asked for, breaks
	// the protocol ("protocol").
	MaxFramesPerSec = 20000
	MaxUnsolicited  = 4 << 20
	// MaxRequests is how many of a peer's WANTs may be outstanding at one
	// neighbour; MaxControlQueue how many control frames may wait for one
	// neighbour's channel before it counts as not reading.
	MaxRequests     = 16
	MaxControlQueue = 8192
	// UploadPollMs is how long, with an upload cap, an upload waiting for
	// its turn behind another neighbour's waits before it looks again.
	UploadPollMs = 20
)
