// Entry of dist/player.js: exposes the player as window.swarmtx, and the
// hls.js it bundles as swarmtx.Hls for pages that drive hls.js themselves
// (with swarmtx.hlsConfigWithSwarm(src) for the P2P part loader).
import Hls from 'hls.js';
import { play, page, hlsConfig, hlsConfigWithSwarm, watchPlayer } from './player.js';
import { Swarm } from './swarm.js';

window.swarmtx = { play, page, hlsConfig, hlsConfigWithSwarm, watchPlayer, Swarm, Hls };
