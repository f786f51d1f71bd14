// `lab report` end to end without a lab: a run directory with real vegeta results (pong and
// vegeta on 127.0.0.1), server metrics and HAProxy log timers, built into report.html and
// opened in headless Chromium (the Debian package, installed if missing). Every plot must
// render: the page's own on-load check counts the drawn marks of each SVG.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { createPongServer } from "../../backend/pong.ts";
import { labEnv } from "../../scripts/toolchain/toolchain.ts";
import { buildRunReport } from "../../scripts/lib/runReport.ts";
import { buildTippingReport } from "../../scripts/lib/tippingReport.ts";
import { dumpDom, ensureChromium } from "../../scripts/lib/chromium.ts";
import { searchTippingPoint, DEFAULT_TIPPING } from "../../scripts/analysis/tippingSearch.ts";
import type { MetricsPanel } from "../../scripts/analysis/reportCharts.ts";
import { parseHaproxyLogLine, summariseHaproxyLog } from "../../scripts/analysis/metricsLog.ts";
import { writeRecord } from "../../components/records/io.ts";
import { RunRecordSchema } from "../../components/records/runRecord.ts";
import { TippingRecordSchema } from "../../components/records/tippingRecord.ts";

const RUN_ID = "20261125-120000-reporttest";
const root = mkdtempSync(join(tmpdir(), "c2m-report-"));
const dir = join(root, RUN_ID);
let chromium = "";

async function vegeta(args: string[], input: string): Promise<void> {
    const child = spawn("vegeta", args, { env: labEnv(), stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
        stderr += d;
    });
    child.stdin.end(input);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 0, stderr);
}

before(async () => {
    chromium = ensureChromium();
    assert.equal(spawnSync("vegeta", ["-version"], { env: labEnv() }).status, 0, "vegeta missing: npm run bootstrap");
    mkdirSync(join(dir, "results"), { recursive: true });
    // A pong of known capacity (2 slots × 25 ms = 80/s) driven at 60/s then 120/s: latency rises in the second half.
    const pong = createPongServer({ maxConcurrent: 2, serviceTimeMs: 25 });
    await new Promise<void>((r) => pong.server.listen(0, "127.0.0.1", r));
    const url = `POST http://127.0.0.1:${(pong.server.address() as AddressInfo).port}/ping\n`;
    try {
        await vegeta(["attack", "-rate=60/s", "-duration=2s", "-timeout=20s", `-output=${join(dir, "results", "a.bin")}`], url);
        await vegeta(["attack", "-rate=120/s", "-duration=2s", "-timeout=20s", `-output=${join(dir, "results", "b.bin")}`], url);
    } finally {
        pong.server.closeAllConnections();
        pong.server.close();
    }
    const now = Date.now();
    writeRecord(join(dir, "run.json"), RunRecordSchema, {
        runId: RUN_ID,
        stack: "reporttest",
        startedAt: new Date(now - 5000).toISOString(),
        finishedAt: new Date(now).toISOString(),
        interrupted: false,
        settings: { rate: 60, durationS: 2, connections: 100, workers: 10, timeoutS: 20, sleepMs: 0, times: 0, holdMs: 0, bodyBytes: 0, frontends: ["plain"] },
        processes: [{ client: "client-0", frontend: "plain", laddr: "127.0.0.1", ratePerSecond: 60, connections: 100 }],
        versions: { pulumi: "test", node: process.versions.node, vegeta: "test", haproxy: "none" },
        summary: {
            requests: 360,
            success: 1,
            rate: 60,
            throughput: 60,
            status_codes: { "200": 360 },
            errors: [],
            latencies: { mean: 4e7, "50th": 3e7, "90th": 7e7, "95th": 8e7, "99th": 9e7, max: 1e8 },
        },
        perFrontend: {},
        haproxy: { plain: { sessions: 10, requests: 360 } },
        serversDown: [],
        failedProcesses: [],
    });
    writeFileSync(join(dir, "config.yaml"), "stack: reporttest\nlabConfig:\n  platform: local\n  attack:\n    preset: smoke\n");
    writeFileSync(join(dir, "report.txt"), "Requests      [total, rate, throughput]  360, 60.00, 59.90\n");
    writeFileSync(join(dir, "haproxy.cfg"), "global\n    maxconn 4000\n");
    const t0 = now / 1000 - 5;
    const ramp = (f: (i: number) => number): [number, number][] => Array.from({ length: 5 }, (_, i) => [t0 + i, f(i)]);
    const panels: MetricsPanel[] = [
        {
            id: "tcp",
            title: "TCP established per role",
            unit: "count",
            series: [
                { label: "haproxy", values: ramp((i) => 10 * i) },
                { label: "backend", values: ramp((i) => 5 * i) },
            ],
        },
        { id: "mem", title: "Memory used", unit: "bytes", series: [{ label: "machine", values: ramp((i) => 1e9 + i * 1e6) }] },
    ];
    writeFileSync(join(dir, "metrics.json"), JSON.stringify({ panels }));
    // Log lines as the lab's sink keeps them (arrival ms, then HAProxy's httplog line).
    const lines = Array.from(
        { length: 360 },
        (_, i) =>
            `${now - 5000 + i * 10} Nov 25 12:00:00 haproxy[1]: 127.0.0.1:4000 [25/Nov/2026:12:00:00.000] ` +
            `api_plain pong/backend-0-8282 0/${i % 7}/0/${25 + (i % 30)}/${26 + (i % 37)} 200 140 - - ${i === 7 ? "sD--" : "----"} 5/5/4/2/0 0/${i % 3} "POST /ping HTTP/1.1"`,
    );
    writeFileSync(
        join(dir, "haproxy-log-summary.json"),
        JSON.stringify(
            summariseHaproxyLog(
                lines.map((l) => parseHaproxyLogLine(l)!),
                { startMs: now - 5000 },
            ),
        ),
    );
});

test("report.html renders every plot in headless Chromium, offline", { timeout: 120_000 }, async (t) => {
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const built = await buildRunReport(dir);
    assert.equal(built.figures, 6); // latency, rate/errors, in flight, HAProxy timers + 2 metric panels
    const html = readFileSync(built.file, "utf8");
    assert.doesNotMatch(html, /(src|href)="https?:/);
    const dom = await dumpDom(built.file, { chromium });
    const figures = [...dom.matchAll(/<figure id="([^"]+)" data-plot="[^"]+" data-marks="(\d+)">/g)].map((m) => [m[1], Number(m[2])] as const);
    assert.deepEqual(
        figures.map(([id]) => id),
        ["latency", "rate", "inflight", "metrics-haproxy-timers", "metrics-tcp", "metrics-mem"],
    );
    for (const [id, marks] of figures) assert.ok(marks > 0, `plot ${id} drew no marks`);
    assert.match(dom, /data-plots-rendered="6\/6"/);
    assert.match(dom, /<td>sD--<\/td><td>1<\/td><td>server timeout, during the data phase<\/td>/);
    assert.match(dom, /HAProxy request timers \(360 logged requests, ms\)/);
    assert.match(dom, /Requests {6}\[total, rate, throughput\]/);
    process.stderr.write(`report built in ${built.ms.toFixed(0)} ms; marks per plot ${figures.map(([id, n]) => `${id}=${n}`).join(" ")}\n`);

    const tippingDir = join(root, "tipping-20261125-120000-reporttest");
    mkdirSync(tippingDir);
    // Above 240/s the p99 passes both 2× the baseline and the default 100 ms floor.
    const result = await searchTippingPoint(async (rate) => ({ rate, p50Ms: 10, p99Ms: rate > 240 ? 300 : 12, errorRatio: 0, requests: 100 }), {
        ...DEFAULT_TIPPING,
        startRate: 20,
    });
    writeRecord(join(tippingDir, "tipping.json"), TippingRecordSchema, {
        id: "tipping-test",
        stack: "reporttest",
        elapsedS: 1,
        args: { ...DEFAULT_TIPPING, stack: "reporttest", startRate: 20, durationS: 10, frontend: "plain", sleepMs: 0, times: 0, timeoutS: 30 },
        ...result,
    });
    const page = await buildTippingReport(tippingDir);
    const tippingDom = await dumpDom(page.file, { chromium });
    assert.match(tippingDom, /data-plots-rendered="1\/1"/);
    assert.match(tippingDom, /knee ≈ 2\d\d\/s/);
});
