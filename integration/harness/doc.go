// Package harness runs the real pieces around swarmtx for integration tests:
// the pinned MediaMTX binary, ffmpeg publishing like OBS over RTMP or SRT,
// ffmpeg decode checks, a private network namespace, and headless Chromium
// viewers that play HLS through hls.js and report what they see.
//
// Everything it starts is bound to a *testing.T and stopped in t.Cleanup.
// External tools come from the cache filled by `make deps`
// (integration/tools/deps.sh); when they are missing the harness fails the
// test instead of skipping it, because `make test` always runs deps first and
// a silently skipped integration test would hide a broken setup.
//
// Network rule: tests only use loopback or a network namespace they create.
// Browser tests call RunInNetns from TestMain so that the whole test binary
// runs in its own namespace with a veth pair (see NetnsHost). From there,
// StartNATBed (natbed.go) builds an internet of namespaces with the test
// namespace as the origin host and viewers' homes behind different NATs.
package harness
