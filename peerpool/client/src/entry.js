// Entry of dist/player.js: exposes the player as window.swarmtx, and the
// hls.js it bundles as swarmtx.Hls for pages that drive hls.js themselves.
import Hls from 'hls.js';
import { play, page, hlsConfig } from './player.js';

window.swarmtx = { play, page, hlsConfig, Hls };
