// Per-host samples through a run: the platform decides whether they exist (local: each host's
// cgroup; AWS: none), the local sampling loop run for real in sh on a cgroup-shaped directory
// (v1 and v2) parses back to what the cgroup readers read, its stop ends it, run.json's
// hostSamples schema, and the report's panels drawn from them.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { platformFor } from "../../components/platform/registry.ts";
import { cgroupHostSampler, parseCgroupSamples } from "../../components/platform/local/hostSampler.ts";
import { CGROUP_ROOT, cgroupRel, readHostCgroup } from "../../components/platform/local/cgroups.ts";
import { RunRecordSchema, type RunRecord } from "../../components/records/runRecord.ts";
import { hostSamplePanels } from "../../components/render/metrics.ts";
import { PRESET_SETTINGS } from "../../components/render/attack.ts";
import { samplingIntervalS } from "../../scripts/lib/hostSampling.ts";
import { runBash, tempDir } from "./helpers.ts";

const MiB = 2 ** 20;

/** A v1 host cgroup as the kernel lays it out (memory and cpuacct hierarchies). */
function fakeV1(root: string, stack: string, host: string, o: { usage: number; tcp: number; limit: number; cpuNs: number; oomKills: number }): void {
    const m = join(root, "memory", cgroupRel(stack, host));
    const c = join(root, "cpuacct", cgroupRel(stack, host));
    mkdirSync(m, { recursive: true });
    mkdirSync(c, { recursive: true });
    const files: Record<string, string> = {
        "memory.usage_in_bytes": `${o.usage}\n`, "memory.limit_in_bytes": `${o.limit}\n`, "memory.failcnt": "7\n",
        "memory.stat": `cache 4096\nrss ${o.usage / 2}\nrss_huge 0\nmapped_file 0\ntotal_rss ${o.usage * 9}\n`,
        "memory.oom_control": `oom_kill_disable 0\nunder_oom 0\noom_kill ${o.oomKills}\n`,
        "memory.kmem.usage_in_bytes": `${o.usage / 4}\n`, "memory.kmem.tcp.usage_in_bytes": `${o.tcp}\n`,
    };
    for (const [f, text] of Object.entries(files)) writeFileSync(join(m, f), text);
    writeFileSync(join(c, "cpuacct.usage"), `${o.cpuNs}\n`);
}

/** The loop as a host runs it, pointed at `root` instead of /sys/fs/cgroup. */
const loopAt = (root: string, script: string) => script.split(`c=${CGROUP_ROOT}`).join(`c=${root}`);

describe("which platforms sample their hosts", () => {
    test("local hosts are sampled from their cgroups; AWS hosts (whole instances) are not", () => {
        assert.equal(platformFor({ platform: "local" }).hostSampler, cgroupHostSampler);
        assert.equal(platformFor({ platform: "aws" }).hostSampler, undefined);
    });
    test("one reading a second, fewer on long runs (≤ 300 per host)", () => {
        assert.equal(samplingIntervalS(4), 1);
        assert.equal(samplingIntervalS(300), 1);
        assert.equal(samplingIntervalS(301), 2);
        assert.ok(3600 / samplingIntervalS(3600) <= 300);
    });
});

describe("local sampling loop, run in sh", () => {
    test("v1: each reading is the cgroup reader's reading of the same files, at the host's time", (t) => {
        const root = tempDir(t);
        const o = { usage: 64 * MiB, tcp: 3 * MiB, limit: 256 * MiB, cpuNs: 5e9, oomKills: 1 };
        fakeV1(root, "st", "haproxy-0", o);
        const before = Date.now();
        const r = runBash(loopAt(root, cgroupHostSampler.script("st", "haproxy-0", { intervalS: 0.1, count: 3, tag: "c2m-host-sample-unit-v1" })));
        assert.equal(r.status, 0, r.stderr);
        const { limitBytes, samples } = parseCgroupSamples(r.stdout);
        assert.equal(samples.length, 3);
        assert.equal(limitBytes, o.limit);
        const expected = readHostCgroup("st", "haproxy-0", root);
        for (const s of samples) {
            assert.ok(s.t >= before - 1000 && s.t <= Date.now() + 1000, `reading time ${s.t} is the host's clock in ms`);
            assert.deepEqual({ ...s, t: 0 }, { t: 0, memoryBytes: expected.memoryBytes, anonBytes: expected.anonBytes, fileBytes: expected.fileBytes,
                kernelBytes: expected.kernelBytes, socketBytes: expected.socketBytes, cpuNs: expected.cpuNs, oomKills: expected.oomKills, limitHits: expected.limitHits });
        }
        assert.equal(samples[0].memoryBytes, o.usage + o.tcp, "memory counts socket buffers (kmem.tcp) on top of usage");
        assert.ok(samples[2].t > samples[0].t);
    });
    test("v2: memory.current, memory.stat's kernel and sock, cpu.stat", (t) => {
        const root = tempDir(t);
        const g = join(root, cgroupRel("st", "client-0"));
        mkdirSync(g, { recursive: true });
        writeFileSync(join(root, "cgroup.controllers"), "cpuset cpu memory\n");
        writeFileSync(join(g, "memory.current"), `${100 * MiB}\n`);
        writeFileSync(join(g, "memory.max"), "max\n");
        writeFileSync(join(g, "memory.stat"), `anon ${60 * MiB}\nfile 1024\nkernel ${30 * MiB}\nsock ${2 * MiB}\nshmem 0\n`);
        writeFileSync(join(g, "memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
        writeFileSync(join(g, "cpu.stat"), "usage_usec 2500000\nuser_usec 1\n");
        const r = runBash(loopAt(root, cgroupHostSampler.script("st", "client-0", { intervalS: 0.1, count: 2, tag: "c2m-host-sample-unit-v2" })));
        assert.equal(r.status, 0, r.stderr);
        const { limitBytes, samples } = parseCgroupSamples(r.stdout);
        assert.equal(limitBytes, undefined, "no limit");
        assert.equal(samples.length, 2);
        assert.deepEqual({ ...samples[1], t: 0 }, { t: 0, memoryBytes: 100 * MiB, anonBytes: 60 * MiB, fileBytes: 1024, kernelBytes: 30 * MiB,
            socketBytes: 2 * MiB, cpuNs: 2.5e9, oomKills: 1, limitHits: 3 });
    });
    test("the stop ends a running loop; the readings before it are kept, a reading cut short is dropped", async (t) => {
        const root = tempDir(t);
        fakeV1(root, "st", "backend-0", { usage: 8 * MiB, tcp: 0, limit: 2 ** 63 - 4096, cpuNs: 1, oomKills: 0 });
        const tag = `c2m-host-sample-unit-stop-${process.pid}`;
        const child = spawn("sh", ["-c", loopAt(root, cgroupHostSampler.script("st", "backend-0", { intervalS: 0.2, count: 1000, tag }))], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d) => { out += d; });
        const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
        await new Promise((r) => setTimeout(r, 700));
        const stop = runBash(cgroupHostSampler.stopScript(tag));
        assert.equal(stop.status, 0, stop.stderr);
        const t0 = Date.now();
        await closed;
        assert.ok(Date.now() - t0 < 5000, "the loop ended at the stop, not after its 1000 readings");
        const { samples, limitBytes } = parseCgroupSamples(`${out}@ ${Date.now()}\n== memory.usage_in_bytes\n12`);
        assert.ok(samples.length >= 2 && samples.length < 20, `${samples.length} readings in ~0.7 s`);
        assert.equal(limitBytes, undefined, "v1's 'unlimited' is no limit");
        assert.equal(runBash(cgroupHostSampler.stopScript("c2m-host-sample-none")).status, 0, "stopping a loop that is gone is not an error");
    });
    test("output that is not a sampler's, or a reading missing a figure, is an error, never 0", () => {
        assert.throws(() => parseCgroupSamples("Welcome to the host\n"), /unexpected output/);
        assert.throws(() => parseCgroupSamples("@ 1000\n== memory.stat\nrss 1\n@end\n"), /a reading without memory\.usage_in_bytes, .*cpuacct\.usage/);
        assert.throws(() => parseCgroupSamples(`@ 1000\n${["memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat", "memory.oom_control", "memory.failcnt", "cpuacct.usage"]
            .map((f) => `== ${f}\n${f === "memory.usage_in_bytes" ? "" : "0"}`).join("\n")}\n@end\n`), /memory\.usage_in_bytes is unreadable/);
        assert.throws(() => cgroupHostSampler.script("st", "h", { intervalS: 0, count: 1, tag: "x" }), /not a sampling/);
    });
});

/** A run.json of a local run with host samples. */
function localRun(): RunRecord {
    const sample = (t: number, mem: number, cpuS: number) => ({ t, memoryBytes: mem, anonBytes: mem / 2, fileBytes: 0, kernelBytes: mem / 4,
        socketBytes: mem / 8, cpuNs: cpuS * 1e9, oomKills: 0, limitHits: 0 });
    return {
        runId: "20261202-120000-local", stack: "local", startedAt: "2026-12-02T12:00:00.000Z", finishedAt: "2026-12-02T12:00:03.000Z",
        interrupted: false, settings: { ...PRESET_SETTINGS.smoke }, processes: [],
        versions: { pulumi: "v3", node: "22", vegeta: "12", haproxy: "2.6" },
        perFrontend: {}, haproxy: {}, serversDown: [], failedProcesses: [],
        hostSamples: {
            source: cgroupHostSampler.source, intervalS: 1,
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
        const bad = (edit: (r: any) => void) => { const r: any = localRun(); edit(r); return RunRecordSchema.safeParse(r); };
        const negative = bad((r) => { r.hostSamples.hosts["haproxy-0"].samples[0].memoryBytes = -1; });
        assert.equal(negative.success, false);
        assert.match(JSON.stringify(negative.error?.issues[0].path), /hostSamples.*haproxy-0.*samples.*0.*memoryBytes/);
        assert.equal(bad((r) => { r.hostSamples.hosts["client-0"].role = "lb"; }).success, false, "an unknown role");
        assert.equal(bad((r) => { r.hostSamples.hosts["client-0"].samples[0].swapBytes = 1; }).success, false, "an unknown field");
        assert.equal(bad((r) => { delete r.hostSamples.intervalS; }).success, false);
    });
});

describe("report panels from host samples", () => {
    test("memory per host with the limit of a limited host, the LB's parts, CPU from the CPU-time counter", () => {
        const run = localRun();
        const panels = hostSamplePanels(run.hostSamples);
        assert.deepEqual(panels.map((p) => p.id), ["host-memory", "host-memory-lb", "host-cpu"]);
        const memory = panels[0].series;
        assert.deepEqual(memory.map((s) => s.label), ["client-0", "haproxy-0", "haproxy-0 limit"]);
        assert.deepEqual(memory[1].values, [[1000, 10 * MiB], [1002, 30 * MiB]], "Unix seconds, bytes");
        assert.ok(memory[2].values.every(([, v]) => v === 256 * MiB));
        assert.ok(panels[1].series.every((s) => s.label.startsWith("haproxy-0 ")), "parts of the LB host only");
        const lb = run.hostSamples!.hosts["haproxy-0"].samples;
        const cpu = panels[2].series.find((s) => s.label === "haproxy-0")!.values;
        assert.deepEqual(cpu, [[1002, (100 * (lb[1].cpuNs - lb[0].cpuNs)) / 1e9 / ((lb[1].t - lb[0].t) / 1000)]], "% of one core between readings");
        assert.deepEqual(hostSamplePanels(undefined), [], "no samples, no panels");
    });
});
