// The run ledger and the client-side timeline: rows, verdicts, listing, comparison, and a real
// vegeta result file decoded into a timeline (pong and vegeta on 127.0.0.1 only).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { TimelineBuilder, percentile, type VegetaRecord } from "../../scripts/analysis/timeline.ts";
import { findRun, formatCompare, formatRuns, ledgerRow, parseLedger, presetLabel, tierOf } from "../../scripts/analysis/ledgerRows.ts";
import { readLedger, recordRun, recordRunDir, runTimeline } from "../../scripts/lib/ledgerFile.ts";
import { LabConfigSchema } from "../../components/config.ts";
import type { RunRecord, VegetaSummary } from "../../components/records/runRecord.ts";
import { LedgerRowSchema } from "../../components/records/ledgerRow.ts";
import { diffAllowances } from "../../components/platform/allowances.ts";
import { PRESET_SETTINGS } from "../../components/render/attack.ts";
import { labEnv } from "../../scripts/toolchain/toolchain.ts";
import { createPongServer } from "../../backend/pong.ts";
import { tempDir } from "./helpers.ts";

const T0 = Date.parse("2026-11-25T12:00:00Z");
const rec = (startMs: number, latencyMs: number, o: Partial<VegetaRecord> = {}): VegetaRecord => ({
    timestamp: new Date(T0 + startMs).toISOString(),
    latency: latencyMs * 1e6,
    code: 200,
    error: "",
    url: "http://198.18.0.2:80/ping",
    ...o,
});

/** A vegeta summary with the given counts and latencies (ns); the rest does not matter to the ledger. */
function summary(requests: number, success: number, latencies: Partial<VegetaSummary["latencies"]> = {}): VegetaSummary {
    return {
        requests,
        success,
        rate: 100,
        throughput: 100,
        status_codes: {},
        errors: [],
        latencies: { mean: 0, "50th": 0, "90th": 0, "95th": 0, "99th": 0, max: 0, ...latencies },
    };
}

const vegetaProcess = (client: string, laddr: string) => ({ client, frontend: "plain" as const, laddr, ratePerSecond: 100, connections: 500 });

function run(o: Partial<RunRecord> = {}): RunRecord {
    return {
        runId: "20261125-120000-local",
        stack: "local",
        startedAt: "2026-11-25T12:00:00.000Z",
        finishedAt: "2026-11-25T12:00:06.500Z",
        interrupted: false,
        settings: { ...PRESET_SETTINGS.smoke },
        processes: [vegetaProcess("client-0", "198.18.0.10"), vegetaProcess("client-0", "198.18.0.11"), vegetaProcess("client-1", "198.18.0.12")],
        versions: { pulumi: "3.270.0", node: "22.23.3", vegeta: "v12", haproxy: "2.6.12" },
        summary: summary(2000, 1, { "50th": 32_347_806, "99th": 57_017_678, max: 64_180_153 }),
        perFrontend: {},
        haproxy: {},
        serversDown: [],
        failedProcesses: [],
        allowances: diffAllowances(HOSTS_READ, HOSTS_READ, Object.keys(HOSTS_READ)),
        ...o,
    };
}

/** Every host's conntrack drop counters, read alike before and after the run. */
const HOSTS_READ = {
    "client-0": { conntrack_drop: 0 },
    "client-1": { conntrack_drop: 0 },
    "haproxy-0": { conntrack_drop: 0 },
    "backend-0": { conntrack_drop: 0 },
};

describe("timeline from per-request records", () => {
    test("bins requests, successes, errors and latency percentiles by send time", () => {
        const b = new TimelineBuilder();
        for (let i = 0; i < 100; i++) b.add(rec(i * 10, 5 + i)); // 0..990 ms, latency 5..104 ms
        b.add(rec(1500, 30, { code: 0, error: "timeout" }));
        b.add(rec(1600, 40, { code: 503 }));
        const t = b.build({ binS: 1 });
        assert.equal(t.requests, 102);
        assert.deepEqual(
            t.bins.map((x) => [x.t, x.sent, x.ok, x.errors]),
            [
                [0, 100, 100, 0],
                [1, 2, 0, 2],
            ],
        );
        assert.deepEqual(t.bins[0].latency.all, { p50: 54, p90: 94, p99: 103, max: 104 });
        assert.equal(t.start, new Date(T0).toISOString());
    });

    test("requests in flight: overlapping requests count, back-to-back ones do not", () => {
        const b = new TimelineBuilder();
        b.add(rec(0, 100));
        b.add(rec(100, 100)); // starts as the first ends
        b.add(rec(150, 500));
        b.add(rec(160, 20));
        const t = b.build({ binS: 1 });
        assert.equal(t.peakInFlight, 3);
        assert.equal(t.bins[0].inFlight, 3);
    });

    test("requests held past the end of sending: every later bin counts them until each one ends", () => {
        // 10 requests sent over the first second, each held for 5-9.5 s (pong holding them), the last
        // sent at 0.9 s: the sending is over after bin 0, the requests end in bins 5-9.
        const b = new TimelineBuilder();
        for (let i = 0; i < 10; i++) b.add(rec(i * 100, 5000 + i * 400));
        const t = b.build({ binS: 1 });
        assert.equal(t.peakInFlight, 10);
        assert.deepEqual(
            t.bins.map((x) => x.sent),
            [10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        // Most in flight at once in each bin: what was in flight when it began (a request is in flight
        // over [start, end): the first ends at 5.0 s, as bin 5 begins), two fewer a second after that.
        const ends = Array.from({ length: 10 }, (_, i) => i * 100 + 5000 + i * 400); // 5000, 5500, …, 9500 ms
        const expected = t.bins.map((bin) => ends.filter((e) => e > bin.t * 1000).length); // in flight when each bin began
        expected[0] = 10; // bin 0: all ten start inside it
        assert.deepEqual(
            t.bins.map((x) => x.inFlight),
            expected,
        );
        assert.deepEqual(expected, [10, 10, 10, 10, 10, 9, 7, 5, 3, 1]);
    });

    test("a bin with no start keeps what is still in flight from earlier bins; the peak counts every end", () => {
        const b = new TimelineBuilder();
        b.add(rec(0, 3500)); // held 0 → 3.5 s
        b.add(rec(200, 3100)); // held 0.2 → 3.3 s
        b.add(rec(3400, 100)); // a late start at 3.4 s: the second has ended, the first is still held
        const t = b.build({ binS: 1 });
        assert.deepEqual(
            t.bins.map((x) => x.inFlight),
            [2, 2, 2, 2],
        );
        assert.equal(t.peakInFlight, 2);
    });

    test("plain and TLS get their own latency series; wide runs get wider bins", () => {
        const b = new TimelineBuilder();
        for (let s = 0; s < 1000; s++) {
            b.add(rec(s * 1000, 10));
            b.add(rec(s * 1000 + 1, 30, { url: "https://198.18.0.2:443/ping" }));
        }
        const t = b.build({ maxBins: 100 });
        assert.equal(t.binS, 10);
        assert.equal(t.bins.length, 100);
        assert.deepEqual(t.frontends, ["plain", "tls"]);
        assert.deepEqual([t.bins[3].latency.plain?.p99, t.bins[3].latency.tls?.p99], [10, 30]);
    });

    test("no records: an empty timeline", () => {
        assert.deepEqual(new TimelineBuilder().build().bins, []);
        assert.equal(percentile([], 0.99), 0);
    });
});

describe("ledger rows", () => {
    test("a clean run passes, with latencies in ms and clients counted once", () => {
        const row = ledgerRow(run(), { preset: "smoke", platform: "local", peakConns: 19, peakConnsSource: "vegeta" });
        assert.deepEqual(
            [row.tier, row.preset, row.durationS, row.clients, row.requests, row.errors, row.p50Ms, row.p99Ms, row.peakConns, row.verdict],
            ["local", "smoke", 6.5, 2, 2000, 0, 32.35, 57.02, 19, "pass"],
        );
    });

    test("verdicts: errors above 0.1 %, failed processes, no results, interruption", () => {
        const failing = ledgerRow(run({ summary: summary(1000, 0.998) }), {});
        assert.deepEqual([failing.verdict, failing.errors, failing.errorPct], ["fail", 2, 0.2]);
        assert.match(failing.why, /errors 0\.20 % > 0\.1 %/);
        assert.equal(ledgerRow(run({ summary: summary(1000, 0.999) }), {}).verdict, "pass");
        assert.equal(
            ledgerRow(run({ failedProcesses: [{ client: "client-1", frontend: "plain", laddr: "198.18.0.12", code: 1, stderr: "" }] }), {}).verdict,
            "fail",
        );
        assert.equal(ledgerRow(run({ summary: undefined }), {}).why, "no results");
        assert.equal(ledgerRow(run({ interrupted: true }), {}).verdict, "interrupted");
    });

    test("a run during which the platform dropped traffic (allowance counters rose) is invalid, whatever vegeta saw", () => {
        const counters = (drops: number) => ({ "lb-0": { conntrack_allowance_exceeded: drops, conntrack_allowance_available: 500 } });
        const invalid = ledgerRow(run({ allowances: diffAllowances(counters(3), counters(10)) }), {});
        assert.equal(invalid.verdict, "invalid");
        assert.match(invalid.why, /lb-0 conntrack_allowance_exceeded \+7/);
        assert.equal(ledgerRow(run({ allowances: diffAllowances(counters(3), counters(3)) }), {}).verdict, "pass");
        assert.doesNotThrow(() => LedgerRowSchema.parse(invalid));
    });

    test("a host whose allowance counters were read neither before nor after the run leaves the verdict unknown, never pass", () => {
        const { "haproxy-0": _lb, ...withoutLb } = HOSTS_READ;
        const check = diffAllowances(withoutLb, withoutLb, Object.keys(HOSTS_READ));
        assert.deepEqual(check.unreadable, ["haproxy-0"]);
        const row = ledgerRow(run({ allowances: check }), {});
        assert.equal(row.verdict, "unknown");
        assert.match(row.why, /whether the platform dropped traffic is unknown: allowance counters unreadable on haproxy-0/);
        assert.deepEqual(row.unknown, ["allowance counters of haproxy-0 (unreadable before or after the run)"]);
        assert.doesNotThrow(() => LedgerRowSchema.parse(row));
        assert.match(formatRuns([row]), /unknown \(1 unknown\)/);
    });

    test("a host read without a single drop counter, or a run with no allowance check at all, is unknown too", () => {
        const empty = { ...HOSTS_READ, "haproxy-0": {} };
        assert.deepEqual(diffAllowances(empty, empty, Object.keys(HOSTS_READ)).unreadable, ["haproxy-0"]);
        const row = ledgerRow(run({ allowances: undefined }), {});
        assert.equal(row.verdict, "unknown");
        assert.match(row.why, /no allowance counters recorded/);
        // A failure is a failure whatever else is unknown.
        assert.equal(ledgerRow(run({ allowances: undefined, summary: summary(1000, 0.9) }), {}).verdict, "fail");
    });

    test("HAProxy's statistics unreadable after the run: servers down is unknown in the row, not an empty list", () => {
        const row = ledgerRow(run({ serversDown: "unknown" }), {});
        assert.deepEqual(row.unknown, ["servers down at the end (HAProxy's statistics unreadable after the run)"]);
        assert.equal(ledgerRow(run(), {}).unknown, undefined);
        assert.match(formatCompare(row, ledgerRow(run(), {})), /unknown +servers down at the end/);
    });

    test("bench:oom: a kill that could be neither counted nor ruled out (cgroup.procs unreadable) is unknown, not pass", () => {
        const oom = {
            host: "haproxy-0",
            memoryMiB: 256,
            by: "plateau" as const,
            heldAtOom: 9000,
            heldAtOomAgeS: 0.3,
            heldPeak: 9010,
            predicted: 8857,
            oomKills: 0,
            limitHits: 3,
            peakMemoryBytes: 2 ** 28,
            killedProcesses: [],
            kernelLog: [],
        };
        const row = ledgerRow(run({ oom: { ...oom, killed: "unknown", goneProcesses: "unknown" } }), {});
        assert.equal(row.verdict, "unknown");
        assert.match(row.why, /whether HAProxy was OOM-killed is unknown/);
        assert.equal(ledgerRow(run({ oom: { ...oom, killed: false, goneProcesses: [] } }), {}).verdict, "pass");
        const noReading = ledgerRow(run({ oom: { ...oom, killed: true, by: "oom_kill", goneProcesses: [], heldAtOom: null } }), {});
        assert.match(noReading.why, /^OOM-killed \(oom_kill\) at an unknown number of connections/);
        assert.ok(noReading.unknown?.some((u) => /connections held at the OOM kill/.test(u)));
    });

    test("preset label marks overridden settings; the tier comes from AWS stack names", () => {
        assert.equal(presetLabel("smoke", { ...PRESET_SETTINGS.smoke }), "smoke");
        assert.equal(presetLabel("smoke", { ...PRESET_SETTINGS.smoke, rate: 5 }), "smoke+");
        assert.equal(presetLabel(undefined, PRESET_SETTINGS.smoke), "custom");
        assert.equal(tierOf("aws-16c64g", "aws"), "16c64g");
        assert.equal(tierOf("dev5", "local"), "local");
    });

    test("parse skips broken lines; runs are found by id, prefix or unique part", () => {
        const a = ledgerRow(run(), {});
        const b = ledgerRow(run({ runId: "20261125-130000-local" }), {});
        const { rows } = parseLedger(`${JSON.stringify(a)}\nnot json\n\n${JSON.stringify(b)}\n`);
        assert.equal(rows.length, 2);
        assert.equal(findRun(rows, "20261125-130000-local").id, b.id);
        assert.equal(findRun(rows, "120000").id, a.id);
        assert.throws(() => findRun(rows, "local"), /matches 2 runs/);
        assert.throws(() => findRun(rows, "nope"), /no run matches "nope"/);
    });

    test("the list and the comparison show every run and what differs", () => {
        const a = ledgerRow(run(), { preset: "smoke", peakConns: 19, peakConnsSource: "vegeta" });
        const b = ledgerRow(run({ runId: "20261125-130000-local", summary: summary(2000, 1, { "50th": 40e6, "99th": 114_035_356, max: 2e8 }) }), {
            preset: "smoke",
            peakConns: 1200,
            peakConnsSource: "metrics",
        });
        const list = formatRuns([a, b]);
        assert.equal(list.split("\n").length, 4);
        assert.match(list, /^id\s+stack\s+tier\s+preset/);
        assert.match(list, /19\*/);
        const cmp = formatCompare(a, b, {
            a: { settings: { rate: 200 }, versions: { haproxy: "2.6" } },
            b: { settings: { rate: 400 }, versions: { haproxy: "2.6" } },
        });
        assert.match(cmp, /p99 ms\s+57\.0\s+114\.0\s+\+100\.0 %/);
        assert.match(cmp, /settings\.rate\s+200\s+400/);
        assert.doesNotMatch(cmp, /versions\.haproxy/);
    });
});

describe("recording a run", () => {
    test("recordRun appends a row next to the run directory and keeps the timeline", async (t) => {
        const runs = tempDir(t);
        const dir = join(runs, "20261125-120000-local");
        mkdirSync(dir);
        writeFileSync(join(dir, "run.json"), JSON.stringify(run()));
        writeFileSync(join(dir, "config.yaml"), "labConfig:\n  platform: local\n  attack:\n    preset: smoke\n");
        const row = await recordRunDir(dir);
        assert.equal(row?.preset, "smoke");
        assert.deepEqual(
            readLedger(runs).map((r) => r.id),
            ["20261125-120000-local"],
        );
        assert.equal(JSON.parse(readFileSync(join(dir, "timeline.json"), "utf8")).requests, 0);
    });

    test("recordRun takes the attack's record from memory: no run.json or config.yaml is read", async (t) => {
        const runs = tempDir(t);
        const dir = join(runs, "20261125-120000-local");
        mkdirSync(dir);
        const labConfig = LabConfigSchema.parse({ attack: { preset: "smoke" } });
        const row = await recordRun(dir, run(), { labConfig, inventory: [], sshPrivateKey: "" });
        assert.deepEqual([row?.id, row?.preset, row?.tier], ["20261125-120000-local", "smoke", "local"]);
        assert.deepEqual(
            readLedger(runs).map((r) => r.id),
            ["20261125-120000-local"],
        );
    });

    test("a broken run directory is reported, not thrown", async (t) => {
        const lines: string[] = [];
        assert.equal(await recordRunDir(join(tempDir(t), "missing"), (l) => lines.push(l)), undefined);
        assert.match(lines[0], /ledger: run missing not recorded/);
    });

    test("a real vegeta result file (127.0.0.1) decodes into the timeline", async (t) => {
        const env = labEnv();
        if (spawnSync("vegeta", ["-version"], { env }).status !== 0) {
            t.skip("vegeta not installed (npm run bootstrap)");
            return;
        }
        const pong = createPongServer({ maxConcurrent: 1, serviceTimeMs: 40 });
        await new Promise<void>((r) => pong.server.listen(0, "127.0.0.1", r));
        t.after(() => {
            pong.server.closeAllConnections();
            pong.server.close();
        });
        const port = (pong.server.address() as AddressInfo).port;
        const dir = join(tempDir(t), "20261125-120000-local");
        mkdirSync(join(dir, "results"), { recursive: true });
        // Asynchronously: pong runs in this very process and must keep answering.
        const vegeta = spawn("vegeta", ["attack", "-rate=40/s", "-duration=1s", "-timeout=20s", `-output=${join(dir, "results", "a.bin")}`], {
            env,
            stdio: ["pipe", "ignore", "pipe"],
        });
        vegeta.stdin.end(`GET http://127.0.0.1:${port}/ping\n`);
        const code = await new Promise<number | null>((resolve) => vegeta.on("close", resolve));
        assert.equal(code, 0);
        const timeline = await runTimeline(dir);
        assert.equal(timeline.requests, 40);
        assert.equal(
            timeline.bins.reduce((s, b) => s + b.ok, 0),
            40,
        );
        // 40/s against one slot of 40 ms: the queue builds up, so requests overlap.
        assert.ok(timeline.peakInFlight >= 2, `peak in flight ${timeline.peakInFlight}`);
        assert.ok(timeline.bins[0].latency.all!.p50 >= 40);
        // A timeline.json counted the old way (no inFlightCount: bins after the last start at 0) is rebuilt; one of today's is kept.
        writeFileSync(join(dir, "timeline.json"), JSON.stringify({ ...timeline, inFlightCount: undefined, peakInFlight: 0 }));
        assert.equal((await runTimeline(dir)).peakInFlight, timeline.peakInFlight);
        writeFileSync(join(dir, "timeline.json"), JSON.stringify({ ...timeline, requests: 12_345 }));
        assert.equal((await runTimeline(dir)).requests, 12_345);
    });
});
