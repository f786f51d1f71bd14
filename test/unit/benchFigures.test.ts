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
