// Per-host samples through a run: the platform decides whether they exist (local: each host's
// cgroup, read on the machine; AWS: none), the local sampler on cgroup-shaped directories (v1 and
// v2) reads what the cgroup readers read, the sampling through a run (readings, interval,
// unreadable hosts), run.json's hostSamples schema, and the report's panels drawn from them.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { platformFor } from "../../components/platform/registry.ts";
import { cgroupHostSampler } from "../../components/platform/local/hostSampler.ts";
import { cgroupRel, readHostCgroup } from "../../components/platform/local/cgroups.ts";
import type { HostSampler } from "../../components/platform/platform.ts";
import { RunRecordSchema, type RunRecord } from "../../components/records/runRecord.ts";
import { hostSamplePanels } from "../../components/render/metrics.ts";
import { PRESET_SETTINGS } from "../../components/render/attack.ts";
import { samplingIntervalS, startHostSampling } from "../../scripts/lib/hostSampling.ts";
import { tempDir } from "./helpers.ts";

const MiB = 2 ** 20;

/** A v1 host cgroup as the kernel lays it out (memory and cpuacct hierarchies). */
function fakeV1(root: string, stack: string, host: string, o: { usage: number; tcp: number; limit: number; cpuNs: number; oomKills: number }): void {
    const m = join(root, "memory", cgroupRel(stack, host));
    const c = join(root, "cpuacct", cgroupRel(stack, host));
    mkdirSync(m, { recursive: true });
    mkdirSync(c, { recursive: true });
    const files: Record<string, string> = {
        "memory.usage_in_bytes": `${o.usage}\n`,
        "memory.limit_in_bytes": `${o.limit}\n`,
        "memory.failcnt": "7\n",
        "memory.stat": `cache 4096\nrss ${o.usage / 2}\nrss_huge 0\nmapped_file 0\ntotal_rss ${o.usage * 9}\n`,
        "memory.oom_control": `oom_kill_disable 0\nunder_oom 0\noom_kill ${o.oomKills}\n`,
        "memory.kmem.usage_in_bytes": `${o.usage / 4}\n`,
        "memory.kmem.tcp.usage_in_bytes": `${o.tcp}\n`,
    };
    for (const [f, text] of Object.entries(files)) writeFileSync(join(m, f), text);
    writeFileSync(join(c, "cpuacct.usage"), `${o.cpuNs}\n`);
}

describe("which platforms sample their hosts", () => {
    test("local hosts are read from their cgroups; AWS hosts (whole instances) are not sampled", () => {
        assert.match(platformFor({ platform: "local" }).hostSampler?.source ?? "", /cgroup/);
        assert.equal(platformFor({ platform: "aws" }).hostSampler, undefined);
    });
    test("one reading a second, fewer on long runs (≤ 300 per host)", () => {
        assert.equal(samplingIntervalS(4), 1);
        assert.equal(samplingIntervalS(300), 1);
        assert.equal(samplingIntervalS(301), 2);
        assert.ok(3600 / samplingIntervalS(3600) <= 300);
    });
});

describe("local sampler", () => {
    test("v1: a reading is the cgroup reader's, with the limit and the time", (t) => {
        const root = tempDir(t);
        const o = { usage: 64 * MiB, tcp: 3 * MiB, limit: 256 * MiB, cpuNs: 5e9, oomKills: 1 };
        fakeV1(root, "st", "haproxy-0", o);
        const before = Date.now();
        const { limitBytes, sample } = cgroupHostSampler(root).read("st", "haproxy-0");
        const r = readHostCgroup("st", "haproxy-0", root);
        assert.equal(limitBytes, o.limit);
        assert.ok(sample.t >= before && sample.t <= Date.now());
        assert.deepEqual(sample, {
            t: sample.t,
            memoryBytes: r.memoryBytes,
            anonBytes: r.anonBytes,
            fileBytes: r.fileBytes,
            kernelBytes: r.kernelBytes,
            socketBytes: r.socketBytes,
            cpuNs: r.cpuNs,
            oomKills: r.oomKills,
            limitHits: r.limitHits,
        });
        assert.equal(sample.memoryBytes, o.usage + o.tcp, "memory counts socket buffers (kmem.tcp) on top of usage");
    });
    test("v2: memory.current, memory.stat's kernel and sock, cpu.stat; no limit", (t) => {
        const root = tempDir(t);
        const g = join(root, cgroupRel("st", "client-0"));
        mkdirSync(g, { recursive: true });
        writeFileSync(join(root, "cgroup.controllers"), "cpuset cpu memory\n");
        writeFileSync(join(g, "memory.current"), `${100 * MiB}\n`);
        writeFileSync(join(g, "memory.max"), "max\n");
        writeFileSync(join(g, "memory.stat"), `anon ${60 * MiB}\nfile 1024\nkernel ${30 * MiB}\nsock ${2 * MiB}\nshmem 0\n`);
        writeFileSync(join(g, "memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
        writeFileSync(join(g, "cpu.stat"), "usage_usec 2500000\nuser_usec 1\n");
        const { limitBytes, sample } = cgroupHostSampler(root).read("st", "client-0");
        assert.equal(limitBytes, undefined);
        assert.deepEqual(
            { ...sample, t: 0 },
            {
                t: 0,
                memoryBytes: 100 * MiB,
                anonBytes: 60 * MiB,
                fileBytes: 1024,
                kernelBytes: 30 * MiB,
                socketBytes: 2 * MiB,
                cpuNs: 2.5e9,
                oomKills: 1,
                limitHits: 3,
            },
        );
    });
    test("a host without its cgroup is an error naming the file, never 0", (t) => {
        assert.throws(() => cgroupHostSampler(tempDir(t)).read("st", "gone-0"), /cgroup: cannot read .*c2m\/st\/gone-0\/memory\.usage_in_bytes/);
    });
});

describe("sampling through a run", () => {
    test("a reading at the start, every interval, and at the stop; a host never read is unreadable with its error", async (t) => {
        const root = tempDir(t);
        fakeV1(root, "st", "haproxy-0", { usage: 8 * MiB, tcp: 0, limit: 2 ** 63 - 4096, cpuNs: 1, oomKills: 0 });
        const sampling = startHostSampling(cgroupHostSampler(root), {
            stack: "st",
            durationS: 5,
            hosts: [
                { name: "haproxy-0", role: "haproxy" },
                { name: "client-0", role: "client" },
            ],
        });
        await new Promise((r) => setTimeout(r, 1300));
        const h = sampling.stop();
        assert.equal(h.intervalS, 1);
        assert.equal(h.hosts["haproxy-0"].samples.length, 3, "start, after 1 s, stop");
        assert.equal(h.hosts["haproxy-0"].limitBytes, undefined, "v1's 'unlimited' is no limit");
        assert.equal(h.hosts["haproxy-0"].role, "haproxy");
        assert.deepEqual(
            h.unreadable.map((u) => u.host),
            ["client-0"],
        );
        assert.match(h.unreadable[0].error, /client-0\/memory\.usage_in_bytes/);
        assert.equal(sampling.stop(), h, "stopping twice (the attack's error path) reads nothing more");
    });
    test("a reading that fails once is skipped, the host's other readings are kept", async () => {
        let calls = 0;
        const flaky: HostSampler = {
            source: "test",
            read: () => {
                calls++;
                if (calls === 1) throw new Error("busy");
                return {
                    limitBytes: 5,
                    sample: { t: calls, memoryBytes: 1, anonBytes: 1, fileBytes: 0, kernelBytes: 0, socketBytes: 0, cpuNs: 0, oomKills: 0, limitHits: 0 },
                };
            },
        };
        const h = startHostSampling(flaky, { stack: "s", durationS: 1, hosts: [{ name: "a", role: "backend" }] }).stop();
        assert.deepEqual(
            h.hosts.a.samples.map((s) => s.t),
            [2],
        );
        assert.equal(h.hosts.a.limitBytes, 5);
        assert.deepEqual(h.unreadable, []);
    });
});

/** A run.json of a local run with host samples. */
function localRun(): RunRecord {
    const sample = (t: number, mem: number, cpuS: number) => ({
        t,
        memoryBytes: mem,
        anonBytes: mem / 2,
        fileBytes: 0,
        kernelBytes: mem / 4,
        socketBytes: mem / 8,
        cpuNs: cpuS * 1e9,
        oomKills: 0,
        limitHits: 0,
    });
    return {
        runId: "20261202-120000-local",
        stack: "local",
        startedAt: "2026-12-02T12:00:00.000Z",
        finishedAt: "2026-12-02T12:00:03.000Z",
        interrupted: false,
        settings: { ...PRESET_SETTINGS.smoke },
        processes: [],
        versions: { pulumi: "v3", node: "22", vegeta: "12", haproxy: "2.6" },
        perFrontend: {},
        haproxy: {},
        serversDown: [],
        failedProcesses: [],
        hostSamples: {
            source: cgroupHostSampler().source,
            intervalS: 1,
            hosts: {
                "haproxy-0": { role: "haproxy", limitBytes: 256 * MiB, samples: [sample(1_000_000, 10 * MiB, 1), sample(1_002_000, 30 * MiB, 2.5)] },
                "client-0": { role: "client", samples: [sample(1_000_000, 20 * MiB, 0), sample(1_002_000, 40 * MiB, 0.5)] },
            },
            unreadable: [{ host: "metrics-0", error: "no reading (exit 255)" }],
        },
    };
}

describe("run.json hostSamples", () => {
    test("a local run's samples round-trip; a run without them (AWS, older runs) still parses", () => {
        const run = localRun();
        assert.deepEqual(RunRecordSchema.parse(JSON.parse(JSON.stringify(run))), run);
        const { hostSamples: _, ...aws } = run;
        assert.equal(RunRecordSchema.parse(aws).hostSamples, undefined);
    });
    test("a damaged sample is refused, naming the field", () => {
        const bad = (edit: (r: any) => void) => {
            const r: any = localRun();
            edit(r);
            return RunRecordSchema.safeParse(r);
        };
        const negative = bad((r) => {
            r.hostSamples.hosts["haproxy-0"].samples[0].memoryBytes = -1;
        });
        assert.equal(negative.success, false);
        assert.match(JSON.stringify(negative.error?.issues[0].path), /hostSamples.*haproxy-0.*samples.*0.*memoryBytes/);
        assert.equal(
            bad((r) => {
                r.hostSamples.hosts["client-0"].role = "lb";
            }).success,
            false,
            "an unknown role",
        );
        assert.equal(
            bad((r) => {
                r.hostSamples.hosts["client-0"].samples[0].swapBytes = 1;
            }).success,
            false,
            "an unknown field",
        );
        assert.equal(
            bad((r) => {
                delete r.hostSamples.intervalS;
            }).success,
            false,
        );
    });
});

describe("report panels from host samples", () => {
    test("memory per host with the limit of a limited host, the LB's parts, CPU from the CPU-time counter", () => {
        const run = localRun();
        const panels = hostSamplePanels(run.hostSamples);
        assert.deepEqual(
            panels.map((p) => p.id),
            ["host-memory", "host-memory-lb", "host-cpu"],
        );
        const memory = panels[0].series;
        assert.deepEqual(
            memory.map((s) => s.label),
            ["client-0", "haproxy-0", "haproxy-0 limit"],
        );
        assert.deepEqual(
            memory[1].values,
            [
                [1000, 10 * MiB],
                [1002, 30 * MiB],
            ],
            "Unix seconds, bytes",
        );
        assert.ok(memory[2].values.every(([, v]) => v === 256 * MiB));
        assert.ok(
            panels[1].series.every((s) => s.label.startsWith("haproxy-0 ")),
            "parts of the LB host only",
        );
        const lb = run.hostSamples!.hosts["haproxy-0"].samples;
        const cpu = panels[2].series.find((s) => s.label === "haproxy-0")!.values;
        assert.deepEqual(cpu, [[1002, (100 * (lb[1].cpuNs - lb[0].cpuNs)) / 1e9 / ((lb[1].t - lb[0].t) / 1000)]], "% of one core between readings");
        assert.deepEqual(hostSamplePanels(undefined), [], "no samples, no panels");
    });
});
