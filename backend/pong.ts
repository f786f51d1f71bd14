// The seed's "pong" server, in TypeScript. Faithful to the original:
//   - every request gets 200 and the body "pong";
//   - header `sleep: N` → wait a random 0..N+1 ms before each write;
//   - header `times: T` → write "pong" T more times (each after its own random wait);
//   - server-side timeouts are disabled: the seed lost every request longer than Node's
//     old 120 s default, and newer Node adds a 300 s requestTimeout.
// Usage: node backend/pong.ts <port> [--host ADDRESS] [--request-timeout-ms N]
import http from "node:http";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

export function randomIntInclusive(low: number, high: number): number {
    return Math.floor(Math.random() * (high - low + 1) + low);
}

/**
 * The seed read both headers with parseInt; a missing/garbled value means "no wait / no repeat".
 * `hold: N` is the rig's own addition (not in the seed): wait exactly N ms before the first
 * write, so a ramp of requests keeps every connection open for a known time (bench/scale).
 */
export function parseHeaders(headers: http.IncomingHttpHeaders): { sleepMs: number; times: number; holdMs: number } {
    const int = (name: string) => {
        const n = Number.parseInt(String(headers[name] ?? ""), 10);
        return Number.isFinite(n) && n > 0 ? n : 0;
    };
    return { sleepMs: int("sleep"), times: int("times"), holdMs: int("hold") };
}

export interface PongCounters { requests: number; responses: number; inFlight: number }

export function createPongServer(options: { requestTimeoutMs?: number } = {}) {
    const counters: PongCounters = { requests: 0, responses: 0, inFlight: 0 };
    const server = http.createServer((req, res) => {
        if (req.url === "/metrics") {
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
            res.end(renderMetrics(counters));
            return;
        }
        counters.requests++;
        counters.inFlight++;
        const { sleepMs, times, holdMs } = parseHeaders(req.headers);
        req.resume(); // the body (the seed's post_smaller.txt) is read and dropped
        res.writeHead(200, { "content-type": "text/plain" });
        let done = false;
        const finish = () => {
            if (done) return;
            done = true;
            counters.inFlight--;
        };
        res.on("close", finish);
        const write = (remaining: number) => {
            if (res.destroyed) return;
            res.write("pong");
            if (remaining === 0) {
                res.end();
                counters.responses++;
                finish();
            } else {
                setTimeout(write, randomIntInclusive(0, sleepMs + 1), remaining - 1);
            }
        };
        setTimeout(write, holdMs + (sleepMs > 0 ? randomIntInclusive(0, sleepMs + 1) : 0), times);
    });
    const timeout = options.requestTimeoutMs ?? 0;
    server.timeout = timeout;
    server.requestTimeout = timeout;
    // Longer than HAProxy keeps idle server connections, so HAProxy closes them first.
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 65_000;
    return { server, counters };
}

export function renderMetrics(c: PongCounters): string {
    return [
        "# TYPE pong_requests_total counter", `pong_requests_total ${c.requests}`,
        "# TYPE pong_responses_total counter", `pong_responses_total ${c.responses}`,
        "# TYPE pong_in_flight gauge", `pong_in_flight ${c.inFlight}`, "",
    ].join("\n");
}

function main() {
    const { values, positionals } = parseArgs({
        allowPositionals: true,
        options: { host: { type: "string", default: "0.0.0.0" }, "request-timeout-ms": { type: "string", default: "0" } },
    });
    const port = Number(positionals[0]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
        console.error("usage: pong <port> [--host ADDRESS] [--request-timeout-ms N]");
        process.exit(2);
    }
    const { server } = createPongServer({ requestTimeoutMs: Number(values["request-timeout-ms"]) });
    server.listen(port, values.host, () => console.log(`pong listening on ${values.host}:${port}`));
    const stop = () => server.close(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
