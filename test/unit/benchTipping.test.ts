// bench:tipping for any capacity: the synthetic backend derived from the capacity asked for, and
// the search from a fixed start that knows nothing of it, on a queue of that capacity (with the
// bench's 2 clients: rates in whole steps of 2/s) — within ±10 % in its step budget for every
// capacity it can reach, from the smallest checkable one up.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CAPACITY_SEARCH, lbKneeConfig, lbKneeLayout, minCheckableCapacity, reachableKnee, syntheticBackend } from "../../scripts/analysis/kneeSetups.ts";
import { DEFAULT_TIPPING, searchTippingPoint } from "../../scripts/analysis/tippingSearch.ts";
import { queueModel } from "../../scripts/analysis/tippingModel.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";

const CLIENTS = 2;
const capacities = (): number[] => {
    const list: number[] = [];
    for (let n = minCheckableCapacity(CLIENTS); n <= 100_000; n = Math.ceil(n * 1.07)) list.push(n);
    return list;
};

describe("syntheticBackend", () => {
    test("the capacity asked for, within 1 %, in whole servers, slots and ms", () => {
        const problems: string[] = [];
        for (const n of [...capacities(), 240, 600, 1000]) {
            const b = syntheticBackend(n);
            if (Math.abs(b.capacity - n) / n > 0.01) problems.push(`${n}: gives ${b.capacity}`);
            if (b.backends * b.serversPerHost !== b.servers || ![1, 2, 4, 6, 8].includes(b.servers))
                problems.push(`${n}: ${b.backends} × ${b.serversPerHost} servers`);
            if (!Number.isInteger(b.maxConcurrent) || b.maxConcurrent < 1 || !Number.isInteger(b.serviceTimeMs)) problems.push(`${n}: ${JSON.stringify(b)}`);
            // ~200 ms per request: a step sees many requests, and the knee is the queue's, not pong's CPU.
            if (b.serviceTimeMs < 100 || b.serviceTimeMs > 300) problems.push(`${n}: service time ${b.serviceTimeMs} ms`);
            if (b.capacity !== (b.servers * b.maxConcurrent * 1000) / b.serviceTimeMs) problems.push(`${n}: capacity formula`);
        }
        assert.deepEqual(problems, []);
    });

    test("the earlier fixed lab is what 240/s still gets: 8 servers × 6 slots / 200 ms", () => {
        assert.deepEqual(syntheticBackend(240), { backends: 2, serversPerHost: 4, servers: 8, maxConcurrent: 6, serviceTimeMs: 200, capacity: 240 });
    });

    test("small capacities use fewer servers rather than long service times", () => {
        assert.deepEqual(syntheticBackend(10), { backends: 2, serversPerHost: 1, servers: 2, maxConcurrent: 1, serviceTimeMs: 200, capacity: 10 });
        assert.equal(syntheticBackend(5).servers, 1);
    });

    test("every derived backend is a valid lab config (c2m:backend, c2m:hosts)", () => {
        for (const n of [10, 37, 240, 1000, 25_000]) {
            const b = syntheticBackend(n);
            assert.doesNotThrow(
                () =>
                    parseLabConfig({
                        hosts: { haproxy: 1, backends: b.backends, clients: CLIENTS, metrics: 0 },
                        backend: { serversPerHost: b.serversPerHost, maxConcurrent: b.maxConcurrent, serviceTimeMs: b.serviceTimeMs },
                        attack: { preset: "smoke", frontends: ["plain"] },
                    }),
                String(n),
            );
        }
    });

    test("refuses a capacity that is not a positive number", () => {
        for (const bad of [0, -5, NaN, Infinity]) assert.throws(() => syntheticBackend(bad), /capacity must be a positive number/);
    });
});

describe("the search from the bench's fixed start, for any capacity", () => {
    const search = { ...DEFAULT_TIPPING, ...CAPACITY_SEARCH, quantum: CLIENTS };

    test(`every capacity from ${minCheckableCapacity(CLIENTS)}/s to what ${CAPACITY_SEARCH.maxSteps} steps reach: knee within ±10 %`, async () => {
        const failures: string[] = [];
        const reach = reachableKnee(CAPACITY_SEARCH);
        const list = capacities().filter((n) => n <= reach);
        assert.ok(list.length > 50 && list.at(-1)! > 4000, `${list.length} capacities up to ${list.at(-1)}`);
        for (const n of list) {
            const b = syntheticBackend(n);
            const r = await searchTippingPoint(queueModel(b.capacity, b.serviceTimeMs), search);
            const ok = r.knee !== undefined && Math.abs(r.knee - b.capacity) / b.capacity <= 0.1;
            if (!ok) failures.push(`capacity ${b.capacity.toFixed(1)}: knee ${r.knee?.toFixed(1)} in ${r.steps.length} steps (${r.stopReason})`);
        }
        assert.deepEqual(failures, []);
    });

    test("±5 % latency noise: still within ±10 %", async () => {
        const failures: string[] = [];
        let seed = 0;
        for (const n of capacities().filter((x, i) => i % 3 === 0 && x <= reachableKnee(CAPACITY_SEARCH))) {
            const b = syntheticBackend(n);
            const r = await searchTippingPoint(queueModel(b.capacity, b.serviceTimeMs, { p99: 0.05 }, ++seed), search);
            if (r.knee === undefined || Math.abs(r.knee - b.capacity) / b.capacity > 0.1) failures.push(`${n}: knee ${r.knee} in ${r.steps.length}`);
        }
        assert.deepEqual(failures, []);
    });

    test("the start is the same for every capacity; a knee beyond the step budget is reported as not found, not guessed", async () => {
        assert.deepEqual(CAPACITY_SEARCH, { startRate: 10, maxSteps: 13 });
        assert.equal(reachableKnee(CAPACITY_SEARCH), 5120);
        const r = await searchTippingPoint(queueModel(100_000, 200), search);
        assert.equal(r.knee, undefined);
        assert.match(r.stopReason, /no bad step within 13 steps; the knee is above 40960\/s/);
        const wide = await searchTippingPoint(queueModel(20_000, 200), search);
        assert.equal(wide.converged, false);
        assert.match(wide.stopReason, /step budget \(13\) spent before the bracket narrowed/);
    });

    test("below the smallest checkable capacity the quantum is too coarse, and the result says how wide it stopped", async () => {
        // capacity 8 in steps of 2: the bracket (8, 10] has nothing offerable inside; it is ±11.8 %, not the tolerance
        const r = await searchTippingPoint(queueModel(8, 200), { ...DEFAULT_TIPPING, startRate: 2, quantum: 2 });
        assert.equal(r.converged, true);
        assert.match(r.stopReason, /^bracket \(8\.0\/s, 10\.0\/s\] has no offerable rate inside \(±11\.8 %\)$/);
        assert.ok(minCheckableCapacity(2) > 8);
    });
});

describe("the LB's own knee (--lb-cpus)", () => {
    test("the LB on its own CPUs when some are left for the others; sharing them, and saying so, when none are", () => {
        assert.deepEqual(lbKneeLayout(1, [0, 1]), { lbCpus: [0], otherCpus: [1], shared: false, threads: 1 });
        assert.deepEqual(lbKneeLayout(2, [0, 1]), { lbCpus: [0, 1], otherCpus: [0, 1], shared: true, threads: 2 });
        assert.deepEqual(lbKneeLayout(2, [0, 1, 2, 3]), { lbCpus: [0, 1], otherCpus: [2, 3], shared: false, threads: 2 });
        for (const bad of [0, 3, 1.5, NaN]) assert.throws(() => lbKneeLayout(bad, [0, 1]), /--lb-cpus .*: this machine has 2 CPU\(s\) \(0,1\); give 1\.\.2/);
    });

    test("a CPU quota and a thread count make the LB the narrowest resource; bad ones are refused with the range", () => {
        assert.deepEqual(lbKneeLayout(1, [0, 1], { cpuQuota: 0.1 }), { lbCpus: [0], otherCpus: [1], shared: false, threads: 1, cpuQuota: 0.1 });
        assert.deepEqual(lbKneeLayout(1, [0, 1], { cpuQuota: 0.2, threads: 2 }), { lbCpus: [0], otherCpus: [1], shared: false, threads: 2, cpuQuota: 0.2 });
        for (const bad of [0, 0.04, 1.5, NaN])
            assert.throws(() => lbKneeLayout(1, [0, 1], { cpuQuota: bad }), /--lb-cpu-quota .*: the LB's CPU time in CPUs' worth must be in 0\.05\.\.1 /);
        assert.throws(() => lbKneeLayout(1, [0, 1], { threads: 0 }), /--lb-threads 0: give a whole number of HAProxy threads, 1\.\.64/);
        const lab = parseLabConfig(lbKneeConfig(1, [0, 1], { subnet: "198.18.140.0/24", frontend: "tls", clients: CLIENTS, cpuQuota: 0.2, threads: 2 }).config);
        assert.deepEqual(lab.local.hostLimits?.haproxy, { cpus: "0", cpuQuota: 0.2 });
        assert.equal(lab.haproxy.threads, 2);
        assert.equal(lab.local.hostLimits?.client?.cpuQuota, undefined, "only the LB is capped");
    });

    test("its lab is a valid config: pong unlimited, the LB pinned with as many threads, the other roles elsewhere", () => {
        for (const [n, frontend] of [
            [1, "plain"],
            [2, "tls"],
        ] as const) {
            const { config } = lbKneeConfig(n, [0, 1], { subnet: "198.18.120.0/24", frontend, clients: CLIENTS });
            const lab = parseLabConfig(config);
            assert.equal(lab.backend.maxConcurrent, 0);
            assert.equal(lab.backend.serviceTimeMs, 0);
            assert.equal(lab.haproxy.threads, n);
            assert.equal(lab.local.hostLimits?.haproxy?.cpus, n === 1 ? "0" : "0-1");
            assert.equal(lab.local.hostLimits?.client?.cpus, n === 1 ? "1" : "0-1");
            assert.deepEqual(lab.attack.frontends, [frontend]);
            assert.equal(lab.hosts.metrics, 0, "no exporters in the LB's cgroup: each step's CPU comes from the cgroups and /proc/stat");
        }
    });
});
