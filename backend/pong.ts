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
// and a hold that ends when the operator says so (not in the seed either), for benches whose ramp
// takes as long as the machine needs:
//   - header `hold: N`: wait N ms before the first write, or until POST /release if that comes first;
//   - POST /release: every request waiting on its `hold` now goes on (sleep/times as usual);
//     it answers the count released. Like /metrics, never limited, never counted as a request.
// Usage: node backend/pong.ts <port> [--host ADDRESS] [--request-timeout-ms N] [--max-concurrent N] [--service-time-ms S]
import http from "node:http";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

export function randomIntInclusive(low: number, high: number): number {
    return Math.floor(Math.random() * (high - low + 1) + low);
}

/**
 * The seed read both headers with parseInt; a missing/garbled value means "no wait / no repeat".
 * `hold: N` is the rig's own addition (not in the seed): wait N ms before the first write, or
 * until POST /release ends every hold at once, so a ramp of requests keeps every connection open
 * until the bench has measured it (bench/scale) and N is only the cap if the bench never releases.
 */
export function parseHeaders(headers: http.IncomingHttpHeaders): { sleepMs: number; times: number; holdMs: number } {
    const int = (name: string) => {
        const n = Number.parseInt(String(headers[name] ?? ""), 10);
        return Number.isFinite(n) && n > 0 ? n : 0;
    };
    return { sleepMs: int("sleep"), times: int("times"), holdMs: int("hold") };
}

export interface PongCounters {
    requests: number;
    responses: number;
    inFlight: number;
}

/**
 * Requests waiting on their `hold`: each goes on when its cap passes or at release(), whichever
 * comes first, exactly once.
 */
export class Holds {
    private readonly waiting = new Map<() => void, NodeJS.Timeout>();

    get size(): number {
        return this.waiting.size;
    }

    /** Calls `go` after `ms`, or at release(); returns a function that drops the hold without calling `go` (client gone). */
    add(ms: number, go: () => void): () => void {
        const entry = () => {
            this.waiting.delete(entry);
            clearTimeout(timer);
            go();
        };
        const timer = setTimeout(entry, ms);
        this.waiting.set(entry, timer);
        return () => {
            clearTimeout(timer);
            this.waiting.delete(entry);
        };
    }

    /** Ends every hold now; returns how many there were. */
    release(): number {
        const entries = [...this.waiting.keys()];
        for (const entry of entries) entry();
        return entries.length;
    }
}

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

    get inService(): number {
        return this.active;
    }
    get queued(): number {
        return this.waiting.size;
    }

    /** Calls `start` now if a slot is free, else when one frees up; returns a function that gives up a waiting place. */
    enter(start: () => void): () => void {
        if (this.max === 0 || this.active < this.max) {
            this.active++;
            start();
            return () => undefined;
        }
        const entry = () => {
            this.active++;
            start();
        };
        this.waiting.add(entry);
        return () => {
            this.waiting.delete(entry);
        };
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
    const holds = new Holds();
    const server = http.createServer((req, res) => {
        if (req.url === "/metrics") {
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
            res.end(renderMetrics(counters, limit, holds));
            return;
        }
        if (req.url === "/release") {
            req.resume();
            if (req.method !== "POST") {
                res.writeHead(405, { "content-type": "text/plain", allow: "POST" });
                res.end("POST /release ends every hold\n");
                return;
            }
            const released = holds.release();
            res.writeHead(200, { "content-type": "text/plain" });
            res.end(`released ${released}\n`);
            return;
        }
        counters.requests++;
        counters.inFlight++;
        const { sleepMs, times, holdMs } = parseHeaders(req.headers);
        req.resume(); // the body (the seed's post_smaller.txt) is read and dropped
        const limited = req.url !== "/health"; // HAProxy's health checks bypass the queue
        let holdsSlot = false;
        let withdraw: () => void = () => undefined;
        let unhold: () => void = () => undefined;
        let done = false;
        const finish = () => {
            if (done) return;
            done = true;
            counters.inFlight--;
            unhold();
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
            const rest = extraMs + (sleepMs > 0 ? randomIntInclusive(0, sleepMs + 1) : 0);
            if (holdMs > 0) unhold = holds.add(holdMs, () => setTimeout(write, rest, times));
            else setTimeout(write, rest, times);
        };
        if (limited)
            withdraw = limit.enter(() => {
                holdsSlot = true;
                serve(serviceTimeMs);
            });
        else serve(0);
    });
    const timeout = options.requestTimeoutMs ?? 0;
    server.timeout = timeout;
    server.requestTimeout = timeout;
    // Longer than HAProxy keeps idle server connections, so HAProxy closes them first.
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 65_000;
    return { server, counters, limit, holds };
}

export function renderMetrics(c: PongCounters, limit?: ConcurrencyLimit, holds?: Holds): string {
    const lines = [
        "# TYPE pong_requests_total counter",
        `pong_requests_total ${c.requests}`,
        "# TYPE pong_responses_total counter",
        `pong_responses_total ${c.responses}`,
        "# TYPE pong_in_flight gauge",
        `pong_in_flight ${c.inFlight}`,
    ];
    if (holds) lines.push("# TYPE pong_held gauge", `pong_held ${holds.size}`);
    if (limit) {
        lines.push(
            "# TYPE pong_in_service gauge",
            `pong_in_service ${limit.inService}`,
            "# TYPE pong_queued gauge",
            `pong_queued ${limit.queued}`,
            "# TYPE pong_max_concurrent gauge",
            `pong_max_concurrent ${limit.max}`,
        );
    }
    return [...lines, ""].join("\n");
}

function main() {
    const { values, positionals } = parseArgs({
        allowPositionals: true,
        options: {
            host: { type: "string", default: "0.0.0.0" },
            "request-timeout-ms": { type: "string", default: "0" },
            "max-concurrent": { type: "string", default: "0" },
            "service-time-ms": { type: "string", default: "0" },
        },
    });
    const port = Number(positionals[0]);
    const wholes = ["request-timeout-ms", "max-concurrent", "service-time-ms"] as const;
    const bad = wholes.filter((k) => !/^\d+$/.test(values[k]));
    if (!Number.isInteger(port) || port < 1 || port > 65535 || bad.length > 0) {
        console.error(
            "usage: pong <port> [--host ADDRESS] [--request-timeout-ms N] [--max-concurrent N] [--service-time-ms S]" +
                (bad.length ? `\n  not a whole number ≥ 0: ${bad.map((k) => `--${k}`).join(", ")}` : ""),
        );
        process.exit(2);
    }
    const { server } = createPongServer({
        requestTimeoutMs: Number(values["request-timeout-ms"]),
        maxConcurrent: Number(values["max-concurrent"]),
        serviceTimeMs: Number(values["service-time-ms"]),
    });
    // Node's default accept queue is 511: a CPU-starved pong then drops HAProxy's SYNs (bench:scale, 300k plain:
    // 107,168 ListenDrops on one backend host) and each retry waits 1, 2, 4… s. The kernel caps it at net.core.somaxconn.
    server.listen({ port, host: values.host, backlog: 65535 }, () => console.log(`pong listening on ${values.host}:${port}`));
    const stop = () => server.close(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
