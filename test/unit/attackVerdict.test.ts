// Every attack's verdict includes the LB's memory (peak against limit, KB per connection measured
// against the model, OOM kills from the cgroup or the kernel log), the ledger keeps it, an OOM kill
// fails the run and a failed verdict is a non-zero exit; the progress line names the phase.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { HostSamples, MemoryVerdict } from "../../components/records/runRecord.ts";
import { attackPhase, formatProgress, liveCounts } from "../../scripts/analysis/attackProgress.ts";
import { describeMemory, memoryVerdict } from "../../scripts/analysis/memoryVerdict.ts";
import { attackExit, FAILED_VERDICT_EXIT_CODE } from "../../scripts/lib/attackOutcome.ts";
import { attackTlsShare } from "../../scripts/lib/attackRun.ts";

const MiB = 2 ** 20;
const sample = (t: number, memMiB: number, oomKills = 0) => ({
    t,
    memoryBytes: memMiB * MiB,
    anonBytes: (memMiB * MiB) / 2,
    fileBytes: 0,
    kernelBytes: (memMiB * MiB) / 4,
    socketBytes: 0,
    cpuNs: 0,
    oomKills,
    limitHits: 0,
});
const samples = (s: ReturnType<typeof sample>[], limitMiB?: number): HostSamples => ({
    source: "test",
    intervalS: 1,
    unreadable: [],
    hosts: { "haproxy-0": { role: "haproxy", ...(limitMiB ? { limitBytes: limitMiB * MiB } : {}), samples: s } },
});

describe("memoryVerdict", () => {
    test("peak against limit, KB per connection from the rise over the sessions held", () => {
        const m = memoryVerdict({
            host: "haproxy-0",
            hostSamples: samples([sample(0, 20), sample(1, 1000), sample(2, 1837.5), sample(3, 900)], 1920),
            heldPeak: 65_000,
            acceptedPeak: 65_500,
            kbPerConnPredicted: 26.3,
        });
        assert.equal(m.peakBytes, 1837.5 * MiB);
        assert.equal(m.kbPerConnMeasured, Math.round(((1817.5 * 1024) / 65_500) * 10) / 10);
        assert.equal(m.headroomPct, Math.round((1 - 1837.5 / 1920) * 1000) / 10);
        assert.equal(m.oomKills, 0);
        assert.equal(m.oomSource, "cgroup");
        assert.match(describeMemory(m), /LB peak 1837\.5 of 1920\.0 MiB \(4\.3 % to spare\), 28\.4 KB\/conn measured vs 26\.3 predicted/);
    });
    test("an OOM kill counted in the cgroup during the run (not one from before)", () => {
        const m = memoryVerdict({
            host: "haproxy-0",
            hostSamples: samples([sample(0, 20, 2), sample(1, 1920, 3)], 1920),
            heldPeak: 40_000,
            acceptedPeak: 40_000,
            kbPerConnPredicted: 26.3,
        });
        assert.equal(m.oomKills, 1);
        assert.equal(m.kbPerConnMeasured, null, "a killed LB's memory is no cost per connection");
        assert.match(describeMemory(m), /HAProxy OOM-KILLED 1× \(cgroup\)/);
        const before = memoryVerdict({
            host: "haproxy-0",
            hostSamples: samples([sample(0, 20, 2), sample(1, 500, 2)], 1920),
            heldPeak: 1,
            acceptedPeak: 1,
            kbPerConnPredicted: 1,
        });
        assert.equal(before.oomKills, 0);
    });
    test("no samples (a box): the kernel log's count, else unknown", () => {
        const log = memoryVerdict({ host: "haproxy-0", kernelLogKills: 1, heldPeak: 10, acceptedPeak: 10, kbPerConnPredicted: 20 });
        assert.deepEqual([log.oomKills, log.oomSource, log.peakBytes, log.headroomPct], [1, "kernel log", null, null]);
        const none = memoryVerdict({ host: "haproxy-0", heldPeak: 10, acceptedPeak: 10, kbPerConnPredicted: 20 });
        assert.deepEqual([none.oomKills, none.oomSource], ["unknown", "none"]);
    });
});

describe("a failed verdict is a failed command", () => {
    const ok = { interrupted: false, failedProcesses: [], processes: [] };
    test("fail → non-zero, naming why", () => {
        const e = attackExit({ ...ok, row: { verdict: "fail", why: "HAProxy OOM-KILLED 1× (cgroup)" } });
        assert.equal(e.code, FAILED_VERDICT_EXIT_CODE);
        assert.notEqual(e.code, 0);
        assert.match(e.message!, /OOM-KILLED/);
    });
    test("pass, unknown, invalid → 0 (as before)", () => {
        for (const verdict of ["pass", "unknown", "invalid"] as const) assert.equal(attackExit({ ...ok, row: { verdict, why: "" } }).code, 0);
    });
    test("TLS share of the frontends", () => {
        assert.equal(attackTlsShare(["tls"]), 1);
        assert.equal(attackTlsShare(["plain", "tls"]), 0.5);
        assert.equal(attackTlsShare(["plain"]), 0);
    });
});

describe("the progress line", () => {
    const o = { durationS: 131, holdS: 300, timeoutS: 420 };
    test("phases: ramp, hold, release, collect, with time left in each", () => {
        assert.deepEqual(attackPhase(10, o), { phase: "ramp", leftS: 121 });
        assert.deepEqual(attackPhase(131, o), { phase: "hold", leftS: 300 });
        assert.deepEqual(attackPhase(431, o), { phase: "release", leftS: 120 });
        assert.deepEqual(attackPhase(600, o), { phase: "release", leftS: 0 });
        assert.deepEqual(attackPhase(20, { ...o, vegetaDone: true }), { phase: "collect", leftS: 0 });
    });
    test("counts from HAProxy's rows: held at the backend, sessions and answers at the frontends", () => {
        const rows: Record<string, string>[] = [
            { pxname: "fe_tls", svname: "FRONTEND", scur: "70", stot: "100", hrsp_2xx: "30", hrsp_5xx: "2" },
            { pxname: "fe_tls", svname: "FRONTEND", scur: "5", stot: "10", hrsp_2xx: "1" },
            { pxname: "be_pong", svname: "BACKEND", scur: "60" },
            { pxname: "stats", svname: "FRONTEND", scur: "1", stot: "50", hrsp_2xx: "50" },
        ];
        assert.deepEqual(liveCounts(rows, ["fe_tls"], "be_pong"), { accepted: 75, held: 60, answered: 33, sessions: 110 });
    });
    test("a dead LB is said, not retried in silence", () => {
        const line = formatProgress({ phase: "hold", leftS: 100, elapsedS: 231, unread: "timed out", dead: "HAProxy OOM-killed (1 kill(s) in its cgroup)" });
        assert.match(line, /^attack hold: 231s elapsed, ~100s left in hold, LB DEAD: HAProxy OOM-killed/);
        assert.doesNotMatch(line, /retrying/);
    });
});

// The ledger's verdict with the memory record.
import { ledgerRow } from "../../scripts/analysis/ledgerRows.ts";

describe("the ledger keeps the memory verdict", () => {
    const m = (oomKills: MemoryVerdict["oomKills"]): MemoryVerdict => ({
        host: "haproxy-0",
        limitBytes: 1920 * MiB,
        idleBytes: 20 * MiB,
        peakBytes: 1900 * MiB,
        peakAnonBytes: 200 * MiB,
        peakKernelBytes: 1600 * MiB,
        peakSocketBytes: 0,
        heldPeak: 40_000,
        acceptedPeak: 44_000,
        kbPerConnPredicted: 26.3,
        kbPerConnMeasured: null,
        headroomPct: 1,
        oomKills,
        oomSource: "cgroup",
    });
    const run = (memory?: MemoryVerdict) => ({
        runId: "r1",
        stack: "local-4c30g",
        startedAt: "2026-12-07T21:00:00.000Z",
        finishedAt: "2026-12-07T21:05:00.000Z",
        interrupted: false,
        settings: {
            rate: 250,
            durationS: 131,
            connections: 1,
            workers: 1,
            timeoutS: 420,
            sleepMs: 0,
            times: 0,
            holdMs: 0,
            bodyBytes: 0,
            frontends: ["tls" as const],
        },
        processes: [],
        versions: { pulumi: "x", node: "x", vegeta: "x", haproxy: "x" },
        summary: {
            requests: 1000,
            success: 1,
            latencies: { "50th": 1e6, "99th": 2e6, max: 3e6, mean: 1e6 },
            rate: 1,
            throughput: 1,
            status_codes: {},
            errors: [],
        } as never,
        perFrontend: {},
        haproxy: {},
        serversDown: [],
        failedProcesses: [],
        allowances: { before: {}, after: {}, exceeded: false, increases: [], unreadable: [] },
        ...(memory ? { memory } : {}),
    });
    test("an OOM kill fails a run vegeta saw pass; the fields are kept", () => {
        const row = ledgerRow(run(m(1)) as never, {});
        assert.equal(row.verdict, "fail");
        assert.match(row.why, /OOM-KILLED/);
        assert.deepEqual([row.lbPeakMiB, row.lbLimitMiB, row.oomKills, row.kbPerConnPredicted], [1900, 1920, 1, 26.3]);
    });
    test("no kill: pass, with the memory said; unknown kills: unknown", () => {
        const row = ledgerRow(run(m(0)) as never, {});
        assert.equal(row.verdict, "pass");
        assert.match(row.why, /LB peak 1900\.0 of 1920\.0 MiB/);
        assert.equal(ledgerRow(run(m("unknown")) as never, {}).verdict, "unknown");
        assert.equal(ledgerRow(run() as never, {}).verdict, "pass", "an older run without the record is judged as before");
    });
});
