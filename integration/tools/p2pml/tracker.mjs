// A WebTorrent tracker (bittorrent-tracker, WebSocket only) for the
// comparison benchmark's p2p-media-loader viewers.
//
//   node tracker.mjs <directory holding node_modules> <host> <port>
//
// The packages live in the tool cache, not next to this file, so the module
// is imported by its path: the server alone, since the package's index also
// loads the Node WebRTC client, whose native binary an install without
// scripts does not have. "listening" on stdout tells the harness it is up.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [dir, host, port] = process.argv.slice(2);
const mod = path.join(dir, "node_modules", "bittorrent-tracker", "server.js");
const { default: Server } = await import(pathToFileURL(mod).href);

const server = new Server({ udp: false, http: false, ws: true, stats: false });
server.on("error", (err) => { console.error("tracker error:", err.message); process.exit(1); });
server.on("warning", (err) => console.error("tracker warning:", err.message));
server.on("start", (addr) => console.error("tracker: peer started", addr));
server.listen(Number(port), host, () => console.log("listening", host, port));
