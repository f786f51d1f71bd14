// `lab tipping`: the automatic tipping-point search on a running lab. Each step is a normal
// `lab attack` (runs/<id>/, ledger row) at one total rate; the pure search
// (scripts/analysis/tippingSearch.ts) picks the next rate and judges each step. A step is tried more
// than once: a bad try is re-run at the same rate before it is believed, and a try the machine
// stalled (the LB below its CPU quota, no other host saturated) is retried; tipping.json keeps every try.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeRecord } from "../../components/records/io.ts";
import { stepLoadOf, TippingRecordSchema, type TippingArgs } from "../../components/records/tippingRecord.ts";
import { attack, newRunId } from "./attackRun.ts";
import { attackExit } from "./attackOutcome.ts";
import { outputs } from "./pulumiStack.ts";
import { buildTippingReport } from "./tippingReport.ts";
import { reportName } from "./runReport.ts";
import {
    CPU_ALLOWANCE_SCRIPT,
    attribute,
    cgroupCores,
    cgroupPeakCores,
    cpuListText,
    idleShares,
    loadWindow,
    parseCpuIdle,
    judgeCpu,
    parseCpuAllowance,
    processCores,
    type CpuAllowance,
    type CpuSample,
} from "../analysis/cpuAttribution.ts";
import {
    TIPPING_DEFAULTS,
    searchTippingPoint,
    summarise,
    validateTippingOptions,
    type HostCpu,
    type StepMeasure,
    type StepVerdict,
    type TippingResult,
} from "../analysis/tippingSearch.ts";
import { describeFirst, fmtRate, formatCores, formatSend, formatTippingTable } from "../analysis/tippingTable.ts";
import { describeP99Rule, triesOf } from "../analysis/tippingJudge.ts";
import { clientSends, readSendTimes, type ClientSend } from "../analysis/sendLag.ts";
import { Remote } from "./remote.ts";
import { operatorPlatformFor } from "../../components/platform/registry.ts";
import { labEnv, runsRoot } from "../toolchain/toolchain.ts";
import type { StackOutputs } from "./pulumiStack.ts";
import type { MetricsEndpoint } from "../../components/records/stackOutputs.ts";
import type { RunRecord } from "../../components/records/runRecord.ts";

export type { TippingArgs };

export { TIPPING_DEFAULTS };

export interface TippingRun {
    id: string;
    dir: string;
    args: TippingArgs;
    result: TippingResult;
    elapsedS: number;
}

/** Rough wall time of one try: the load, the drain of an overloaded step, setup and collection. */
function stepBudgetS(a: TippingArgs): number {
    return a.durationS * 1.5 + 8;
}

export async function tipping(
    given: TippingArgs,
    runsDir = runsRoot(),
    log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<TippingRun> {
    // A caller that does not say how many tries a step gets (lab tipping's flags) gets the defaults: a bad step confirmed, stalls retried.
    const args: TippingArgs = {
        ...given,
        confirmTries: given.confirmTries ?? TIPPING_DEFAULTS.confirmTries,
        maxTries: given.maxTries ?? TIPPING_DEFAULTS.maxTries,
    };
    const problems = validateTippingOptions(args);
    if (problems.length) throw new Error(`lab tipping: ${problems.join("; ")}`);
    const out = await outputs(args.stack);
    const clients = out.inventory.filter((h) => h.role === "client").length;
    if (clients === 0) throw new Error(`stack ${args.stack} has no client hosts`);
    const id = `tipping-${newRunId(args.stack)}`;
    const dir = join(runsDir, id);
    mkdirSync(dir, { recursive: true });
    const t0 = Date.now();
    log(
        `tipping ${id}: start ${fmtRate(args.startRate)} ×${args.factor}, ≤ ${args.maxSteps} steps of ${args.durationS} s, ` +
            `bad when ${describeP99Rule(args)} or errors > ${(args.maxErrorRatio * 100).toFixed(2)} %, ` +
            `stop within ±${(args.tolerance * 100).toFixed(0)} %; a bad step believed after ${triesOf(args).confirm} bad tries (machine stalls retried, ≤ ${triesOf(args).max} tries a step); ` +
            `${clients} clients, frontend ${args.frontend}`,
    );

    const measure = async (rate: number, step: { index: number; phase: string; try: number }): Promise<StepMeasure> => {
        const elapsed = (Date.now() - t0) / 1000;
        const left = args.maxSteps - step.index + 1;
        log(
            `tipping step ${step.index}/≤${args.maxSteps}${step.try > 1 ? ` try ${step.try}/≤${triesOf(args).max}` : ""} (${step.phase}): ${fmtRate(rate)} total (${fmtRate(rate / clients)} per client) ` +
                `for ${args.durationS} s — ${elapsed.toFixed(0)} s elapsed, ETA ≤ ${(left * stepBudgetS(args)).toFixed(0)} s (+ tries)`,
        );
        // Hosts on this machine's kernel (local): each CPU's idle share from /proc/stat through the step.
        const machine = sharesThisMachine ? sampleMachineIdle() : undefined;
        const r = await attack(
            args.stack,
            {
                ...stepLoadOf(args),
                rate: Math.round(rate / clients),
                frontends: [args.frontend],
            },
            runsDir,
            { outputs: out },
        ).finally(() => machine?.stop());
        if (r.interrupted) throw new Error(`interrupted during step ${step.index} (run ${r.runId})`);
        // A step some clients did not (fully) send measured less load than it names: no knee from it.
        const exit = attackExit(r);
        if (exit.code !== 0) throw new Error(`step ${step.index} try ${step.try} (run ${r.runId}): ${exit.message}`);
        const offered = r.processes.reduce((sum, p) => sum + p.ratePerSecond, 0);
        const s = r.summary;
        const m: StepMeasure = s
            ? {
                  rate: offered,
                  p50Ms: s.latencies["50th"] / 1e6,
                  p99Ms: s.latencies["99th"] / 1e6,
                  errorRatio: 1 - s.success,
                  requests: s.requests,
                  throughput: s.throughput,
                  runId: r.runId,
              }
            : { rate: offered, p50Ms: 0, p99Ms: 0, errorRatio: 1, requests: 0, runId: r.runId };
        // Each client's own lag to send, from its result files: a client behind its plan did not offer the step's load.
        const sends = await stepSendTimes(r).catch((err: Error) => {
            log(`  step ${step.index} try ${step.try}: clients' sending not measured (${err.message})`);
            return undefined;
        });
        const send = sends ? clientSends(sends, m.p99Ms) : undefined;
        // Each host's CPU over the window the load really ran (from the send times; the run's nominal one without them).
        const window = (sends && loadWindow(sends.map((p) => p.sendMs))) ?? nominalWindow(r);
        // The LB's peak takes the whole load, its start-up included (a TLS step's handshakes come first).
        const whole =
            (sends &&
                loadWindow(
                    sends.map((p) => p.sendMs),
                    0,
                )) ??
            window;
        const cpu = cpuSource
            ? await stepCpu(out, cpuSource, r, window, machine?.readings ?? [], whole).catch((err: Error) => {
                  log(`  step ${step.index} try ${step.try}: no CPU figures (${err.message})`);
                  return undefined;
              })
            : undefined;
        return { ...m, ...(cpu ? { cpu } : {}), ...(send ? { send } : {}) };
    };

    // Attribution: what each host may use, read once; each step's CPU then comes from the hosts'
    // cgroup readings (local), the metrics host's counters and node_exporters, or this machine's /proc/stat.
    const cpuSource = await readAllowances(out).catch((err: Error) => {
        log(`tipping: host CPU allowances unreadable (${err.message}); steps are not attributed`);
        return undefined;
    });
    const sharesThisMachine = cpuSource?.some((a) => a.boot === thisBootId()) ?? false;
    if (cpuSource)
        log(
            `tipping: hosts' CPUs: ${cpuSource.map((a) => `${a.host} CPU ${cpuListText(a.cpus)}${a.quotaCores ? ` (quota ${a.quotaCores} CPU)` : ""}`).join(", ")}` +
                `${out.metricsEndpoint ? "" : "; no metrics host: CPU from the hosts' cgroups" + (sharesThisMachine ? " and this machine's /proc/stat" : "")}`,
        );

    let result: TippingResult;
    const measured: StepVerdict[] = [];
    try {
        // vegeta's -rate is a whole number per client host: rates move in steps of one per client.
        result = await searchTippingPoint(
            measure,
            { ...args, quantum: args.quantum ?? clients },
            (s) => {
                measured.push(s);
                // A step of several tries: its verdict after them (each try was logged as it came).
                if ((s.tries?.length ?? 1) > 1)
                    log(`  ⇒ step ${s.step} ${s.good ? "good" : s.unconfirmed ? "BAD (unconfirmed)" : "BAD"} after ${s.tries!.length} tries: ${s.reason}`);
            },
            (t, step) => {
                const saturated = (t.cpu ?? []).filter((h) => h.saturated).map((h) => h.host);
                const behind = (t.send ?? []).filter((c) => c.behind).map((c) => `${c.host} (${c.why})`);
                log(
                    `  → ${t.good ? "good" : t.stall ? "STALL" : "BAD"}${t.try > 1 ? ` (try ${t.try})` : ""}: ${fmtRate(t.rate)} p50 ${t.p50Ms.toFixed(1)} ms p99 ${t.p99Ms.toFixed(1)} ms ` +
                        `errors ${(t.errorRatio * 100).toFixed(2)} % (${t.reason}) [run ${t.runId}]` +
                        (t.cpu
                            ? `; cpu ${t.cpu.map((h) => `${h.host} ${formatCores(h.cores)}`).join(" ")}${saturated.length ? `; SATURATED: ${saturated.join(", ")}` : ""}`
                            : "") +
                        (t.send ? `; send lag p99 ${formatSend(t.send)}${behind.length ? `; BEHIND PLAN: ${behind.join(", ")}` : ""}` : "") +
                        ` [step ${step.index}]`,
                );
            },
        );
    } catch (err) {
        // Interrupted (or failed) mid-search: the steps measured so far stay with the search.
        const summary = summarise(measured, args);
        const partial = { ...summary, attribution: attribute(summary), converged: false, stopReason: (err as Error).message };
        writeRecord(join(dir, "tipping.json"), TippingRecordSchema, {
            id,
            stack: args.stack,
            args,
            elapsedS: (Date.now() - t0) / 1000,
            interrupted: true,
            ...partial,
        });
        writeFileSync(join(dir, "tipping.txt"), `${formatTippingTable(partial)}\n`);
        throw new Error(`${(err as Error).message}; ${measured.length} steps measured so far: ${join(dir, "tipping.txt")}`);
    } finally {
        writeFileSync(join(dir, "args.json"), JSON.stringify(args, null, 2));
    }
    result = { ...result, attribution: attribute(result) };
    log(
        `tipping: limited by ${result.attribution!.bound}: ${result.attribution!.note}` +
            (result.attribution!.saturatedFirst ? `; ${describeFirst(result.attribution!.saturatedFirst)}` : ""),
    );
    const elapsedS = (Date.now() - t0) / 1000;
    writeRecord(join(dir, "tipping.json"), TippingRecordSchema, { id, stack: args.stack, args, elapsedS, ...result });
    writeFileSync(join(dir, "tipping.txt"), `${formatTippingTable(result)}\n`);
    const page = await buildTippingReport(dir).catch((err: Error) => {
        log(`tipping: no plot (${err.message})`);
        return undefined;
    });
    if (page) log(`tipping: ${reportName(page)}`);
    return { id, dir, args, result, elapsedS };
}

/**
 * Each vegeta process's send times during a step, from the step's result files (one per vegeta
 * process: results/<client>-<frontend>-<laddr>.bin, as `lab attack` collects them).
 */
export async function stepSendTimes(run: Pick<RunRecord, "processes" | "settings"> & { dir: string }) {
    const env = labEnv();
    return Promise.all(
        run.processes.map(async (p) => {
            const file = join(run.dir, "results", `${p.client}-${p.frontend}-${p.laddr}.bin`);
            if (!existsSync(file)) throw new Error(`no result file ${file}`);
            return { client: p.client, ratePerSecond: p.ratePerSecond, durationS: run.settings.durationS, sendMs: await readSendTimes(file, env) };
        }),
    );
}

/** Each client's own lag to send during a step. */
export async function stepSends(run: Pick<RunRecord, "processes" | "settings"> & { dir: string }, stepP99Ms: number): Promise<ClientSend[]> {
    return clientSends(await stepSendTimes(run), stepP99Ms);
}

/** Without send times: the run's nominal load, from its start (2 s of start-up left out). */
function nominalWindow(run: Pick<RunRecord, "startedAt" | "settings">): { fromMs: number; toMs: number } {
    const start = Date.parse(run.startedAt);
    const skip = run.settings.durationS >= 4 ? 2000 : 0;
    return { fromMs: start + skip, toMs: start + run.settings.durationS * 1000 };
}

function thisBootId(): string {
    try {
        return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
        return "";
    }
}

/** This machine's /proc/stat idle times every 500 ms until stopped. */
function sampleMachineIdle(): { readings: { t: number; idle: Record<string, number> }[]; stop: () => void } {
    const readings: { t: number; idle: Record<string, number> }[] = [];
    const read = () => {
        readings.push({ t: Date.now(), idle: parseCpuIdle(readFileSync("/proc/stat", "utf8")) });
    };
    read();
    const timer = setInterval(read, 500);
    return {
        readings,
        stop: () => {
            clearInterval(timer);
            read();
        },
    };
}

/**
 * What each host may use (CPU set, quota, machine), read on the host over SSH; a quota the host
 * cannot see from inside (a local namespace's cgroup) comes from its platform.
 */
export async function readAllowances(out: StackOutputs): Promise<CpuAllowance[]> {
    const remote = Remote.forLab(out, { env: labEnv() });
    const platform = operatorPlatformFor(out.labConfig);
    try {
        return await Promise.all(
            out.inventory.map(async (h) => {
                const a = parseCpuAllowance(h.name, h.role, await remote.check(h.name, CPU_ALLOWANCE_SCRIPT, { timeoutMs: 30_000, idempotent: true }));
                const quota = platform.hostCpuQuota(out.labConfig, h.role);
                return a.quotaCores === undefined && quota !== undefined ? { ...a, quotaCores: quota } : a;
            }),
        );
    } finally {
        await remote.close();
    }
}

/** One Prometheus instant query, asked on the metrics host over SSH. */
async function promQuery(
    remote: Remote,
    endpoint: MetricsEndpoint,
    expr: string,
    atS: number,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const url = new URL("/api/v1/query", endpoint.prometheus);
    url.search = new URLSearchParams({ query: expr, time: String(atS) }).toString();
    const body = JSON.parse(await remote.get(url.toString(), { timeoutMs: 20_000 })) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== "success") throw new Error(`prometheus: ${body.error ?? body.status} for ${expr}`);
    return body.data?.result ?? [];
}

/**
 * Each host's CPU over the window its step's load ran: its own cores (its cgroup's readings in
 * run.json where the platform takes them, else the metrics host's process counters, the metrics
 * role's own left out; unknown when too few readings) and each of its CPUs' idle share (this
 * machine's /proc/stat for hosts on it, or node_exporter), judged against the host's allowance.
 */
export async function stepCpu(
    lab: StackOutputs,
    allowances: CpuAllowance[],
    run: Pick<RunRecord, "hostSamples">,
    window: { fromMs: number; toMs: number },
    machineIdle: { t: number; idle: Record<string, number> }[],
    whole: { fromMs: number; toMs: number } = window,
): Promise<HostCpu[]> {
    const samples = new Map<string, CpuSample>();
    const sample = (host: string) => samples.get(host) ?? samples.set(host, { host, idleByCpu: {} }).get(host)!;
    for (const a of allowances) sample(a.host);
    for (const [host, h] of Object.entries(run.hostSamples?.hosts ?? {})) {
        const cores = cgroupCores(h.samples, window.fromMs, window.toMs);
        if (cores !== undefined) sample(host).cgroupCores = cores;
        const peak = cgroupPeakCores(h.samples, whole.fromMs, whole.toMs);
        if (peak !== undefined) sample(host).cgroupPeakCores = peak;
    }
    // Hosts on this machine: its CPUs' idle shares (the metrics host's node_exporters, when there is one, say the same).
    const machine = idleShares(machineIdle, window.fromMs, window.toMs);
    const boot = thisBootId();
    for (const a of allowances) if (a.boot === boot) sample(a.host).idleByCpu = { ...machine };
    if (lab.metricsEndpoint) {
        const windowS = Math.max(1, Math.floor((window.toMs - window.fromMs) / 1000));
        const at = window.toMs / 1000;
        const remote = Remote.forLab(lab, { env: labEnv() });
        try {
            const own = `c2m_process_cpu_seconds_total{comm!~"prometheus.*"}`;
            const [increase, readings, idle] = await Promise.all([
                promQuery(remote, lab.metricsEndpoint, `sum by (host) (increase(${own}[${windowS}s]))`, at),
                promQuery(remote, lab.metricsEndpoint, `min by (host) (count_over_time(${own}[${windowS}s]))`, at),
                promQuery(remote, lab.metricsEndpoint, `sum by (host, cpu) (increase(node_cpu_seconds_total{mode=~"idle|iowait"}[${windowS}s]))`, at),
            ]);
            const byHost = (rows: typeof increase) => new Map(rows.map((r) => [r.metric.host, Number(r.value[1])]));
            for (const [host, cores] of processCores(byHost(increase), byHost(readings), windowS)) if (cores !== undefined) sample(host).labCores = cores;
            for (const r of idle) sample(r.metric.host).idleByCpu[r.metric.cpu] = Number(r.value[1]) / windowS;
        } finally {
            await remote.close();
        }
    }
    return judgeCpu([...samples.values()], allowances);
}
