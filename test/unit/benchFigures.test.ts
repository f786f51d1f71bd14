// bench/figures.ts: per-connection memory by part from each host's cgroup, and the error count
// of bench/scale and bench/oom (nothing planned goes uncounted).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { countErrors, perConnection, type AttackAccount, type HostReadings } from "../../bench/figures.ts";
import type { CgroupReading } from "../../components/platform/local/cgroups.ts";

const reading = (o: Partial<CgroupReading>): CgroupReading => ({
    memoryBytes: 0,
    anonBytes: 0,
    fileBytes: 0,
    kernelBytes: 0,
    socketBytes: 0,
    limitBytes: undefined,
    cpuNs: 0,
    oomKills: 0,
    underOom: false,
    limitHits: 0,
    ...o,
});

describe("per-connection figures from each host's cgroup", () => {
    test("LB total, kernel per socket (2 per connection), HAProxy's own, clients and backends summed over their hosts", () => {
        const base: HostReadings = {
            "haproxy-0": { role: "haproxy", reading: reading({ memoryBytes: 10 << 20, anonBytes: 5 << 20, kernelBytes: 1 << 20 }) },
            "client-0": { role: "client", reading: reading({ memoryBytes: 1 << 20 }) },
            "client-1": { role: "client", reading: reading({ memoryBytes: 1 << 20 }) },
            "backend-0": { role: "backend", reading: reading({ memoryBytes: 2 << 20 }) },
        };
        const n = 1000;
        const at: HostReadings = {
            "haproxy-0": {
                role: "haproxy",
                reading: reading({
                    memoryBytes: (10 << 20) + n * 30 * 1024,
                    anonBytes: (5 << 20) + n * 20 * 1024,
                    kernelBytes: (1 << 20) + n * 8 * 1024,
                    socketBytes: n * 2 * 1024,
                    cpuNs: n * 2e6,
                }),
            },
            "client-0": { role: "client", reading: reading({ memoryBytes: (1 << 20) + n * 30 * 1024 }) },
            "client-1": { role: "client", reading: reading({ memoryBytes: (1 << 20) + n * 30 * 1024 }) },
            "backend-0": { role: "backend", reading: reading({ memoryBytes: (2 << 20) + n * 10 * 1024 }) },
        };
        assert.deepEqual(perConnection(base, at, n), {
            lb_kb_per_conn: 30,
            kernel_kb_per_socket: 5,
            haproxy_kb_per_conn: 20,
            client_kb_per_conn: 60,
            backend_kb_per_conn: 10,
            lb_cpu_ms_per_conn: 2,
        });
    });
});

describe("error count", () => {
    /** One attack that ran its whole plan and returned on its own. */
    const whole = (planned: number, requests: number, success = 1): AttackAccount => ({
        planned,
        summary: { requests, success },
        failedProcesses: 0,
        complete: true,
    });
    test("a clean run: 0 errors, requests = planned", () => {
        assert.deepEqual(countErrors(300_000, [whole(300_000, 300_000)], 0), {
            errors: 0,
            planned: 300_000,
            replanned: 300_000,
            requests: 300_000,
            attacks: [{ planned: 300_000, replanned: 300_000, sent: 300_000, answered: 300_000, failed: 0, unsent: 0 }],
            causes: { unsent: 0, uncovered: 0, failed: 0, failed_processes: 0, haproxy: 0, stats_unreadable: 0 },
        });
    });
    test("the run found reading bench/scale: 186,252 of 300,000 sent is 113,748 errors, not 0", () => {
        const c = countErrors(300_000, [whole(300_000, 186_252)], 0);
        assert.equal(c.errors, 113_748);
        assert.equal(c.causes.uncovered, 113_748, "sent by no attack");
    });
    test("failed and uncollected vegeta processes, failed requests and HAProxy's errors all count", () => {
        const c = countErrors(1000, [{ planned: 1000, summary: { requests: 900, success: 0.9 }, failedProcesses: 2, complete: true }], 7);
        assert.deepEqual(c.causes, { unsent: 100, uncovered: 0, failed: 90, failed_processes: 2, haproxy: 7, stats_unreadable: 0 });
        assert.equal(c.errors, 199);
    });
    test("unreadable final statistics and a missing attack result are errors, never 0", () => {
        assert.equal(countErrors(10, [whole(10, 10)], undefined).causes.stats_unreadable, 1);
        const none = countErrors(10, [{ planned: 10, failedProcesses: 0, complete: false }], 0);
        assert.equal(none.errors, 11, "all 10 planned unsent + the attack itself failed");
        assert.equal(countErrors(10, [], 0).errors, 11, "no attack at all: the target uncovered + 1");
    });

    // A back-off pauses the first attack (SIGSTOP) at 160,000 sent of its 300,000; once resumed after its
    // duration vegeta sends nothing more, so its plan is what it sent; the top-up plans the rest.
    const paused = (sent: number, complete = true): AttackAccount => ({
        planned: 300_000,
        sentByPauseAtMost: 161_000,
        summary: { requests: sent, success: 1 },
        failedProcesses: 0,
        complete,
    });
    test("a paused attack's plan is revised to what it sent; the top-up's covers the rest: 0 errors", () => {
        const c = countErrors(300_000, [paused(160_000), whole(140_000, 140_000)], 0);
        assert.equal(c.errors, 0);
        assert.deepEqual(
            c.attacks.map((a) => [a.planned, a.replanned, a.sent, a.unsent]),
            [
                [300_000, 160_000, 160_000, 0],
                [140_000, 140_000, 140_000, 0],
            ],
        );
        assert.equal(c.replanned, 300_000);
    });
    test("one attack's extra requests never hide another's missing results (the old sum over all attacks read 0 here)", () => {
        // The top-up planned 150,000 (10,000 of the paused attack's were still in flight then) and had to be ended
        // with 140,000 results: both together show 300,000 requests, the target, yet 10,000 of its plan have no answer.
        const ended: AttackAccount = { planned: 150_000, summary: { requests: 140_000, success: 1 }, failedProcesses: 0, complete: false };
        const c = countErrors(300_000, [paused(160_000), ended], 0);
        assert.equal(c.requests, 300_000);
        assert.equal(c.errors, 10_000);
        assert.equal(c.causes.unsent, 10_000);
    });
    test("vegeta's rounding (299,998 of 300,000 sent) and the top-up that sent the rest (16 for 3: one per process): 0 errors", () => {
        const c = countErrors(300_000, [whole(300_000, 299_998), whole(4, 16)], 0);
        assert.equal(c.errors, 0);
        assert.deepEqual(
            c.attacks.map((a) => a.replanned),
            [299_998, 16],
        );
        // Without the top-up the 2 are errors.
        assert.equal(countErrors(300_000, [whole(300_000, 299_998)], 0).causes.uncovered, 2);
    });
    test("a paused attack the bench had to end: its plan is the most it can have sent by its pause, not its (incomplete) results", () => {
        const c = countErrors(300_000, [paused(120_000, false), whole(140_000, 140_000)], 0);
        assert.equal(c.attacks[0].replanned, 161_000);
        assert.equal(c.causes.unsent, 41_000);
        assert.equal(c.causes.uncovered, 0);
    });
    test("what no attack planned is still an error: a paused attack and no top-up", () => {
        const c = countErrors(300_000, [paused(160_000)], 0);
        assert.equal(c.causes.uncovered, 140_000);
        assert.equal(c.errors, 140_000);
    });
});

import { errorsBeforeStop, heldAtOom, killedState, parseOomKills, parseSoftnetDrops, rampEnding, type RampSample } from "../../bench/figures.ts";
import { haproxyPids } from "../../bench/oomReadings.ts";

describe("the machine's backlog drops", () => {
    test("/proc/net/softnet_stat: the second column (hex) of every CPU's line, summed", () => {
        const text =
            "0117a7b4 0062130e 00000a1c 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n" +
            "00f5c1a0 00773323 00000b2d 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001\n";
        assert.equal(parseSoftnetDrops(text), 0x0062130e + 0x00773323);
        assert.throws(() => parseSoftnetDrops("0117a7b4\n"), /unreadable line/);
    });
});

describe("bench:oom: the kill and the ramp's end", () => {
    const dmesg = [
        "[ 2387.930115] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=haproxy-0,mems_allowed=0,oom_memcg=/c2m/oom-tls-256/haproxy-0,task_memcg=/c2m/oom-tls-256/haproxy-0,task=haproxy,pid=7928,uid=0",
        "[ 2387.930133] Memory cgroup out of memory: Killed process 7928 (haproxy) total-vm:82108kB",
        "[ 2388.000000] oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/c2m/oom-tls-2560/haproxy-0,task_memcg=/c2m/oom-tls-2560/haproxy-0,task=haproxy,pid=9,uid=0",
        "[ 2389.000000] oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/c2m/oom-tls-256/haproxy-0,task_memcg=/c2m/oom-tls-256/haproxy-0,task=sshd,pid=11,uid=0",
    ].join("\n");
    test("kernel log: kills in the host's own cgroup only (not a stack whose name extends it), filtered by pid", () => {
        assert.deepEqual(
            parseOomKills(dmesg, "c2m/oom-tls-256/haproxy-0").map(({ pid, task }) => ({ pid, task })),
            [
                { pid: 7928, task: "haproxy" },
                { pid: 11, task: "sshd" },
            ],
        );
        assert.deepEqual(
            parseOomKills(dmesg, "c2m/oom-tls-256/haproxy-0", [7928]).map((k) => k.pid),
            [7928],
        );
        assert.deepEqual(parseOomKills("", "c2m/x/haproxy-0"), []);
    });
    const base = { t: 0, held: 0, oomKills: 0, haproxyPids: [10, 11] };
    const ramp = (n: number, f: (i: number) => Partial<typeof base>) =>
        Array.from({ length: n }, (_, i) => ({ ...base, t: i + 1, held: (i + 1) * 100, ...f(i) }));
    test("ends on the cgroup's OOM kill, then on a HAProxy process gone, then on no growth, then at the ramp's end", () => {
        const o = { plateauS: 5, rampS: 100 };
        assert.equal(
            rampEnding(
                ramp(10, () => ({})),
                base,
                o,
            ),
            undefined,
            "still growing",
        );
        assert.equal(
            rampEnding(
                ramp(10, (i) => (i === 9 ? { oomKills: 1 } : {})),
                base,
                o,
            ),
            "oom_kill",
        );
        assert.equal(
            rampEnding(
                ramp(10, (i) => (i === 9 ? { haproxyPids: [10] } : {})),
                base,
                o,
            ),
            "process_gone",
        );
        assert.equal(
            rampEnding(
                ramp(20, (i) => ({ held: Math.min(1000, (i + 1) * 100) })),
                base,
                o,
            ),
            "plateau",
        );
        assert.equal(
            rampEnding(
                ramp(120, (i) => ({ held: (i + 1) * 1000 })),
                base,
                { plateauS: 5, rampS: 40 },
            ),
            "ramp_end",
        );
        assert.equal(
            rampEnding(
                ramp(120, (i) => ({ held: (i + 1) * 1000 })),
                base,
                { plateauS: 5, rampS: 50 },
            ),
            undefined,
            "a late vegeta gets twice the ramp",
        );
        assert.equal(rampEnding([], base, o), undefined);
    });
    test("an unreadable cgroup.procs is unknown, not every process gone: the ramp goes on, and the kill is unknown unless counted or logged", () => {
        // A stack that does not exist: its cgroup.procs cannot be read.
        assert.equal(haproxyPids("no-such-stack-for-this-test", "haproxy-0"), undefined);
        const o = { plateauS: 5, rampS: 100 };
        assert.equal(
            rampEnding(
                ramp(10, (i) => (i === 9 ? { haproxyPids: undefined } : {})),
                base,
                o,
            ),
            undefined,
        );
        assert.deepEqual(killedState({ oomKillsRose: false, kernelKills: 0, baselinePids: [10, 11], lastPids: undefined }), {
            killed: "unknown",
            gone: "unknown",
        });
        assert.deepEqual(killedState({ oomKillsRose: true, kernelKills: 0, baselinePids: [10, 11], lastPids: undefined }), { killed: true, gone: "unknown" });
        assert.deepEqual(killedState({ oomKillsRose: false, kernelKills: 0, baselinePids: [10, 11], lastPids: [10] }), { killed: true, gone: [11] });
        assert.deepEqual(killedState({ oomKillsRose: false, kernelKills: 0, baselinePids: [10, 11], lastPids: [10, 11] }), { killed: false, gone: [] });
    });

    test("held_at_oom: HAProxy's count at its last reading before the kill, not the peak nor the sockets' count; the peak is its own figure", () => {
        const s = (t: number, held: number, haproxyHeld?: number, oomKills = 0): RampSample => ({
            t,
            held,
            oomKills,
            haproxyPids: [10, 11],
            ...(haproxyHeld === undefined ? {} : { haproxyHeld }),
        });
        // HAProxy counted 900 at t=3 (its peak), 880 at t=4 (a few closed), was not read at t=5, and the kill was seen at t=6.
        const samples = [s(1, 300, 290), s(2, 600, 590), s(3, 910, 900), s(4, 905, 880), s(5, 950), s(6, 400, 100, 1)];
        assert.deepEqual(heldAtOom(samples, "oom_kill"), { held: 880, ageS: 2, peak: 900 });
        // Not a kill: the last sample's reading counts.
        assert.deepEqual(heldAtOom(samples, "plateau"), { held: 100, ageS: 0, peak: 900 });
        // Never read: unknown, not 0 and not the sockets' count.
        assert.deepEqual(heldAtOom([s(1, 300), s(2, 600, undefined, 1)], "oom_kill"), { held: null, ageS: null, peak: null });
    });

    test("errors before the stop: requests that ended before it without a 200; the ones still open were held", () => {
        const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
        const stop = Date.UTC(2026, 0, 1, 0, 0, 10);
        const results = [
            { timestamp: at(1), latency: 20e9, code: 0, error: "context canceled" }, // held until the stop
            { timestamp: at(2), latency: 1e9, code: 0, error: "connection reset by peer" }, // killed HAProxy
            { timestamp: at(3), latency: 1e6, code: 503 },
            { timestamp: at(4), latency: 1e6, code: 200 },
            { timestamp: at(11), latency: 1e6, code: 0 }, // after the stop: not counted
        ];
        assert.deepEqual(errorsBeforeStop(results, stop), { started: 4, failed: 2 });
    });
});

import { readFileSync } from "node:fs";
import { parseNetCounters, readNetCounters } from "../../bench/figures.ts";

describe("a namespace's socket counters (the one reader of bench/scale and bench/oom)", () => {
    const netstat = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 7 9\nIpExt: InNoRoutes\nIpExt: 0\n";

    test("TCP sockets in use from sockstat, accept-queue drops from netstat", () => {
        const sockstat = "sockets: used 1234\nTCP: inuse 812 orphan 0 tw 3 alloc 815 mem 40\nUDP: inuse 2 mem 1\n";
        assert.deepEqual(parseNetCounters(sockstat + netstat), { tcpInuse: 812, listenDrops: 9 });
    });

    test("this machine's own files parse (the format the kernel writes)", () => {
        const c = parseNetCounters(readFileSync("/proc/net/sockstat", "utf8") + readFileSync("/proc/net/netstat", "utf8"));
        assert.ok(Number.isInteger(c.tcpInuse) && c.tcpInuse >= 0);
        assert.ok(Number.isInteger(c.listenDrops) && c.listenDrops >= 0);
    });

    test("text without the TCP line is an error, not 0 sockets", () => {
        assert.throws(() => parseNetCounters("sockets: used 3\n" + netstat), /no `TCP: inuse` line/);
    });

    test("a namespace that cannot be read is named in the error", () => {
        assert.throws(() => readNetCounters("c2m-no-such-namespace"), /namespace c2m-no-such-namespace: /);
    });
});
