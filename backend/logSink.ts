// The lab's syslog sink for HAProxy's request log, shipped to the metrics host (one file, node:
// modules only). It receives HAProxy's UDP syslog lines, stamps each with its arrival time
// (ms), appends them to a file, and serves a time window of them over HTTP on the same port:
//   GET /lines?from=<ms>&to=<ms>   the lines received in [from, to]
//   GET /health                    counts
// Usage: node logSink.ts --listen ADDRESS:PORT --file PATH [--max-bytes N]
import dgram from "node:dgram";
import http from "node:http";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { listen: { type: "string" }, file: { type: "string" }, "max-bytes": { type: "string", default: String(2 ** 30) } } });
const [address, portText] = (values.listen ?? "").split(":");
const port = Number(portText);
const file = values.file ?? "";
const maxBytes = Number(values["max-bytes"]);
if (!address || !Number.isInteger(port) || !file || !(maxBytes > 0)) {
    console.error("usage: logSink --listen ADDRESS:PORT --file PATH [--max-bytes N]");
    process.exit(2);
}

const out = createWriteStream(file, { flags: "a" });
const counts = { received: 0, written: 0, droppedOverCap: 0, bytes: 0 };

const udp = dgram.createSocket({ type: "udp4", recvBufferSize: 16 * 2 ** 20 });
udp.on("message", (msg) => {
    counts.received++;
    // One datagram is one syslog line; drop the "<PRI>" prefix, keep the rest as is.
    const line = `${Date.now()} ${msg
        .toString("utf8")
        .replace(/^<\d+>/, "")
        .replace(/\n+$/, "")}\n`;
    if (counts.bytes + line.length > maxBytes) {
        counts.droppedOverCap++;
        return;
    }
    counts.bytes += line.length;
    counts.written++;
    out.write(line);
});
udp.bind(port, address);

const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://sink");
    if (url.pathname === "/health") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(counts));
        return;
    }
    if (url.pathname !== "/lines") {
        res.writeHead(404).end();
        return;
    }
    const from = Number(url.searchParams.get("from") ?? 0);
    const to = Number(url.searchParams.get("to") ?? Number.MAX_SAFE_INTEGER);
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    await new Promise<void>((resolve) => out.write("", () => resolve())); // flush what was received so far
    if (!existsSync(file)) {
        res.end();
        return;
    }
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        const at = Number(line.slice(0, 13));
        if (at >= from && at <= to && !res.write(`${line}\n`)) await new Promise((r) => res.once("drain", r));
    }
    res.end();
});
server.listen(port, address, () => console.log(`logSink: udp+http on ${address}:${port} → ${file}`));

const stop = () => {
    udp.close();
    server.close();
    out.end(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
