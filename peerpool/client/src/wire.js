// The swarmtx peer protocol in JavaScript: signaling messages and
// data-channel frames, exactly as peerpool/wire/doc.go specifies them (that
// comment is the specification; this file follows it). Everything that comes
// from the network is hostile: sizes are checked before anything is
// allocated and every error names the message and the field.
import { sha256 } from './sha256.js';

export const PROTOCOL_VERSION = 1;
export const DATA_CHANNEL_LABEL = 'parts';
export const MAX_FRAME_SIZE = 65536;
export const MIN_FRAME_SIZE = 1024;
export const MAX_PART_SIZE = 16 << 20;
export const MAX_SIGNAL_SIZE = 16 << 10;
export const MAX_CHUNKS = 128;
export const MIN_CHUNK_SIZE = 1024;
// Limits every peer keeps alike, as peerpool/wire/limits.go (which says
// what each is); TestJSLimitsAgreeWithGo checks these against it.
export const MAX_UPLOADS = 32;
export const MAX_BUFFERED = 1 << 20;
export const LOW_WATER = 256 << 10;
export const BUSY_HORIZON_MS = 100;
export const START_WITHIN_MS = 300;
export const BUSY_UPLOADS = 8;
export const MAX_DECLINED = 256;
export const STARVED_UPLOAD_MS = 5000;
export const HAVE_ON_OPEN = 64;
export const MAX_PENDING_BYTES = 4 << 20;
export const MAX_INCOMING = 24;
export const MAX_HAVE = 600;
export const MAX_ANNOUNCED = 600;
export const CONNECT_TIMEOUT_MS = 10000;
export const UNREACHABLE_AFTER_MS = 5000;
export const MAX_FRUITLESS_WANTS = 4;
export const MAX_UNPROVEN_NOPES = 8;
export const MAX_LIST_LEN = 64;
export const FIRST_BYTE_MS = 1000;
export const MAX_FRAMES_PER_SEC = 20000;
export const MAX_UNSOLICITED = 4 << 20;
export const MAX_REQUESTS = 16;
export const MAX_CONTROL_QUEUE = 8192;
export const UPLOAD_POLL_MS = 20;
const MAX_MSN = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const MAX_PART_INDEX = 1000;

export const HAVE = 1, WANT = 2, DATA = 3, CANCEL = 4, NOPE = 5;

export class ProtocolError extends Error {}
export class HashMismatch extends Error {}

const short = (s) => JSON.stringify(String(s).slice(0, 40));

// ---- identifiers ----

const RENDITION_RE = /^[a-z0-9]{1,32}$/;
const PEER_ID_RE = /^[0-9a-f]{32}$/;
const HASH_RE = /^[0-9a-f]{64}$/;

export function validRendition(r) {
  return typeof r === 'string' && RENDITION_RE.test(r) && r !== 'index';
}

export function validPeerID(s) { return typeof s === 'string' && PEER_ID_RE.test(s); }

const isInt = (x, lo, hi) => typeof x === 'number' && Number.isInteger(x) && x >= lo && x <= hi;

// checkPartID throws unless p is {r, msn, i} with valid values; an omitted
// (or null) msn or i is 0, as for every field of the protocol.
export function checkPartID(p, where) {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new ProtocolError(where + ': part id is not an object');
  for (const k of Object.keys(p)) {
    if (k !== 'r' && k !== 'msn' && k !== 'i') throw new ProtocolError(where + ': part id has unknown key ' + short(k));
  }
  if (p.msn == null) p.msn = 0;
  if (p.i == null) p.i = 0;
  if (!validRendition(p.r)) throw new ProtocolError(where + ': bad rendition ' + short(p.r));
  if (!isInt(p.msn, 0, MAX_MSN)) throw new ProtocolError(where + ': bad msn ' + short(p.msn));
  if (!isInt(p.i, 0, MAX_PART_INDEX)) throw new ProtocolError(where + ': bad part index ' + short(p.i));
  return p;
}

// partKey is the text form "720p/123.2".
export const partKey = (p) => p.r + '/' + p.msn + '.' + p.i;

// partFromURL returns the PartID of a part<msn>.<i>.m4s URL directly under
// base + rendition + '/', or null.
const PART_PATH_RE = /^([a-z0-9]{1,32})\/part(\d{1,16})\.(\d{1,4})\.m4s$/;
export function partFromURL(url, base) {
  let u;
  try { u = new URL(url, base); } catch (_) { return null; }
  const b = new URL(base);
  if (u.origin !== b.origin || !u.pathname.startsWith(b.pathname)) return null;
  const m = PART_PATH_RE.exec(u.pathname.slice(b.pathname.length));
  if (!m) return null;
  const p = { r: m[1], msn: Number(m[2]), i: Number(m[3]) };
  try { return checkPartID(p, 'url'); } catch (_) { return null; }
}

// ---- signaling ----

const CLIENT_KEYS = {
  join: ['v', 'rendition', 'upload', 'saveData', 'turnOnly'],
  signal: ['to', 'sdp', 'candidate'],
  have: ['parts'],
  rendition: ['rendition'],
  stats: ['rendition', 'httpBytes', 'p2pBytes', 'uploadBytes', 'stalls', 'stallMs', 'lagMs', 'peers', 'from', 'paths', 'unreachable'],
  report: ['peer', 'reason'],
};

// encodeSignal checks a client → server message and returns its JSON text;
// it throws rather than send what the server would reject.
export function encodeSignal(m) {
  const keys = CLIENT_KEYS[m.t];
  if (!keys) throw new Error('signal: unknown type ' + short(m.t));
  for (const k of Object.keys(m)) {
    if (k !== 't' && !keys.includes(k)) throw new Error('signal ' + m.t + ': unknown key ' + short(k));
  }
  switch (m.t) {
    case 'join':
      if (!validRendition(m.rendition)) throw new Error('join: bad rendition');
      if (!isInt(m.upload.capBps, 0, 1e10)) throw new Error('join: bad capBps');
      break;
    case 'signal':
      if (!validPeerID(m.to) || (!m.sdp === !m.candidate)) throw new Error('signal: bad relay');
      if (m.sdp && (m.sdp.sdp.length < 1 || byteLength(m.sdp.sdp) > 12 << 10)) throw new Error('signal: sdp size');
      if (m.candidate && (byteLength(m.candidate.candidate) > 512 || byteLength(m.candidate.sdpMid) > 32 ||
        !isInt(m.candidate.sdpMLineIndex, 0, 15))) throw new Error('signal: bad candidate');
      break;
    case 'stats':
      for (const k of ['httpBytes', 'p2pBytes', 'uploadBytes', 'stalls', 'stallMs', 'peers']) {
        if (!isInt(m[k], 0, MAX_MSN)) throw new Error('stats: bad ' + k);
      }
      if (!isInt(m.lagMs, -1, MAX_MSN)) throw new Error('stats: bad lagMs');
      if (m.from !== undefined) {
        if (!Array.isArray(m.from) || m.from.length > 64) throw new Error('stats: bad from');
        const seen = new Set();
        for (const e of m.from) {
          if (!e || Object.keys(e).some((k) => k !== 'peer' && k !== 'bytes') || !validPeerID(e.peer) ||
            !isInt(e.bytes, 0, MAX_MSN) || seen.has(e.peer)) throw new Error('stats: bad from entry');
          seen.add(e.peer);
        }
      }
      if (m.paths !== undefined) checkPaths(m.paths);
      if (m.unreachable !== undefined && typeof m.unreachable !== 'boolean') throw new Error('stats: bad unreachable');
      break;
    case 'report':
      if (!validPeerID(m.peer) || !['hash-mismatch', 'protocol', 'timeout'].includes(m.reason)) throw new Error('report: bad');
      break;
  }
  const s = JSON.stringify(m);
  if (s.length > MAX_SIGNAL_SIZE) throw new Error('signal ' + m.t + ': longer than 16 KiB');
  return s;
}

// The ICE candidate types and protocols stats.paths names, and how many
// entries it may have: every combination once.
export const CANDIDATE_TYPES = ['host', 'srflx', 'prflx', 'relay'];
export const ICE_PROTOCOLS = ['udp', 'tcp'];
export const MAX_PATHS = 32;

function checkPaths(paths) {
  if (!Array.isArray(paths) || paths.length > MAX_PATHS) throw new Error('stats: bad paths');
  const seen = new Set();
  let total = 0;
  for (const p of paths) {
    const key = p && p.local + '/' + p.remote + '/' + p.protocol;
    if (!p || Object.keys(p).some((k) => !['local', 'remote', 'protocol', 'count'].includes(k)) ||
      !CANDIDATE_TYPES.includes(p.local) || !CANDIDATE_TYPES.includes(p.remote) || !ICE_PROTOCOLS.includes(p.protocol) ||
      !isInt(p.count, 1, 64) || seen.has(key)) throw new Error('stats: bad paths entry');
    seen.add(key);
    total += p.count;
  }
  if (total > 64) throw new Error('stats: paths count more than 64 connections');
}

const SERVER_KEYS = {
  welcome: ['v', 'id', 'ice', 'iceTransportPolicy', 'partTargetMs', 'maxFrame'],
  peers: ['add', 'remove'],
  signal: ['from', 'sdp', 'candidate'],
  part: ['id', 'size', 'sha256', 'durationMs', 'independent', 'chunkSize', 'chunks'],
  error: ['reason'],
};

// byteLength is the UTF-8 length of s: the protocol's limits are in bytes.
const utf8 = new TextEncoder();
const byteLength = (s) => utf8.encode(s).length;

function str(v, where, max) {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new ProtocolError(where + ' is not a string');
  if (byteLength(v) > max) throw new ProtocolError(where + ' is longer than ' + max + ' bytes');
  return v;
}

// decodeFromServer parses and validates one server → client message.
export function decodeFromServer(text) {
  if (typeof text !== 'string') throw new ProtocolError('signal: binary message');
  if (text.length > MAX_SIGNAL_SIZE) throw new ProtocolError('signal: longer than 16 KiB');
  let m;
  try { m = JSON.parse(text); } catch (e) { throw new ProtocolError('signal: not JSON'); }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new ProtocolError('signal: not an object');
  const keys = SERVER_KEYS[m.t];
  if (!keys) throw new ProtocolError('signal: unknown type ' + short(m.t));
  for (const k of Object.keys(m)) {
    if (k !== 't' && !keys.includes(k)) throw new ProtocolError('signal ' + m.t + ': unknown key ' + short(k));
  }
  switch (m.t) {
    case 'welcome': {
      if (m.v !== PROTOCOL_VERSION) throw new ProtocolError('welcome: version ' + short(m.v));
      if (!validPeerID(m.id)) throw new ProtocolError('welcome: bad id');
      const ice = m.ice == null ? [] : m.ice;
      if (!Array.isArray(ice) || ice.length > 8) throw new ProtocolError('welcome: bad ice');
      m.ice = ice.map((s, i) => {
        if (s === null || typeof s !== 'object') throw new ProtocolError('welcome: ice[' + i + ']');
        for (const k of Object.keys(s)) {
          if (!['urls', 'username', 'credential'].includes(k)) throw new ProtocolError('welcome: ice key ' + short(k));
        }
        if (!Array.isArray(s.urls) || s.urls.length < 1 || s.urls.length > 8) throw new ProtocolError('welcome: ice urls');
        const urls = s.urls.map((u) => {
          str(u, 'welcome: ice url', 256);
          if (!/^(stun|turn|turns):/.test(u)) throw new ProtocolError('welcome: ice url ' + short(u));
          return u;
        });
        const out = { urls };
        const user = str(s.username, 'welcome: username', 256);
        const cred = str(s.credential, 'welcome: credential', 256);
        if (user) out.username = user;
        if (cred) out.credential = cred;
        return out;
      });
      if (m.iceTransportPolicy !== 'all' && m.iceTransportPolicy !== 'relay') throw new ProtocolError('welcome: iceTransportPolicy');
      if (!isInt(m.partTargetMs, 1, 60000)) throw new ProtocolError('welcome: partTargetMs');
      if (!isInt(m.maxFrame, MIN_FRAME_SIZE, MAX_FRAME_SIZE)) throw new ProtocolError('welcome: maxFrame');
      break;
    }
    case 'peers': {
      const add = m.add == null ? [] : m.add;
      const remove = m.remove == null ? [] : m.remove;
      if (!Array.isArray(add) || add.length > 64 || !Array.isArray(remove) || remove.length > 64) throw new ProtocolError('peers: bad lists');
      m.add = add.map((p) => {
        if (p === null || typeof p !== 'object') throw new ProtocolError('peers: add entry');
        for (const k of Object.keys(p)) if (k !== 'id' && k !== 'seed' && k !== 'noUpload') throw new ProtocolError('peers: key ' + short(k));
        if (!validPeerID(p.id)) throw new ProtocolError('peers: bad id ' + short(p.id));
        if (p.seed != null && typeof p.seed !== 'boolean') throw new ProtocolError('peers: seed');
        if (p.noUpload != null && typeof p.noUpload !== 'boolean') throw new ProtocolError('peers: noUpload');
        return { id: p.id, seed: !!p.seed, noUpload: !!p.noUpload };
      });
      remove.forEach((id) => { if (!validPeerID(id)) throw new ProtocolError('peers: bad id ' + short(id)); });
      m.remove = remove;
      break;
    }
    case 'signal': {
      if (!validPeerID(m.from)) throw new ProtocolError('signal: bad from');
      const hasSDP = m.sdp != null, hasCand = m.candidate != null;
      if (hasSDP === hasCand) throw new ProtocolError('signal: needs exactly one of sdp and candidate');
      if (hasSDP) {
        const s = m.sdp;
        if (typeof s !== 'object' || (s.type !== 'offer' && s.type !== 'answer')) throw new ProtocolError('signal: sdp.type');
        for (const k of Object.keys(s)) if (k !== 'type' && k !== 'sdp') throw new ProtocolError('signal: sdp key ' + short(k));
        if (str(s.sdp, 'signal: sdp.sdp', 12 << 10) === '') throw new ProtocolError('signal: sdp.sdp is empty');
      } else {
        const c = m.candidate;
        if (typeof c !== 'object') throw new ProtocolError('signal: candidate');
        for (const k of Object.keys(c)) {
          if (!['candidate', 'sdpMid', 'sdpMLineIndex'].includes(k)) throw new ProtocolError('signal: candidate key ' + short(k));
        }
        const cs = str(c.candidate, 'signal: candidate', 512);
        if (cs !== '' && !cs.startsWith('candidate:')) throw new ProtocolError('signal: candidate ' + short(cs));
        const mid = str(c.sdpMid, 'signal: sdpMid', 32);
        const idx = c.sdpMLineIndex == null ? 0 : c.sdpMLineIndex;
        if (!isInt(idx, 0, 15)) throw new ProtocolError('signal: sdpMLineIndex');
        m.candidate = { candidate: cs, sdpMid: mid, sdpMLineIndex: idx };
      }
      break;
    }
    case 'part':
      checkPartID(m.id, 'part');
      if (!isInt(m.size, 1, MAX_PART_SIZE)) throw new ProtocolError('part: size ' + short(m.size));
      if (m.sha256 == null) m.sha256 = '0'.repeat(64);
      if (typeof m.sha256 !== 'string' || !HASH_RE.test(m.sha256)) throw new ProtocolError('part: sha256');
      if (m.durationMs != null && !isInt(m.durationMs, 0, 60000)) throw new ProtocolError('part: durationMs');
      m.durationMs = m.durationMs || 0;
      if (m.independent != null && typeof m.independent !== 'boolean') throw new ProtocolError('part: independent');
      m.independent = !!m.independent;
      // Chunk hashes (the Go peer passes such parts on chunk by chunk; this
      // client checks them and verifies whole parts).
      if (m.chunkSize != null && !isInt(m.chunkSize, 0, MAX_PART_SIZE)) throw new ProtocolError('part: chunkSize');
      m.chunkSize = m.chunkSize || 0;
      if (m.chunks == null) m.chunks = [];
      if (!Array.isArray(m.chunks) || m.chunks.length > MAX_CHUNKS) throw new ProtocolError('part: chunks');
      m.chunks = m.chunks.map((h) => {
        if (h == null) return '0'.repeat(64); // null is the zero value, as for sha256
        if (typeof h !== 'string' || !HASH_RE.test(h)) throw new ProtocolError('part: chunk sha256');
        return h;
      });
      if (m.chunkSize !== 0 || m.chunks.length !== 0) {
        if (m.chunkSize < MIN_CHUNK_SIZE) throw new ProtocolError('part: chunkSize ' + m.chunkSize);
        if (m.chunks.length !== Math.ceil(m.size / m.chunkSize)) throw new ProtocolError('part: ' + m.chunks.length + ' chunk hashes');
      }
      break;
    case 'error':
      if (str(m.reason, 'error: reason', 256) === '') throw new ProtocolError('error: reason is empty');
      break;
  }
  return m;
}

// ---- data-channel frames ----

const partIDLen = (p) => 1 + p.r.length + 8 + 2;
// dataHeaderLen: the DATA frame header, 20 + len(rendition) bytes.
export const dataHeaderLen = (p) => 1 + partIDLen(p) + 8;

function putPartID(view, bytes, off, p) {
  view.setUint8(off, p.r.length);
  for (let k = 0; k < p.r.length; k++) bytes[off + 1 + k] = p.r.charCodeAt(k);
  off += 1 + p.r.length;
  view.setUint32(off, Math.floor(p.msn / 0x100000000));
  view.setUint32(off + 4, p.msn >>> 0);
  view.setUint16(off + 8, p.i);
  return off + 10;
}

// encodeControl returns a HAVE, WANT, CANCEL or NOPE frame.
export function encodeControl(type, p) {
  const buf = new ArrayBuffer(1 + partIDLen(p));
  const view = new DataView(buf);
  view.setUint8(0, type);
  putPartID(view, new Uint8Array(buf), 1, p);
  return buf;
}

// encodeData returns the DATA frame carrying payload at offset of part p
// of total bytes.
export function encodeData(p, offset, total, payload) {
  if (payload.length < 1 || total > MAX_PART_SIZE || offset + payload.length > total) {
    throw new Error('encodeData: ' + payload.length + ' bytes at ' + offset + ' of ' + total);
  }
  const hdr = dataHeaderLen(p);
  const buf = new ArrayBuffer(hdr + payload.length);
  const view = new DataView(buf);
  const bytes = new Uint8Array(buf);
  view.setUint8(0, DATA);
  const o = putPartID(view, bytes, 1, p);
  view.setUint32(o, offset);
  view.setUint32(o + 4, total);
  bytes.set(payload, o + 8);
  return buf;
}

// parseFrame reads one frame; data of a DATA frame aliases buf.
export function parseFrame(buf) {
  if (!(buf instanceof ArrayBuffer)) throw new ProtocolError('frame: not binary');
  if (buf.byteLength > MAX_FRAME_SIZE) throw new ProtocolError('frame: ' + buf.byteLength + ' bytes, longer than 65536');
  if (buf.byteLength < 2) throw new ProtocolError('frame: too short');
  const view = new DataView(buf);
  const type = view.getUint8(0);
  if (type < HAVE || type > NOPE) throw new ProtocolError('frame: unknown type ' + type);
  const n = view.getUint8(1);
  if (n < 1 || n > 32) throw new ProtocolError('frame: rendition length ' + n);
  if (buf.byteLength < 2 + n + 10) throw new ProtocolError('frame: truncated part id');
  let r = '';
  for (let k = 0; k < n; k++) r += String.fromCharCode(view.getUint8(2 + k));
  let off = 2 + n;
  const hi = view.getUint32(off), lo = view.getUint32(off + 4);
  if (hi > 0x1fffff) throw new ProtocolError('frame: msn above 2^53-1');
  const id = checkPartID({ r, msn: hi * 0x100000000 + lo, i: view.getUint16(off + 8) }, 'frame');
  off += 10;
  if (type !== DATA) {
    if (off !== buf.byteLength) throw new ProtocolError('frame: bytes after the part id');
    return { type, id };
  }
  if (buf.byteLength < off + 8 + 1) throw new ProtocolError('DATA frame: no payload');
  const offset = view.getUint32(off), total = view.getUint32(off + 4);
  const data = new Uint8Array(buf, off + 8);
  if (total < 1 || total > MAX_PART_SIZE) throw new ProtocolError('DATA frame: total ' + total);
  if (offset + data.length > total) throw new ProtocolError('DATA frame: past total');
  return { type, id, offset, total, data };
}

// ---- hashing and reassembly ----

// sha256Hex uses crypto.subtle where the page is a secure context and the
// plain-JavaScript SHA-256 elsewhere (http:// pages on a LAN address).
export async function sha256Hex(bytes) {
  const subtle = typeof crypto !== 'undefined' && crypto.subtle;
  return hex(subtle ? new Uint8Array(await subtle.digest('SHA-256', bytes)) : sha256(bytes));
}

// sha256HexSync is the plain-JavaScript SHA-256 in hex: the exchange
// verifies parts synchronously, as a state machine must.
export const sha256HexSync = (bytes) => hex(sha256(bytes));

function hex(d) {
  let s = '';
  for (const b of d) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

// chunkEnd is where the chunk holding byte offset ends, for a part of size
// bytes in chunks of chunkSize (0: the part is one chunk).
export const chunkEnd = (offset, size, chunkSize) =>
  chunkSize > 0 ? Math.min((Math.floor(offset / chunkSize) + 1) * chunkSize, size) : size;

// Assembler rebuilds one announced part (a "part" message) from in-order
// DATA frames. When the part was announced with chunk hashes it verifies
// each chunk as soon as it is complete (synchronously, so the verified
// prefix can be passed on at once) and throws HashMismatch at the first bad
// one; it checks the whole part's SHA-256 when the last byte comes. It
// allocates the announced size at the first frame, never more.
export class Assembler {
  constructor(a) {
    this.id = a.id; this.size = a.size; this.sha256 = a.sha256;
    this.chunkSize = a.chunks && a.chunks.length ? a.chunkSize : 0;
    this.chunks = a.chunks || [];
    this.buf = null; this.next = 0;
    this.verifiedLen = 0; // bytes verified chunk by chunk
  }

  // add takes one parsed DATA frame and returns true once the part is complete.
  add(f) {
    if (f.total !== this.size) throw new ProtocolError('DATA ' + partKey(this.id) + ': total ' + f.total + ', announced ' + this.size);
    if (f.offset !== this.next) throw new ProtocolError('DATA ' + partKey(this.id) + ': offset ' + f.offset + ', expected ' + this.next);
    if (this.next >= this.size) throw new ProtocolError('DATA ' + partKey(this.id) + ': after the part was complete');
    if (!this.buf) this.buf = new Uint8Array(this.size);
    this.buf.set(f.data, f.offset);
    this.next += f.data.length;
    while (this.chunkSize > 0 && this.verifiedLen < this.size) {
      const end = chunkEnd(this.verifiedLen, this.size, this.chunkSize);
      if (end > this.next) break;
      const k = Math.floor(this.verifiedLen / this.chunkSize);
      if (hex(sha256(this.buf.subarray(this.verifiedLen, end))) !== this.chunks[k]) {
        throw new HashMismatch('part ' + partKey(this.id) + ': chunk ' + k + ' does not match its announced hash');
      }
      this.verifiedLen = end;
    }
    if (this.next < this.size) return false;
    if (sha256HexSync(this.buf) !== this.sha256) throw new HashMismatch('part ' + partKey(this.id) + ': SHA-256 does not match the announced hash');
    this.verifiedLen = this.size;
    return true;
  }

  // verified returns the bytes verified so far: a prefix of the part, all
  // of it once add returned true. Its bytes never change.
  verified() { return this.buf ? this.buf.subarray(0, this.verifiedLen) : new Uint8Array(0); }
}
