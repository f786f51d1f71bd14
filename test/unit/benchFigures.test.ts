// bench/figures.ts: per-connection memory by part from each host's cgroup, and the error count
// of bench/scale and bench/oom (nothing planned goes uncounted).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { countErrors, perConnection, type HostReadings } from "../../bench/figures.ts";
import type { CgroupReading } from "../../components/platform/local/cgroups.ts";

const reading = (o: Partial<CgroupReading>): CgroupReading => ({
    memoryBytes: 0, anonBytes: 0, fileBytes: 0, kernelBytes: 0, socketBytes: 0, limitBytes: undefined, cpuNs: 0, oomKills: 0, underOom: false, limitHits: 0, ...o,
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
            "haproxy-0": { role: "haproxy", reading: reading({ memoryBytes: (10 << 20) + n * 30 * 1024, anonBytes: (5 << 20) + n * 20 * 1024,
                kernelBytes: (1 << 20) + n * 8 * 1024, socketBytes: n * 2 * 1024, cpuNs: n * 2e6 }) },
            "client-0": { role: "client", reading: reading({ memoryBytes: (1 << 20) + n * 30 * 1024 }) },
            "client-1": { role: "client", reading: reading({ memoryBytes: (1 << 20) + n * 30 * 1024 }) },
            "backend-0": { role: "backend", reading: reading({ memoryBytes: (2 << 20) + n * 10 * 1024 }) },
        };
        assert.deepEqual(perConnection(base, at, n), {
            lb_kb_per_conn: 30, kernel_kb_per_socket: 5, haproxy_kb_per_conn: 20, client_kb_per_conn: 60, backend_kb_per_conn: 10, lb_cpu_ms_per_conn: 2,
        });
    });
});

describe("error count", () => {
    const ok = { summary: { requests: 300_000, success: 1 }, processes: [1, 2], failedProcesses: [] };
    test("a clean run: 0 errors, requests = planned", () => {
        assert.deepEqual(countErrors(300_000, ok, 0), { errors: 0, planned: 300_000, requests: 300_000,
            causes: { unsent: 0, failed: 0, failed_processes: 0, haproxy: 0, stats_unreadable: 0 } });
    });
    test("the run found reading bench/scale: 186,252 of 300,000 sent is 113,748 errors, not 0", () => {
        const c = countErrors(300_000, { ...ok, summary: { requests: 186_252, success: 1 } }, 0);
        assert.equal(c.errors, 113_748);
        assert.equal(c.causes.unsent, 113_748);
    });
    test("failed and uncollected vegeta processes, failed requests and HAProxy's errors all count", () => {
        const c = countErrors(1000, { summary: { requests: 900, success: 0.9 }, processes: [1, 2, 3], failedProcesses: [{}, {}] }, 7);
        assert.deepEqual(c.causes, { unsent: 100, failed: 90, failed_processes: 2, haproxy: 7, stats_unreadable: 0 });
        assert.equal(c.errors, 199);
    });
    test("unreadable final statistics and a missing attack result are errors, never 0", () => {
        assert.equal(countErrors(10, ok && { ...ok, summary: { requests: 10, success: 1 } }, undefined).causes.stats_unreadable, 1);
        const none = countErrors(10, undefined, 0);
        assert.equal(none.errors, 11, "all 10 planned unsent + the attack itself failed");
    });
});

import { errorsBeforeStop, parseOomKills, rampEnding } from "../../bench/figures.ts";

describe("bench:oom: the kill and the ramp's end", () => {
    const dmesg = [
        "[ 2387.930115] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=haproxy-0,mems_allowed=0,oom_memcg=/c2m/oom-tls-256/haproxy-0,task_memcg=/c2m/oom-tls-256/haproxy-0,task=haproxy,pid=7928,uid=0",
        "[ 2387.930133] Memory cgroup out of memory: Killed process 7928 (haproxy) total-vm:82108kB",
        "[ 2388.000000] oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/c2m/oom-tls-2560/haproxy-0,task_memcg=/c2m/oom-tls-2560/haproxy-0,task=haproxy,pid=9,uid=0",
        "[ 2389.000000] oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/c2m/oom-tls-256/haproxy-0,task_memcg=/c2m/oom-tls-256/haproxy-0,task=sshd,pid=11,uid=0",
    ].join("\n");
    test("kernel log: kills in the host's own cgroup only (not a stack whose name extends it), filtered by pid", () => {
        assert.deepEqual(parseOomKills(dmesg, "c2m/oom-tls-256/haproxy-0").map(({ pid, task }) => ({ pid, task })), [{ pid: 7928, task: "haproxy" }, { pid: 11, task: "sshd" }]);
        assert.deepEqual(parseOomKills(dmesg, "c2m/oom-tls-256/haproxy-0", [7928]).map((k) => k.pid), [7928]);
        assert.deepEqual(parseOomKills("", "c2m/x/haproxy-0"), []);
    });
    const base = { t: 0, held: 0, oomKills: 0, haproxyPids: [10, 11] };
    const ramp = (n: number, f: (i: number) => Partial<typeof base>) => Array.from({ length: n }, (_, i) => ({ ...base, t: i + 1, held: (i + 1) * 100, ...f(i) }));
    test("ends on the cgroup's OOM kill, then on a HAProxy process gone, then on no growth, then at the ramp's end", () => {
        const o = { plateauS: 5, rampS: 100 };
        assert.equal(rampEnding(ramp(10, () => ({})), base, o), undefined, "still growing");
        assert.equal(rampEnding(ramp(10, (i) => (i === 9 ? { oomKills: 1 } : {})), base, o), "oom_kill");
        assert.equal(rampEnding(ramp(10, (i) => (i === 9 ? { haproxyPids: [10] } : {})), base, o), "process_gone");
        assert.equal(rampEnding(ramp(20, (i) => ({ held: Math.min(1000, (i + 1) * 100) })), base, o), "plateau");
        assert.equal(rampEnding(ramp(120, (i) => ({ held: (i + 1) * 1000 })), base, { plateauS: 5, rampS: 40 }), "ramp_end");
        assert.equal(rampEnding(ramp(120, (i) => ({ held: (i + 1) * 1000 })), base, { plateauS: 5, rampS: 50 }), undefined, "a late vegeta gets twice the ramp");
        assert.equal(rampEnding([], base, o), undefined);
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
