// The pong server's capacity limit (--max-concurrent, --service-time-ms), on 127.0.0.1:
// a FIFO queue in front of N service slots, so a backend of known capacity can be built.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { spawnSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { ConcurrencyLimit, createPongServer } from "../../backend/pong.ts";
import { pongStartScript } from "../../components/render/backendScripts.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";

const PONG = fileURLToPath(new URL("../../backend/pong.ts", import.meta.url));

interface Reply {
    status: number;
    body: string;
    ms: number;
}

function request(port: number, path = "/ping", signal?: AbortSignal): Promise<Reply> {
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, path, method: "POST", agent: false, signal }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d) => {
                body += d;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }));
        });
        req.on("error", reject);
        req.end("x");
    });
}

async function metrics(port: number): Promise<Record<string, number>> {
    const text = (await request(port, "/metrics")).body;
    return Object.fromEntries(
        text
            .split("\n")
            .filter((l) => l && !l.startsWith("#"))
            .map((l) => {
                const [k, v] = l.split(" ");
                return [k, Number(v)];
            }),
    );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ConcurrencyLimit", () => {
    test("starts at most max at once and hands slots out in arrival order", () => {
        const limit = new ConcurrencyLimit(2);
        const started: number[] = [];
        for (let i = 0; i < 5; i++) limit.enter(() => started.push(i));
        assert.deepEqual(started, [0, 1]);
        assert.deepEqual([limit.inService, limit.queued], [2, 3]);
        limit.leave();
        assert.deepEqual(started, [0, 1, 2]);
        limit.leave();
        limit.leave();
        assert.deepEqual(started, [0, 1, 2, 3, 4]);
        assert.deepEqual([limit.inService, limit.queued], [2, 0]);
    });

    test("a waiter that gives up never starts and keeps no place", () => {
        const limit = new ConcurrencyLimit(1);
        const started: string[] = [];
        limit.enter(() => started.push("a"));
        const withdrawB = limit.enter(() => started.push("b"));
        limit.enter(() => started.push("c"));
        withdrawB();
        assert.equal(limit.queued, 1);
        limit.leave();
        assert.deepEqual(started, ["a", "c"]);
        assert.deepEqual([limit.inService, limit.queued], [1, 0]);
    });

    test("0 means unlimited; negative or fractional limits are refused", () => {
        const limit = new ConcurrencyLimit(0);
        let n = 0;
        for (let i = 0; i < 1000; i++) limit.enter(() => n++);
        assert.deepEqual([n, limit.queued], [1000, 0]);
        assert.throws(() => new ConcurrencyLimit(-1), RangeError);
        assert.throws(() => new ConcurrencyLimit(1.5), RangeError);
    });
});

describe("pong with --max-concurrent 2 --service-time-ms 150 on 127.0.0.1", () => {
    const pong = createPongServer({ maxConcurrent: 2, serviceTimeMs: 150 });
    let port = 0;
    before(async () => {
        await new Promise<void>((resolve) => pong.server.listen(0, "127.0.0.1", resolve));
        port = (pong.server.address() as AddressInfo).port;
    });
    after(async () => {
        pong.server.closeAllConnections();
        await new Promise<void>((resolve) => pong.server.close(() => resolve()));
    });

    test("six simultaneous requests are served two at a time, in three waves of ~150 ms", async () => {
        const pending = Array.from({ length: 6 }, () => request(port));
        await sleep(60);
        const during = await metrics(port);
        assert.deepEqual([during.pong_in_service, during.pong_queued, during.pong_max_concurrent], [2, 4, 2]);
        const replies = await Promise.all(pending);
        assert.ok(replies.every((r) => r.status === 200 && r.body === "pong"));
        // Two at a time, each slot held 150 ms: the k-th pair cannot end before k × 150 ms. A busy
        // machine only makes replies later, so these lower bounds hold at any load (5 ms: timer slack).
        const latencies = replies.map((r) => r.ms).sort((a, b) => a - b);
        latencies.forEach((ms, i) => {
            assert.ok(
                ms >= (Math.floor(i / 2) + 1) * 150 - 5,
                `reply ${i + 1} after ${ms.toFixed(0)} ms: a third request was served at once (latencies ${latencies.map((l) => l.toFixed(0)).join(", ")} ms)`,
            );
        });
        const idle = await metrics(port);
        assert.deepEqual([idle.pong_in_service, idle.pong_queued, idle.pong_in_flight], [0, 0, 0]);
    });

    test("throughput under overload is max × 1000 / service time", async () => {
        // 20 requests at once: 2 slots × (1000 / 150) ≈ 13.3/s, so the last one ends after ~1.5 s.
        const t0 = performance.now();
        const replies = await Promise.all(Array.from({ length: 20 }, () => request(port)));
        const seconds = (performance.now() - t0) / 1000;
        const rate = 20 / seconds;
        assert.ok(replies.every((r) => r.status === 200));
        assert.ok(Math.abs(rate - 2000 / 150) / (2000 / 150) < 0.1, `served ${rate.toFixed(1)}/s, expected ~13.3/s`);
    });

    test("a client that leaves the queue frees its place; health checks skip the queue", async () => {
        const busy = [request(port), request(port)];
        const controller = new AbortController();
        const quitter = request(port, "/ping", controller.signal).catch((e: Error) => e);
        const waiter = request(port);
        await sleep(40);
        const health = await request(port, "/health");
        assert.equal(health.status, 200);
        assert.ok(health.ms < 100, `/health took ${health.ms.toFixed(0)} ms behind a full queue`);
        assert.equal((await metrics(port)).pong_queued, 2);
        controller.abort();
        await quitter;
        await sleep(20);
        assert.equal((await metrics(port)).pong_queued, 1);
        const served = await waiter;
        assert.equal(Math.round(served.ms / 150), 2, `the remaining waiter took ${served.ms.toFixed(0)} ms`);
        await Promise.all(busy);
        const idle = await metrics(port);
        assert.deepEqual([idle.pong_in_service, idle.pong_queued, idle.pong_in_flight], [0, 0, 0]);
    });
});

test("the pong CLI refuses a limit that is not a whole number", () => {
    const r = spawnSync(process.execPath, [PONG, "38999", "--max-concurrent", "two"], { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not a whole number ≥ 0: --max-concurrent/);
});

describe("the capacity limit reaches the pong command line from c2m:backend", () => {
    const launch = { workDir: "/run/c2m/dev/backend-0", address: "198.18.0.3", ports: [8282], nofile: 4096, requestTimeoutMs: 0 };

    test("no limit configured: the seed's command line, unchanged", () => {
        assert.doesNotMatch(pongStartScript(launch), /--max-concurrent|--service-time-ms/);
        assert.doesNotMatch(pongStartScript({ ...launch, maxConcurrent: 0, serviceTimeMs: 0 }), /--max-concurrent|--service-time-ms/);
    });

    test("maxConcurrent and serviceTimeMs become pong flags", () => {
        assert.match(
            pongStartScript({ ...launch, maxConcurrent: 5, serviceTimeMs: 200 }),
            /pong\.ts \$port --host 198\.18\.0\.3 --request-timeout-ms 0 --max-concurrent 5 --service-time-ms 200 </,
        );
    });

    test("c2m:backend.maxConcurrent / serviceTimeMs default to 0 and must be whole numbers ≥ 0", () => {
        const config = parseLabConfig({});
        assert.deepEqual([config.backend.maxConcurrent, config.backend.serviceTimeMs], [0, 0]);
        assert.equal(parseLabConfig({ backend: { maxConcurrent: 5, serviceTimeMs: 200 } }).backend.maxConcurrent, 5);
        assert.throws(() => parseLabConfig({ backend: { maxConcurrent: -1 } }), /c2m:backend\.maxConcurrent/);
    });
});
