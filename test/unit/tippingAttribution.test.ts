// Which host's CPU limited a knee: the allowance script and its parsing, the per-step judgement
// (a host's own CPUs, CPUs shared with other hosts or the machine's other users, a CPU quota), and
// the attribution of the knee (a saturated client makes it client-bound, never the LB's).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
    CPU_ALLOWANCE_SCRIPT,
    attribute,
    cgroupCores,
    idleShares,
    judgeCpu,
    limitedHosts,
    loadWindow,
    parseCpuIdle,
    parseCpuAllowance,
    parseCpuSet,
    processCores,
    type CpuAllowance,
    type CpuSample,
} from "../../scripts/analysis/cpuAttribution.ts";
import {
    DEFAULT_TIPPING,
    searchTippingPoint,
    type ClientSend,
    type HostCpu,
    type StepMeasure,
    type TippingResult,
} from "../../scripts/analysis/tippingSearch.ts";
import { formatCores, formatTippingTable } from "../../scripts/analysis/tippingTable.ts";
import { TippingRecordSchema } from "../../components/records/tippingRecord.ts";
import { bashSyntax, runBash } from "./helpers.ts";

const idle = (cpus: number[], share: number) => Object.fromEntries(cpus.map((c) => [String(c), share]));

describe("CPU allowance", () => {
    test("CPU sets as the kernel prints them", () => {
        assert.deepEqual(parseCpuSet("0-3,8,10-11"), [0, 1, 2, 3, 8, 10, 11]);
        assert.deepEqual(parseCpuSet("1"), [1]);
        for (const bad of ["", "a", "3-1", "0,,1"]) assert.equal(parseCpuSet(bad), undefined, bad);
    });

    test("the script parses, runs here and reads this process's CPUs, boot id and quota", () => {
        assert.equal(bashSyntax(CPU_ALLOWANCE_SCRIPT).status, 0);
        const r = runBash(CPU_ALLOWANCE_SCRIPT);
        assert.equal(r.status, 0, r.stderr);
        const a = parseCpuAllowance("here", "client", r.stdout);
        assert.ok(a.cpus.length >= 1);
        assert.match(a.boot, /^[0-9a-f-]{36}$/);
        assert.ok(a.quotaCores === undefined || a.quotaCores > 0);
    });

    test("quota: cgroup v1 quota/period, v2 cpu.max; none when unlimited", () => {
        const text = (quota: string) => `cpus: 0-1\nboot: b\nquota: ${quota}\n`;
        assert.equal(parseCpuAllowance("h", "haproxy", text("50000 100000")).quotaCores, 0.5);
        assert.equal(parseCpuAllowance("h", "haproxy", text("150000 100000")).quotaCores, 1.5);
        assert.equal(parseCpuAllowance("h", "haproxy", text("-1 100000")).quotaCores, undefined);
        assert.equal(parseCpuAllowance("h", "haproxy", text("max 100000")).quotaCores, undefined);
        assert.equal(parseCpuAllowance("h", "haproxy", text("max")).quotaCores, undefined);
        assert.throws(() => parseCpuAllowance("h", "haproxy", "boot: b\n"), /h: no CPU list/);
    });
});

// A shared-kernel lab (the local platform without CPU sets): every host on CPUs 0-1 of one machine.
const shared: CpuAllowance[] = ["client-0", "client-1", "haproxy-0", "backend-0"].map((host) => ({
    host,
    role: host.replace(/-\d+$/, ""),
    cpus: [0, 1],
    boot: "m1",
}));
// Pinned: the LB alone on CPU 2, the clients on 0-1, a backend with a quota.
const pinned: CpuAllowance[] = [
    { host: "client-0", role: "client", cpus: [0, 1], boot: "m1" },
    { host: "haproxy-0", role: "haproxy", cpus: [2], boot: "m1" },
    { host: "backend-0", role: "backend", cpus: [3], quotaCores: 0.5, boot: "m1" },
];

describe("judgeCpu", () => {
    test("shared CPUs busy: every host on them is saturated, and says it shares them", () => {
        const samples: CpuSample[] = shared.map((a, i) => ({ host: a.host, labCores: [0.6, 0.5, 0.5, 0.3][i], idleByCpu: idle([0, 1], 0.04) }));
        const cpu = judgeCpu(samples, shared);
        assert.ok(
            cpu.every((h) => h.saturated),
            JSON.stringify(cpu),
        );
        assert.equal(cpu[0].busyCores, 1.92);
        assert.match(cpu[0].why!, /^CPUs 0-1 busy 1\.92 of 2 \(shared with 3 other hosts; its own processes 0\.60\)$/);
    });

    test("busy by someone else still counts: the machine's other users take what the lab's hosts would need", () => {
        const samples: CpuSample[] = shared.map((a) => ({ host: a.host, labCores: 0.1, idleByCpu: idle([0, 1], 0.05) }));
        assert.ok(judgeCpu(samples, shared).every((h) => h.saturated));
    });

    test("idle enough: nobody is saturated", () => {
        const samples: CpuSample[] = shared.map((a) => ({ host: a.host, labCores: 0.2, idleByCpu: idle([0, 1], 0.5) }));
        assert.ok(judgeCpu(samples, shared).every((h) => !h.saturated && h.why === undefined));
    });

    test("pinned hosts: only the host whose own CPUs are busy; a quota saturates on the host's own use", () => {
        const samples: CpuSample[] = [
            { host: "client-0", labCores: 0.5, idleByCpu: { ...idle([0, 1], 0.7), ...idle([2], 0.02), ...idle([3], 0.8) } },
            { host: "haproxy-0", labCores: 0.97, idleByCpu: { ...idle([0, 1], 0.7), ...idle([2], 0.02), ...idle([3], 0.8) } },
            { host: "backend-0", labCores: 0.47, idleByCpu: { ...idle([0, 1], 0.7), ...idle([2], 0.02), ...idle([3], 0.8) } },
        ];
        const cpu = judgeCpu(samples, pinned);
        assert.deepEqual(
            cpu.map((h) => [h.host, h.saturated]),
            [
                ["client-0", false],
                ["haproxy-0", true],
                ["backend-0", true],
            ],
        );
        assert.match(cpu[1].why!, /^CPUs 2 busy 0\.98 of 1 \(its own processes 0\.97\)$/);
        assert.match(cpu[2].why!, /quota/);
        assert.equal(cpu[2].allowedCores, 0.5);
    });

    test("a host without a sample or an allowance is left out, not guessed", () => {
        assert.deepEqual(judgeCpu([], pinned), []);
        assert.deepEqual(judgeCpu([{ host: "stranger", labCores: 1, idleByCpu: {} }], pinned), []);
    });
});

describe("a host's own CPU: known, or unknown, never 0 by default", () => {
    test("cgroup readings: the first and last inside the step's window; fewer than 2 inside is unknown", () => {
        const readings = [0, 1000, 2000, 3000, 4000].map((t, i) => ({ t, cpuNs: i * 0.25e9 }));
        assert.equal(cgroupCores(readings, 1000, 3000), 0.25);
        assert.equal(cgroupCores(readings, 500, 4500), 0.25);
        assert.equal(cgroupCores(readings, 1500, 2500), undefined);
        assert.equal(cgroupCores([], 0, 4000), undefined);
    });

    test("the CPU window is when the load ran (first to last request, 1 s of start-up left out), not the run's start", () => {
        assert.deepEqual(
            loadWindow([
                [5000, 5500, 9000],
                [5200, 8900],
            ]),
            { fromMs: 6000, toMs: 9000 },
        );
        assert.deepEqual(loadWindow([[5000, 6500], []]), { fromMs: 5000, toMs: 6500 }, "too short to leave a second out");
        assert.equal(loadWindow([[], []]), undefined);
    });

    test("/proc/stat: each CPU's idle + iowait; its idle share over a window from the first and last reading inside it", () => {
        const stat = (i0: number, i1: number) => `cpu  1 2 3 ${i0 + i1} 0 0 0 0 0 0\ncpu0 10 0 5 ${i0} 1 0 0 0 0 0\ncpu1 10 0 5 ${i1} 0 0 0 0 0 0\nintr 1\n`;
        assert.deepEqual(parseCpuIdle(stat(100, 200)), { 0: 1.01, 1: 2 });
        const readings = [
            { t: 0, idle: parseCpuIdle(stat(0, 0)) },
            { t: 1000, idle: parseCpuIdle(stat(10, 90)) },
            { t: 3000, idle: parseCpuIdle(stat(30, 290)) },
        ];
        const shares = idleShares(readings, 500, 3000);
        assert.ok(Math.abs(shares["0"] - 0.1) < 1e-9 && Math.abs(shares["1"] - 1) < 1e-9, JSON.stringify(shares));
        assert.deepEqual(idleShares(readings, 1500, 2500), {});
    });

    test("process counters: a host with no series, or one seen fewer than 2 times in the window, is unknown", () => {
        const cores = processCores(
            new Map([
                ["client-0", 0.8],
                ["haproxy-0", 0.4],
                ["backend-0", 0.2],
            ]),
            new Map([
                ["client-0", 1],
                ["haproxy-0", 2],
                ["metrics-0", 3],
            ]),
            2,
        );
        assert.deepEqual([...cores].sort(), [
            ["backend-0", undefined],
            ["client-0", undefined],
            ["haproxy-0", 0.2],
            ["metrics-0", undefined],
        ]);
    });

    test("judged: a quota is judged on the cgroup's figure; unknown cores stay null, are shown as unknown, and can still be saturated by a busy CPU set", () => {
        const lb: CpuAllowance[] = [
            { host: "haproxy-0", role: "haproxy", cpus: [0], quotaCores: 0.1, boot: "m" },
            { host: "client-0", role: "client", cpus: [1], boot: "m" },
        ];
        const cpu = judgeCpu(
            [
                { host: "haproxy-0", cgroupCores: 0.095, labCores: 0.06, idleByCpu: { 0: 0.9 } },
                { host: "client-0", idleByCpu: { 1: 0.02 } },
            ],
            lb,
        );
        assert.deepEqual(cpu[0], {
            host: "haproxy-0",
            role: "haproxy",
            cores: 0.1,
            coresFrom: "cgroup",
            allowedCores: 0.1,
            quotaCores: 0.1,
            busyCores: 0.1,
            saturated: true,
            why: "its cgroup used 0.10 of its 0.10-core quota",
        });
        assert.equal(cpu[1].cores, null);
        assert.equal(cpu[1].coresFrom, undefined);
        assert.equal(cpu[1].saturated, true);
        assert.match(cpu[1].why!, /^CPUs 1 busy 0\.98 of 1 \(its own processes unknown\)$/);
        assert.equal(judgeCpu([{ host: "haproxy-0", idleByCpu: { 0: 0.5 } }], lb)[0].saturated, false, "an unknown figure never trips a quota");
        assert.deepEqual(TippingRecordSchema.shape.steps.element.shape.cpu.parse(cpu), cpu);
        const table = formatTippingTable({
            converged: false,
            stopReason: "x",
            steps: [{ step: 1, phase: "baseline", rate: 10, good: true, reason: "", p50Ms: 1, p99Ms: 2, errorRatio: 0, requests: 10, cpu }],
        });
        assert.match(table, /haproxy-0 0\.10\* client-0 unknown\*/);
        assert.equal(formatCores(null), "unknown");
        assert.deepEqual(
            limitedHosts({ cpu }).map((h) => [h.host, h.weight]),
            [
                ["haproxy-0", 1],
                ["client-0", 0.98],
            ],
        );
    });
});

/** Steps from a queue of capacity C whose CPU figures come from `cpuAt(rate)`. */
async function search(capacity: number, cpuAt: (rate: number) => HostCpu[]): Promise<TippingResult> {
    const r = await searchTippingPoint(
        async (rate): Promise<StepMeasure> => {
            const rho = rate / capacity;
            const p99Ms = 200 * (1 + 0.3 * Math.min(rho, 1) ** 8) + (rho > 1 ? 0.99 * (rho - 1) * 10_000 : 0);
            return { rate, p50Ms: 200, p99Ms, errorRatio: 0, requests: Math.round(rate * 10), cpu: cpuAt(rate) };
        },
        { ...DEFAULT_TIPPING, startRate: capacity / 10, quantum: 2 },
    );
    return { ...r, attribution: attribute(r) };
}

const host = (name: string, role: string, cores: number, saturated: boolean): HostCpu => ({
    host: name,
    role,
    cores,
    allowedCores: 1,
    saturated,
    ...(saturated ? { why: "CPUs 0 busy 0.95 of 1" } : {}),
});

describe("attribute", () => {
    test("a client saturated around the knee: client-bound, never the LB's, even when the LB is saturated too", async () => {
        const r = await search(400, (rate) => [
            host("client-0", "client", rate / 420, rate >= 300),
            host("haproxy-0", "haproxy", rate / 400, rate >= 380),
            host("backend-0", "backend", 0.1, false),
        ]);
        assert.equal(r.attribution!.bound, "client");
        assert.match(r.attribution!.note, /^client-bound, not the LB's knee: client-0 \(/);
        assert.equal(r.attribution!.saturatedFirst?.host, "client-0");
        assert.deepEqual(TippingRecordSchema.shape.attribution.parse(r.attribution), r.attribution);
        const table = formatTippingTable(r);
        assert.match(table, /^limited by: client — client-bound, not the LB's knee/m);
        assert.match(table, /client-0 \d\.\d\d\*/);
    });

    test("only the LB saturated: haproxy-bound, and the LB is the host saturated first", async () => {
        const r = await search(400, (rate) => [host("client-0", "client", 0.3, false), host("haproxy-0", "haproxy", rate / 400, rate >= 390)]);
        assert.equal(r.attribution!.bound, "haproxy");
        assert.equal(r.attribution!.saturatedFirst?.role, "haproxy");
    });

    test("no host saturated: the knee is not a CPU limit (the synthetic backend's queue)", async () => {
        const r = await search(120, () => [host("client-0", "client", 0.1, false), host("haproxy-0", "haproxy", 0.05, false)]);
        assert.equal(r.attribution!.bound, "none");
        assert.match(r.attribution!.note, /not a CPU limit/);
        assert.equal(r.attribution!.saturatedFirst, undefined);
    });

    test("a saturation far below the knee is named first, but does not bind the knee", async () => {
        // The backend saturates on one low step only (a blip), nothing around the knee.
        const r = await search(400, (rate) => [host("backend-0", "backend", 0.9, rate === 40)]);
        assert.equal(r.attribution!.bound, "none");
        assert.deepEqual(r.attribution!.saturatedFirst, { host: "backend-0", role: "backend", step: 1, rate: 40, why: "CPUs 0 busy 0.95 of 1" });
    });

    test("each saturated host is named once, with why it was saturated at the first bad step", () => {
        const h = (name: string, why: string): HostCpu => ({ host: name, role: "client", cores: 0.1, allowedCores: 2, saturated: true, why });
        const step = (n: number, rate: number, good: boolean, cpu: HostCpu[]) => ({
            step: n,
            phase: "ramp" as const,
            rate,
            good,
            reason: "",
            p50Ms: 1,
            p99Ms: 1,
            errorRatio: 0,
            requests: 1,
            cpu,
        });
        const a = attribute({
            knee: 10,
            lastGood: 8,
            firstBad: 12,
            converged: true,
            stopReason: "",
            steps: [step(1, 8, true, [h("c0", "at the good step"), h("c1", "at the good step")]), step(2, 12, false, [h("c0", "at the bad step")])],
        });
        assert.equal(a.note, "client-bound, not the LB's knee: c0 (at the bad step); c1 (at the good step)");
    });

    test("no CPU measured: unknown (no metrics host), and the table has no CPU column", async () => {
        const r = await searchTippingPoint(async (rate) => ({ rate, p50Ms: 1, p99Ms: rate > 100 ? 50 : 1, errorRatio: 0, requests: 10 }), {
            ...DEFAULT_TIPPING,
            startRate: 10,
        });
        const a = attribute(r);
        assert.equal(a.bound, "unknown");
        assert.match(a.note, /metrics host/);
        assert.doesNotMatch(formatTippingTable(r), /cpu/);
        assert.doesNotMatch(formatTippingTable(r), /send lag/);
    });
});

/** A client's sending at one step: behind its plan or not. */
const send = (hostName: string, behind: boolean, lagP99Ms = behind ? 80 : 2): ClientSend => ({
    host: hostName,
    planned: 1000,
    sent: behind ? 900 : 1000,
    lagP50Ms: 1,
    lagP99Ms,
    lagMaxMs: lagP99Ms * 2,
    startLagMs: 0,
    behind,
    ...(behind ? { why: "sent 90.0 % of its 1000 planned requests" } : {}),
});

describe("attribute with the clients' own sending", () => {
    /** Steps from a queue of capacity C with CPU figures and each client's sending from `at(rate)`. */
    async function searchWith(capacity: number, at: (rate: number) => Pick<StepMeasure, "cpu" | "send">): Promise<TippingResult> {
        const r = await searchTippingPoint(
            async (rate): Promise<StepMeasure> => {
                const rho = rate / capacity;
                const p99Ms = 200 * (1 + 0.3 * Math.min(rho, 1) ** 8) + (rho > 1 ? 0.99 * (rho - 1) * 10_000 : 0);
                return { rate, p50Ms: 200, p99Ms, errorRatio: 0, requests: Math.round(rate * 10), ...at(rate) };
            },
            { ...DEFAULT_TIPPING, startRate: capacity / 10, quantum: 2 },
        );
        return { ...r, attribution: attribute(r) };
    }

    test("a client behind its plan around the knee makes it client-bound even when only the LB's CPU is saturated", async () => {
        const r = await searchWith(400, (rate) => ({
            cpu: [host("client-0", "client", 0.4, false), host("haproxy-0", "haproxy", rate / 400, rate >= 380)],
            send: [send("client-0", rate >= 350)],
        }));
        assert.equal(r.attribution!.bound, "client");
        assert.match(r.attribution!.note, /^client-bound, not the LB's knee: client-0 \(behind its plan: sent 90\.0 %/);
        assert.equal(r.attribution!.saturatedFirst?.host, "client-0");
        assert.match(r.attribution!.saturatedFirst?.why ?? "", /behind its plan/);
        const table = formatTippingTable(r);
        assert.match(table, /send lag p99 ms/);
        assert.match(table, /client-0 80\.0\/90%!/);
        assert.match(table, /first saturated: client-0 at \d+\/s \(step \d: behind its plan/);
        assert.ok(
            TippingRecordSchema.safeParse({
                id: "t",
                stack: "s",
                args: { ...DEFAULT_TIPPING, startRate: 40, stack: "s", durationS: 1, frontend: "plain", sleepMs: 0, times: 0, timeoutS: 1 },
                elapsedS: 1,
                ...r,
            }).success,
        );
    });

    test("clients that kept their plan leave the knee to the saturated LB", async () => {
        const r = await searchWith(400, (rate) => ({
            cpu: [host("client-0", "client", 0.3, false), host("haproxy-0", "haproxy", rate / 400, rate >= 390)],
            send: [send("client-0", false), send("client-1", false)],
        }));
        assert.equal(r.attribution!.bound, "haproxy");
        assert.match(formatTippingTable(r), /client-0 2\.0 client-1 2\.0/);
    });

    test("no metrics host: a client behind still makes the knee client-bound; clients on plan leave it unknown", async () => {
        const behind = await searchWith(400, (rate) => ({ send: [send("client-0", rate >= 300)] }));
        assert.equal(behind.attribution!.bound, "client");
        const onPlan = await searchWith(400, () => ({ send: [send("client-0", false)] }));
        assert.equal(onPlan.attribution!.bound, "unknown");
        assert.match(onPlan.attribution!.note, /kept its plan.*metrics host/);
    });

    test("a client both CPU-saturated and behind is named first over a host that is only CPU-saturated", () => {
        const step = { step: 1, phase: "baseline" as const, rate: 40, good: true, reason: "", p50Ms: 1, p99Ms: 1, errorRatio: 0, requests: 1 };
        const hosts = limitedHosts({ cpu: [host("haproxy-0", "haproxy", 1, true), host("client-0", "client", 0.5, true)], send: [send("client-0", true)] });
        assert.deepEqual(hosts.map((h) => h.host).sort(), ["client-0", "haproxy-0"]);
        const a = attribute({
            knee: 50,
            lastGood: 40,
            firstBad: 60,
            converged: true,
            stopReason: "",
            steps: [
                { ...step, cpu: [host("haproxy-0", "haproxy", 1, true), host("client-0", "client", 0.5, true)], send: [send("client-0", true)] },
                { ...step, step: 2, rate: 60, good: false },
            ],
        });
        assert.equal(a.saturatedFirst?.host, "client-0");
        assert.match(a.saturatedFirst?.why ?? "", /busy.*; behind its plan/);
        assert.equal(a.bound, "client");
    });
});
