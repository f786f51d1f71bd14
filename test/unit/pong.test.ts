import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createPongServer, parseHeaders, randomIntInclusive, renderMetrics } from "../../backend/pong.ts";

const PONG = fileURLToPath(new URL("../../backend/pong.ts", import.meta.url));

/** A pong server on 127.0.0.1, port 0, closed (with its connections) when the test ends. */
async function startPong(t: TestContext, options: { requestTimeoutMs?: number } = {}) {
    const pong = createPongServer(options);
    await new Promise<void>((resolve) => pong.server.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
        pong.server.closeAllConnections();
        await new Promise<void>((resolve) => pong.server.close(() => resolve()));
    });
    const { port } = pong.server.address() as AddressInfo;
    return { ...pong, base: `http://127.0.0.1:${port}` };
}

interface Reply {
    status: number;
    body: string;
    ms: number;
}

/** One request on its own connection (no keep-alive pool to outlive the test). */
function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}): Promise<Reply> {
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method: options.method ?? "POST", headers: options.headers, agent: false, signal: options.signal }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => {
                body += c;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }));
            res.on("error", reject);
        });
        req.on("error", reject);
        req.end(options.body ?? "");
    });
}

async function metrics(base: string): Promise<Record<string, number>> {
    const r = await request(`${base}/metrics`, { method: "GET" });
    assert.equal(r.status, 200);
    return Object.fromEntries(
        r.body
            .split("\n")
            .filter((l) => l && !l.startsWith("#"))
            .map((l) => {
                const [name, value] = l.split(" ");
                return [name, Number(value)];
            }),
    );
}

describe("pong server", () => {
    test("POST /ping with sleep: 20, times: 2 answers 200 and 'pong' three times", async (t) => {
        const { base } = await startPong(t);
        const r = await request(`${base}/ping`, { headers: { sleep: "20", times: "2" }, body: "x".repeat(512) });
        assert.equal(r.status, 200);
        assert.equal(r.body, "pongpongpong");
    });

    test("without headers the answer is a single 'pong', at once", async (t) => {
        const { base } = await startPong(t);
        const r = await request(`${base}/ping`);
        assert.deepEqual([r.status, r.body], [200, "pong"]);
        assert.ok(r.ms < 1000, `${r.ms} ms`);
    });

    test("any path and method gets pong (HAProxy's health check GET /health included)", async (t) => {
        const { base } = await startPong(t);
        assert.equal((await request(`${base}/health`, { method: "GET" })).body, "pong");
        assert.equal((await request(`${base}/anything`, { method: "PUT", headers: { times: "1" } })).body, "pongpong");
    });

    test("server-side timeouts are disabled by default (the seed lost requests to Node's 120 s default)", (t) => {
        const { server } = createPongServer();
        t.after(() => server.close());
        assert.equal(server.requestTimeout, 0);
        assert.equal(server.timeout, 0);
        // Node closes idle keep-alive sockets after keepAliveTimeout; HAProxy should close them first.
        assert.ok(server.keepAliveTimeout > 5_000);
    });

    test("an explicit request timeout sets both Node timeouts", (t) => {
        const { server } = createPongServer({ requestTimeoutMs: 90_000 });
        t.after(() => server.close());
        assert.equal(server.requestTimeout, 90_000);
        assert.equal(server.timeout, 90_000);
    });

    test("latency stays within (sleep+1) × (times+1) and is not zero on average", async (t) => {
        const { base } = await startPong(t);
        const sleep = 200;
        const times = 2;
        const n = 20;
        const replies = await Promise.all(
            Array.from({ length: n }, () => request(`${base}/ping`, { headers: { sleep: String(sleep), times: String(times) } })),
        );
        for (const r of replies) assert.equal(r.body, "pong".repeat(times + 1));
        const longest = (sleep + 1) * (times + 1); // every one of the times+1 waits is at most sleep+1 ms
        const slackMs = 250; // timers fire late on a busy machine, never early
        const max = Math.max(...replies.map((r) => r.ms));
        const mean = replies.reduce((a, r) => a + r.ms, 0) / n;
        assert.ok(max <= longest + slackMs, `max ${max} ms > ${longest} + ${slackMs}`);
        // Each reply waits 3 uniform 0..201 ms (mean ~301 ms, sd ~100 ms); the mean of 20 is ~301 ± 22,
        // so below 100 ms would mean the waits were skipped.
        assert.ok(mean > 100, `mean ${mean} ms`);
    });

    test("/metrics counts requests and responses; in-flight returns to 0", async (t) => {
        const { base, counters } = await startPong(t);
        const before = await metrics(base);
        assert.equal(before.pong_requests_total, 0);
        assert.equal(before.pong_responses_total, 0);
        assert.equal(before.pong_in_flight, 0);
        await Promise.all([1, 2, 3].map(() => request(`${base}/ping`, { headers: { times: "1" } })));
        const after = await metrics(base);
        assert.equal(after.pong_requests_total, 3);
        assert.equal(after.pong_responses_total, 3);
        assert.equal(after.pong_in_flight, 0);
        assert.deepEqual({ ...counters }, { requests: 3, responses: 3, inFlight: 0 });
    });

    test("/metrics shows a slow request in flight while it waits", async (t) => {
        const { base } = await startPong(t);
        const slow = request(`${base}/ping`, { headers: { sleep: "300", times: "5" } });
        let seen = 0;
        for (let i = 0; i < 40 && seen === 0; i++) {
            seen = (await metrics(base)).pong_in_flight;
            if (seen === 0) await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(seen, 1);
        await slow;
        assert.equal((await metrics(base)).pong_in_flight, 0);
    });

    test("a client that hangs up mid-response leaves no request counted in flight and no response counted", async (t) => {
        const { base, counters } = await startPong(t);
        const abort = new AbortController();
        const pending = request(`${base}/ping`, { headers: { sleep: "1000", times: "10" }, signal: abort.signal });
        pending.catch(() => undefined);
        const inFlight = () => counters.inFlight; // read through a function: the counter changes under us
        for (let i = 0; i < 100 && inFlight() === 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(inFlight(), 1);
        abort.abort();
        await assert.rejects(pending);
        for (let i = 0; i < 100 && inFlight() !== 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual({ ...counters }, { requests: 1, responses: 0, inFlight: 0 });
    });
});

describe("hold until released (the rig's own, for bench/scale)", () => {
    /** Polls /metrics until pong_held is `n` (the requests reached their hold). */
    async function heldReaches(base: string, n: number): Promise<void> {
        let held = -1;
        for (let i = 0; i < 200 && held !== n; i++) {
            held = (await metrics(base)).pong_held;
            if (held !== n) await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(held, n);
    }

    test("POST /release ends every hold at once: the held requests answer 200 with their pongs, long before their cap", async (t) => {
        const { base, counters } = await startPong(t);
        const capMs = 60_000;
        const held = [1, 2, 3].map(() => request(`${base}/ping`, { headers: { hold: String(capMs), times: "1" } }));
        await heldReaches(base, 3);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(counters.responses, 0, "nothing answered before the release");
        const released = await request(`${base}/release`);
        assert.deepEqual([released.status, released.body], [200, "released 3\n"]);
        const replies = await Promise.all(held);
        for (const r of replies) {
            assert.deepEqual([r.status, r.body], [200, "pongpong"]);
            assert.ok(r.ms >= 200 && r.ms < capMs / 2, `${r.ms} ms`);
        }
        assert.equal((await metrics(base)).pong_held, 0);
        // /release and /metrics are not requests.
        assert.deepEqual({ ...counters }, { requests: 3, responses: 3, inFlight: 0 });
    });

    test("a request arriving after a release is held again until the next release (release is not sticky)", async (t) => {
        const { base } = await startPong(t);
        assert.equal((await request(`${base}/release`)).body, "released 0\n");
        const late = request(`${base}/ping`, { headers: { hold: "60000" } });
        await heldReaches(base, 1);
        assert.equal((await request(`${base}/release`)).body, "released 1\n");
        assert.equal((await late).body, "pong");
    });

    test("without a release the hold is its cap: N ms, then the seed's sleep/times as before", async (t) => {
        const { base } = await startPong(t);
        const r = await request(`${base}/ping`, { headers: { hold: "300", sleep: "20", times: "2" } });
        assert.equal(r.body, "pongpongpong");
        assert.ok(r.ms >= 300 && r.ms < 300 + 3 * 21 + 1000, `${r.ms} ms`);
    });

    test("/release is never limited: it answers while every slot of a --max-concurrent 1 server is taken and others queue", async (t) => {
        const pong = createPongServer({ maxConcurrent: 1 });
        await new Promise<void>((resolve) => pong.server.listen(0, "127.0.0.1", resolve));
        t.after(async () => {
            pong.server.closeAllConnections();
            await new Promise<void>((resolve) => pong.server.close(() => resolve()));
        });
        const base = `http://127.0.0.1:${(pong.server.address() as AddressInfo).port}`;
        const first = request(`${base}/ping`, { headers: { hold: "60000" } });
        const second = request(`${base}/ping`, { headers: { hold: "60000" } });
        await heldReaches(base, 1);
        assert.equal(pong.limit.queued, 1);
        // The first is released; the second then takes the slot and waits on its own hold.
        assert.equal((await request(`${base}/release`)).body, "released 1\n");
        assert.equal((await first).body, "pong");
        await heldReaches(base, 1);
        assert.equal((await request(`${base}/release`)).body, "released 1\n");
        assert.equal((await second).body, "pong");
    });

    test("a client that hangs up while held is no longer held: a release does not count it", async (t) => {
        const { base, counters } = await startPong(t);
        const abort = new AbortController();
        const pending = request(`${base}/ping`, { headers: { hold: "60000" }, signal: abort.signal });
        pending.catch(() => undefined);
        await heldReaches(base, 1);
        abort.abort();
        await assert.rejects(pending);
        for (let i = 0; i < 100 && counters.inFlight !== 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal((await request(`${base}/release`)).body, "released 0\n");
        assert.deepEqual({ ...counters }, { requests: 1, responses: 0, inFlight: 0 });
    });

    test("GET /release is refused with 405 and releases nothing", async (t) => {
        const { base } = await startPong(t);
        const held = request(`${base}/ping`, { headers: { hold: "60000" } });
        await heldReaches(base, 1);
        const r = await request(`${base}/release`, { method: "GET" });
        assert.equal(r.status, 405);
        assert.equal((await metrics(base)).pong_held, 1);
        await request(`${base}/release`);
        assert.equal((await held).body, "pong");
    });
});

/** The two headers the seed's pong read (the rig may parse more). */
const seedFields = (h: { sleepMs: number; times: number }) => ({ sleepMs: h.sleepMs, times: h.times });

describe("parseHeaders", () => {
    test("reads sleep and times as integers", () => {
        assert.deepEqual(seedFields(parseHeaders({ sleep: "20", times: "2" })), { sleepMs: 20, times: 2 });
    });

    const garbage: [string, http.IncomingHttpHeaders][] = [
        ["missing", {}],
        ["empty", { sleep: "", times: "" }],
        ["words", { sleep: "abc", times: "many" }],
        ["negative", { sleep: "-5", times: "-1" }],
        ["zero", { sleep: "0", times: "0" }],
        ["NaN", { sleep: "NaN", times: "Infinity" }],
    ];
    for (const [name, headers] of garbage) {
        test(`${name} values mean no wait and no repeat`, () => {
            assert.deepEqual(seedFields(parseHeaders(headers)), { sleepMs: 0, times: 0 });
        });
    }

    test("like the seed's parseInt, leading digits count", () => {
        assert.deepEqual(seedFields(parseHeaders({ sleep: "15ms", times: "3 times" })), { sleepMs: 15, times: 3 });
    });
});

describe("randomIntInclusive", () => {
    test("covers both ends and never leaves the range", () => {
        const seen = new Set<number>();
        for (let i = 0; i < 2000; i++) {
            const v = randomIntInclusive(0, 3);
            assert.ok(Number.isInteger(v) && v >= 0 && v <= 3, String(v));
            seen.add(v);
        }
        assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
        assert.equal(randomIntInclusive(7, 7), 7);
    });
});

describe("renderMetrics", () => {
    test("Prometheus text format: a TYPE line before each sample, newline-terminated", () => {
        const text = renderMetrics({ requests: 5, responses: 4, inFlight: 1 });
        assert.ok(text.endsWith("\n"));
        const lines = text.trimEnd().split("\n");
        for (let i = 0; i < lines.length; i += 2) {
            const [, , name, type] = lines[i].split(" ");
            assert.match(lines[i], /^# TYPE \S+ (counter|gauge)$/);
            assert.ok(lines[i + 1].startsWith(`${name} `));
            assert.equal(type === "counter", name.endsWith("_total"), `${name} is a ${type}`);
        }
        assert.ok(lines.includes("pong_requests_total 5"));
        assert.ok(lines.includes("pong_responses_total 4"));
        assert.ok(lines.includes("pong_in_flight 1"));
    });
});

describe("pong command line", () => {
    test("a bad port prints usage and exits 2", () => {
        for (const args of [[], ["0"], ["70000"], ["eighty"]]) {
            const r = spawnSync(process.execPath, [PONG, ...args], { encoding: "utf8", timeout: 10_000 });
            assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
            assert.match(r.stderr, /usage: pong <port>/);
        }
    });

    test("listens on the given host and port, answers, and exits 0 on SIGTERM", async (t) => {
        const probe = http.createServer();
        await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
        const { port } = probe.address() as AddressInfo;
        await new Promise<void>((resolve) => probe.close(() => resolve()));

        const child = spawn(process.execPath, [PONG, String(port), "--host", "127.0.0.1"], { stdio: ["ignore", "pipe", "pipe"] });
        t.after(() => {
            if (child.exitCode === null) child.kill("SIGKILL");
        });
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        await new Promise<void>((resolve, reject) => {
            let out = "";
            child.stdout.on("data", (c: Buffer) => {
                out += c;
                if (out.includes("listening")) resolve();
            });
            child.on("exit", () => reject(new Error(`pong exited early: ${out}`)));
        });
        const r = await request(`http://127.0.0.1:${port}/ping`, { headers: { times: "2" } });
        assert.equal(r.body, "pongpongpong");
        // The process a lab runs: a held request ends at POST /release.
        const held = request(`http://127.0.0.1:${port}/ping`, { headers: { hold: "120000" } });
        let released = "";
        for (let i = 0; i < 200 && released !== "released 1\n"; i++) {
            await new Promise((res) => setTimeout(res, 10));
            released = (await request(`http://127.0.0.1:${port}/release`)).body;
        }
        assert.equal(released, "released 1\n");
        assert.equal((await held).body, "pong");
        child.kill("SIGTERM");
        assert.equal(await exited, 0);
    });
});
