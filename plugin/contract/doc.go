// Package contract is the go-plugin contract between `swarmtx attach` (the
// host side, one short-lived process per ready MediaMTX stream) and
// `swarmtx plugin` (the long-lived plugin process that runs the bridge).
//
// It holds the handshake, the plugin map, plain Go request/status types,
// the Bridge interface the plugin serves, and the gRPC glue (see grpc.go).
// The protobuf types live in contractpb and never leak out of this package,
// so implementations of Bridge do not import generated code.
//
// A Bridge serves two kinds of attachment: Attach, where the plugin pulls
// the stream back from MediaMTX, and Push, where the host sends it.
//
// # Push mode: serving a Go server's own streams
//
// A Go program with its own ingest (an RTMP or SRT server, a WebRTC
// gateway, a file player) can hand its streams to swarmtx without MediaMTX:
// it embeds the host side of this contract, launches the plugin in go-
// plugin's managed way, and pushes each stream's codec configuration and
// access units. The plugin packages them exactly as a stream it pulls from
// MediaMTX: same LL-HLS ladder, origin, swarm, metrics and status.
// examples/gortmp-server is a complete one, on github.com/yutopp/go-rtmp.
//
// # Launching the plugin
//
// Use go-plugin's client with this package's Handshake and PluginMap, gRPC
// only, and EnvManaged=1 in the plugin's environment, which makes the
// plugin the launcher's own: it writes no reattach file for MediaMTX hooks
// to find, stops when the launcher calls Kill, and stops by itself if the
// launcher dies.
//
//	cmd := exec.Command("swarmtx", "plugin", "--config", "/etc/swarmtx.yml")
//	cmd.Env = append(os.Environ(), contract.EnvManaged+"=1")
//	pc := plugin.NewClient(&plugin.ClientConfig{
//		HandshakeConfig:  contract.Handshake,
//		Plugins:          contract.PluginMap(nil, nil),
//		Cmd:              cmd,
//		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
//		Managed:          true,
//	})
//	defer pc.Kill()
//	rpc, err := pc.Client()
//	...
//	raw, err := rpc.Dispense(contract.PluginName)
//	bridge := raw.(*contract.Client)
//
// # Pushing a stream
//
// Client.Push opens one stream: an AttachRequest (the path viewers will
// find it at, e.g. "live/show"; no PullURL; Options as the swarmtx config's
// StreamOptions or your own) and its PushTracks (H.264 SPS and PPS,
// optional AAC AudioSpecificConfig). Then, for as long as the stream lives:
//
//	ps, err := bridge.Push(ctx, req, contract.PushTracks{SPS: sps, PPS: pps, AudioConfig: asc})
//	ps.WriteVideo(pts, nalus) // one H.264 access unit: NAL units without start codes or lengths
//	ps.WriteAudio(pts, au)    // one raw AAC access unit, no ADTS header
//	ps.Close()                // the publisher left
//
// Presentation times are the host's own clock (any origin; the plugin maps
// them onto the stream's timeline and derives decode times itself, so
// B-frames need no DTS). Write each track's access units in decode order,
// as an encoder delivers them and RTMP carries them; SPS and PPS may also come in band in
// a video access unit, and a change takes effect at the next keyframe. The
// stream is served until Close or ctx's end; the plugin keeps its playlists
// for the reconnect window, and a new Push of the same path continues them
// with a discontinuity, as a MediaMTX publisher reconnecting does. Events
// carries ATTACHED (with the viewers' URL), RENDITIONS and WARNING notes.
//
// # What the plugin checks
//
// Everything pushed is untrusted. The first message must be the
// configuration; the request is validated as Attach validates a hook's
// (path, query, options) and must carry no pull URL; the SPS is parsed with
// mediacommon's h264 and the AudioSpecificConfig with its mpeg4audio, so
// only H.264 video with optional AAC audio is accepted; every access unit
// is bounded (MaxNALUsPerAU NAL units, MaxVideoAUBytes, MaxAudioAUBytes,
// MaxParamSetLen, MaxAudioConfigLen, presentation times within ±MaxPTS). A
// message breaking a rule ends that push, and only that push, with an error
// wrapping ErrBadPush and ErrPermanent that names what was wrong
// (PushStream.Err, and the error a later write returns). WriteVideo and
// WriteAudio check the same limits before sending, so a host can drop one
// bad frame without losing the stream.
package contract
