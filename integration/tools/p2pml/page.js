// The comparison benchmark's p2p-media-loader viewer. It is bundled (esbuild,
// IIFE) into the harness's setup.js, after the harness has loaded hls.js as
// window.Hls and before its player script makes `new Hls(config)`: swapping
// window.Hls for p2p-media-loader's mixin class is all the integration that
// p2p-media-loader asks of a page.
//
// window.p2pmlOptions = {trackers: ["ws://..."], hls: {...}} comes first in
// setup.js. Peers get no ICE servers: the benchmark's viewers share one
// network namespace and must not reach any outside STUN host.
import { HlsJsP2PEngine } from "p2p-media-loader-hlsjs";

const opts = window.p2pmlOptions || {};
window.Hls = HlsJsP2PEngine.injectMixin(window.Hls);

const stats = {
  httpBytes: 0, // media bytes p2p-media-loader fetched over HTTP (whole segments only)
  p2pBytes: 0,
  uploadBytes: 0,
  peers: 0,
  peersEver: 0,
  segmentsLoaded: 0,
  segmentErrors: 0,
  trackerErrors: 0,
  trackerWarnings: 0,
  lastTrackerError: "",
};

window.swarmtxSetup = (config) => {
  Object.assign(config, opts.hls || {});
  config.p2p = {
    core: {
      announceTrackers: opts.trackers || [],
      rtcConfig: { iceServers: [] },
    },
    onHlsJsCreated(hls) {
      const e = hls.p2pEngine;
      e.addEventListener("onChunkDownloaded", (n, source) => {
        if (source === "p2p") stats.p2pBytes += n;
        else stats.httpBytes += n;
      });
      e.addEventListener("onChunkUploaded", (n) => { stats.uploadBytes += n; });
      e.addEventListener("onPeerConnect", () => { stats.peers++; stats.peersEver++; });
      e.addEventListener("onPeerClose", () => { stats.peers--; });
      e.addEventListener("onSegmentLoaded", () => { stats.segmentsLoaded++; });
      e.addEventListener("onSegmentError", () => { stats.segmentErrors++; });
      e.addEventListener("onTrackerError", (d) => {
        stats.trackerErrors++;
        stats.lastTrackerError = String(d && d.error);
      });
      e.addEventListener("onTrackerWarning", () => { stats.trackerWarnings++; });
    },
  };
};

window.swarmtxStats = () => stats;
