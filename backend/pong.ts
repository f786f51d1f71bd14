// The seed's "pong" server, in TypeScript. Faithful to the original:
//   - every request gets 200 and the body "pong";
//   - header `sleep: N` → wait a random 0..N+1 ms before each write;
//   - header `times: T` → write "pong" T more times (each after its own random wait);
//   - server-side timeouts are disabled: the seed lost every request longer than Node's
//     old 120 s default, and newer Node adds a 300 s requestTimeout.
// The rig adds a capacity limit (not in the seed), for benches of known capacity:
//   - --max-concurrent N: at most N requests in service at once; later ones wait in a FIFO queue;
//   - --service-time-ms S: every request holds its slot at least S ms before the first write,
//     so one process serves at most N × 1000 / S requests per second.
// Usage: node backend/pong.ts <port> [--host ADDRESS] [--request-timeout-ms N] [--max-concurrent N] [--service-time-ms S]
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

/**
 * At most `max` requests in service at once; the others wait in arrival order (FIFO).
 * max 0 means no limit (the seed's behaviour).
 */
export class ConcurrencyLimit {
    readonly max: number;
    private active = 0;
    private readonly waiting = new Set<() => void>();

    constructor(max: number) {
        if (!Number.isInteger(max) || max < 0) throw new RangeError(`max concurrent must be a whole number ≥ 0, got ${max}`);
        this.max = max;
    }

    get inService(): number { return this.active; }
    get queued(): number { return this.waiting.size; }

    /** Calls `start` now if a slot is free, else when one frees up; returns a function that gives up a waiting place. */
    enter(start: () => void): () => void {
        if (this.max === 0 || this.active < this.max) {
            this.active++;
            start();
            return () => undefined;
        }
        const entry = () => { this.active++; start(); };
        this.waiting.add(entry);
        return () => { this.waiting.delete(entry); };
    }

    /** A request that was started has finished: its slot goes to the longest waiter. */
    leave(): void {
        this.active--;
        const next = this.waiting.values().next();
        if (next.done) return;
        this.waiting.delete(next.value);
        next.value();
    }
}

export interface PongOptions {
    requestTimeoutMs?: number;
    /** Requests in service at once; 0 = unlimited. /health and /metrics are never limited. */
    maxConcurrent?: number;
    /** Fixed time every (limited) request spends in service before its first write. */
    serviceTimeMs?: number;
}

export function createPongServer(options: PongOptions = {}) {
    const counters: PongCounters = { requests: 0, responses: 0, inFlight: 0 };
    const limit = new ConcurrencyLimit(options.maxConcurrent ?? 0);
    const serviceTimeMs = options.serviceTimeMs ?? 0;
    const server = http.createServer((req, res) => {
        if (req.url === "/metrics") {
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
            res.end(renderMetrics(counters, limit));
            return;
        }
        counters.requests++;
        counters.inFlight++;
        const { sleepMs, times, holdMs } = parseHeaders(req.headers);
        req.resume(); // the body (the seed's post_smaller.txt) is read and dropped
        const limited = req.url !== "/health"; // HAProxy's health checks bypass the queue
        let holdsSlot = false;
        let withdraw: () => void = () => undefined;
        let done = false;
        const finish = () => {
            if (done) return;
            done = true;
            counters.inFlight--;
            if (holdsSlot) limit.leave();
            else withdraw();
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
        const serve = (extraMs: number) => {
            if (res.destroyed) return;
            res.writeHead(200, { "content-type": "text/plain" });
            setTimeout(write, extraMs + holdMs + (sleepMs > 0 ? randomIntInclusive(0, sleepMs + 1) : 0), times);
        };
        if (limited) withdraw = limit.enter(() => { holdsSlot = true; serve(serviceTimeMs); });
        else serve(0);
    });
    const timeout = options.requestTimeoutMs ?? 0;
    server.timeout = timeout;
    server.requestTimeout = timeout;
    // Longer than HAProxy keeps idle server connections, so HAProxy closes them first.
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 65_000;
    return { server, counters, limit };
}

export function renderMetrics(c: PongCounters, limit?: ConcurrencyLimit): string {
    const lines = [
        "# TYPE pong_requests_total counter", `pong_requests_total ${c.requests}`,
        "# TYPE pong_responses_total counter", `pong_responses_total ${c.responses}`,
        "# TYPE pong_in_flight gauge", `pong_in_flight ${c.inFlight}`,
    ];
    if (limit) {
        lines.push(
            "# TYPE pong_in_service gauge", `pong_in_service ${limit.inService}`,
            "# TYPE pong_queued gauge", `pong_queued ${limit.queued}`,
            "# TYPE pong_max_concurrent gauge", `pong_max_concurrent ${limit.max}`,
        );
    }
    return [...lines, ""].join("\n");
}

function main() {
    const { values, positionals } = parseArgs({
        allowPositionals: true,
        options: {
            host: { type: "string", default: "0.0.0.0" }, "request-timeout-ms": { type: "string", default: "0" },
            "max-concurrent": { type: "string", default: "0" }, "service-time-ms": { type: "string", default: "0" },
        },
    });
    const port = Number(positionals[0]);
    const wholes = ["request-timeout-ms", "max-concurrent", "service-time-ms"] as const;
    const bad = wholes.filter((k) => !/^\d+$/.test(values[k]));
    if (!Number.isInteger(port) || port < 1 || port > 65535 || bad.length > 0) {
        console.error("usage: pong <port> [--host ADDRESS] [--request-timeout-ms N] [--max-concurrent N] [--service-time-ms S]" +
            (bad.length ? `\n  not a whole number ≥ 0: ${bad.map((k) => `--${k}`).join(", ")}` : ""));
        process.exit(2);
    }
    const { server } = createPongServer({
        requestTimeoutMs: Number(values["request-timeout-ms"]),
        maxConcurrent: Number(values["max-concurrent"]),
        serviceTimeMs: Number(values["service-time-ms"]),
    });
    server.listen(port, values.host, () => console.log(`pong listening on ${values.host}:${port}`));
    const stop = () => server.close(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
