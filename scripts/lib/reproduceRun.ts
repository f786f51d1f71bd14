// `lab reproduce`: the seed's experiment as the rig's main job. For each tier (default the three
// local ones at 1/16), brings a stack of that tier up, runs the seed's goal on it (1.05M end-to-end
// TLS connections / N, ramped at the seed's 8k/s / N, held open), tears it down, and sets what was
// measured beside the seed's figure and the planner's prediction. One comparison page
// (runs/reproduce-<id>/reproduce.html), and one JSON object as the last line of output.
// A local tier runs as a generated stack (repro-<tier>, settings in the cache; the committed
// Pulumi.local-*.yaml is read, never written). aws-* tiers (full scale on EC2) are refused for now.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative } from "node:path";
import YAML from "yaml";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { HAPROXY_PROCESS_BASE_MIB } from "../../components/plan/costs.ts";
import {
    DEFAULT_HOLD_S,
    parseScale,
    type ScaledTier,
    SEED_TIERS,
    type SeedTier,
    scaleTier,
    seedClaimVerdict,
    tierOfStack,
} from "../../components/plan/seedTiers.ts";
import { residueCount } from "../../components/platform/platform.ts";
import { renderReportHtml } from "../analysis/reportPage.ts";
import { type AttackResult, attackExit } from "./attackOutcome.ts";
import { attack, newRunId } from "./attackRun.ts";
import { planLocalStack } from "./tierPlan.ts";
import { buildRunReport } from "./runReport.ts";
import { loadStackConfig, stackConfigFile, writeGeneratedStack } from "./stackSettings.ts";
import { teardownStack, up } from "./pulumiStack.ts";
import { runsRoot } from "../toolchain/toolchain.ts";

export const DEFAULT_TIERS = ["local-4c30g", "local-16c30g", "local-16c64g"] as const;

/** First of the /24s the generated tier stacks take (apart from the committed tiers' 81–83 and bench:oom's 84). */
export const REPRODUCE_SUBNET_BASE = 101;

/**
 * The /24 of a tier's generated stack: one per tier, whatever else a run names, so two runs of
 * different tiers at once never share addresses (the same tier twice shares its stack, which
 * Pulumi's lock refuses). By position in the run it was, and a one-tier run beside another's first
 * tier brought up a second lab on the same addresses.
 */
export function reproduceSubnet(tier: SeedTier): string {
    return `198.18.${REPRODUCE_SUBNET_BASE + Object.keys(SEED_TIERS).indexOf(tier)}.0/24`;
}

export interface ReproduceOptions {
    tiers: string[];
    /** 1/N; local tiers only (an aws tier runs at full scale). */
    scale: number;
    /** Seconds every request is held open by pong. */
    holdS: number;
    /** Seconds of ramp instead of the seed's rate (the same connections sooner or later): CI's short runs. */
    rampS?: number;
}

export interface TierResult {
    stack: string;
    tier: SeedTier;
    scale: number;
    target: number;
    held: number;
    oom_killed: boolean | "unknown";
    lb_peak_mib: number | null;
    lb_limit_mib: number | null;
    kb_per_conn_predicted: number;
    kb_per_conn_measured: number | null;
    errors: number;
    error_pct: number;
    verdict: string;
    /** The planner's word before the run, the seed's, handshakes/s measured over the ramp, latency, what went down, the run. */
    predicted: string;
    predicted_held_at_ramp_end: number;
    seed: string;
    ramp_per_s: number;
    handshakes_per_s: number | null;
    p50_ms: number | null;
    p99_ms: number | null;
    servers_down: string[] | "unknown";
    lb_events: string[];
    run: string | null;
    report: string | null;
    /** The run's own ledger verdict; "not run" when the tier failed before its attack (why in `error`). */
    run_verdict: string;
    error?: string;
}

/** Checks every tier and the scale before anything is created; throws one line naming what breaks. */
export function checkTiers(o: ReproduceOptions): void {
    if (o.tiers.length === 0) throw new Error("--tiers: give at least one tier stack (local-4c30g, local-16c30g, local-16c64g, aws-…)");
    for (const stack of o.tiers) {
        const tier = tierOfStack(stack);
        if (!tier) throw new Error(`--tiers ${stack}: not a seed tier stack (local-4c30g, local-16c30g, local-16c64g, aws-4c30g, aws-16c30g, aws-16c64g)`);
        // The full-scale run on EC2 needs the AWS planner's prediction and an account to test it on: not built yet.
        if (stack.startsWith("aws-"))
            throw new Error(
                `--tiers ${stack}: lab reproduce runs the local tiers only so far (an aws tier at full scale is not built: no account to test it on)`,
            );
    }
    if (!(o.holdS >= 0)) throw new Error(`--hold ${o.holdS}: give seconds ≥ 0`);
    if (o.rampS !== undefined && !(o.rampS > 0)) throw new Error(`--ramp ${o.rampS}: give seconds > 0`);
}

/** The settings of the generated stack for a local tier at 1/N: the committed tier file with memory, CPU, connections and the ramp rescaled. */
export function scaledLocalSettings(committedText: string, tier: SeedTier, s: ScaledTier, o: { subnet: string; holdS: number; machineCpus: number }): string {
    const doc = YAML.parseDocument(committedText);
    const clients = Number(doc.getIn(["config", "c2m:hosts", "clients"]) ?? 1);
    const cpusNow = String(doc.getIn(["config", "c2m:local", "hostLimits", "haproxy", "cpus"]) ?? "0");
    const setSize = cpusNow.split(",").reduce((n, p) => n + (p.includes("-") ? Number(p.split("-")[1]) - Number(p.split("-")[0]) + 1 : 1), 0);
    const cpus = s.cpuQuota <= setSize ? cpusNow : `0-${Math.min(o.machineCpus, Math.ceil(s.cpuQuota)) - 1}`;
    const timeoutS = Math.ceil(s.durationS + o.holdS + 120);
    const set = (path: (string | number)[], v: unknown) => doc.setIn(["config", ...path], v);
    set(["c2m:plan", "connections"], s.connections);
    // maxconn is left to the plan (the connections + MAXCONN_HEADROOM), as in the tier files: pinned
    // to the target, the seed's 2.38M sockets over its 2.1M goal could not appear.
    doc.deleteIn(["config", "c2m:haproxy", "maxconn"]);
    set(["c2m:attack", "rate"], s.ratePerClient);
    set(["c2m:attack", "durationS"], s.durationS);
    set(["c2m:attack", "holdMs"], Math.round(o.holdS * 1000));
    set(["c2m:attack", "timeoutS"], timeoutS);
    set(["c2m:attack", "connections"], s.connections);
    set(["c2m:local", "subnet"], o.subnet);
    set(["c2m:local", "hostLimits", "haproxy"], { cpus, cpuQuota: s.cpuQuota, memoryMiB: s.memoryMiB });
    set(["c2m:ttlHours"], 2);
    if (clients < 1) throw new Error(`tier ${tier}: c2m:hosts.clients ${clients}`);
    return `# written by lab reproduce (${tier} at 1/${s.scale}); removed when it ends\n${doc.toString()}`;
}

const r1 = (n: number) => Math.round(n * 10) / 10;
const mib = (b: number | null | undefined) => (b === null || b === undefined ? null : r1(b / 2 ** 20));

/** A tier's result from its run (pure): held, OOM, memory, the seed's claim judged. */
export function tierResult(
    stack: string,
    tier: SeedTier,
    scale: number,
    target: number,
    plan: { verdict: "holds" | "dies_of_memory" | "dies_during_ramp"; atTheEdge?: boolean; heldAtRampEnd: number; rampPerS: number },
    run: Pick<AttackResult, "memory" | "summary" | "serversDown" | "lbEvents" | "rampEnd" | "settings" | "dir" | "runId" | "row"> | undefined,
    error?: string,
): TierResult {
    const m = run?.memory;
    const requests = run?.summary?.requests ?? 0;
    const errors = run?.summary ? Math.round(requests * (1 - run.summary.success)) : 0;
    const errorPct = requests > 0 ? r1((errors / requests) * 100) : 100;
    const held = m?.heldPeak ?? 0;
    const oom: boolean | "unknown" = !m || m.oomKills === "unknown" ? "unknown" : m.oomKills > 0;
    const verdict = run
        ? seedClaimVerdict(tier, scale, {
              held,
              target,
              oomKilled: oom,
              headroomPct: m?.headroomPct ?? null,
              errorsPct: errorPct,
              predicted: plan.verdict,
              atTheEdge: plan.atTheEdge,
          })
        : `${SEED_TIERS[tier].cores} cores / ${SEED_TIERS[tier].memoryGB} GB: not run (${error})`;
    const ms = (ns: number | undefined) => (ns === undefined ? null : r1(ns / 1e6));
    return {
        stack,
        tier,
        scale,
        target,
        held,
        oom_killed: oom,
        lb_peak_mib: mib(m?.peakBytes),
        lb_limit_mib: mib(m?.limitBytes),
        kb_per_conn_predicted: m?.kbPerConnPredicted ?? 0,
        kb_per_conn_measured: m?.kbPerConnMeasured ?? null,
        errors,
        error_pct: errorPct,
        verdict,
        predicted: plan.atTheEdge ? `${plan.verdict} (at the edge)` : plan.verdict,
        predicted_held_at_ramp_end: plan.heldAtRampEnd,
        seed: SEED_TIERS[tier].seedSaw,
        ramp_per_s: plan.rampPerS,
        handshakes_per_s: run?.rampEnd && run.rampEnd.tS > 0 ? Math.round(run.rampEnd.sessions / run.rampEnd.tS) : null,
        p50_ms: ms(run?.summary?.latencies["50th"]),
        p99_ms: ms(run?.summary?.latencies["99th"]),
        servers_down: run?.serversDown ?? "unknown",
        lb_events: (run?.lbEvents ?? []).map((e) => `${e.tS}s ${e.event}`),
        run: run?.runId ?? null,
        report: run ? join(run.dir, "report.html") : null,
        run_verdict: run?.row?.verdict ?? (run ? "unrecorded" : "not run"),
        ...(error ? { error } : {}),
    };
}

export interface ReproduceRun {
    id: string;
    dir: string;
    tiers: TierResult[];
    page: string;
    interrupted: boolean;
    residue: number;
}

export async function reproduce(
    o: ReproduceOptions,
    runsDir = runsRoot(),
    log: (l: string) => void = (l) => process.stderr.write(`reproduce: ${l}\n`),
): Promise<ReproduceRun> {
    checkTiers(o);
    const machineCpus = availableParallelism();
    // Every tier's settings checked before the first is created.
    const prepared = o.tiers.map((stack) => {
        const tier = tierOfStack(stack);
        if (!tier) throw new Error(`--tiers ${stack}: not a seed tier stack`); // checkTiers refused it already
        const committed = readFileSync(stackConfigFile(`local-${tier}`), "utf8");
        const clients = Number(YAML.parse(committed)?.config?.["c2m:hosts"]?.clients ?? 1);
        const scaled = scaleTier(tier, o.scale, clients, { machineCpus, minMemoryMiB: Math.ceil(HAPROXY_PROCESS_BASE_MIB * 2) });
        if (o.rampS !== undefined) {
            scaled.ratePerClient = Math.max(1, Math.ceil(scaled.connections / (o.rampS * clients)));
            scaled.durationS = Math.max(1, Math.floor(scaled.connections / (scaled.ratePerClient * clients)));
            scaled.rampPerS = scaled.ratePerClient * clients;
        }
        const subnet = reproduceSubnet(tier);
        const settings = scaledLocalSettings(committed, tier, scaled, { subnet, holdS: o.holdS, machineCpus });
        // The same checks as lab up's, before anything is written or created.
        try {
            parseLabConfig(Object.fromEntries(Object.entries(YAML.parse(settings).config).map(([k, v]) => [k.replace(/^c2m:/, ""), v])));
        } catch (err) {
            throw new Error(`${stack} at 1/${o.scale}: ${(err as Error).message.replace(/\s*\n\s*/g, " ")}`);
        }
        return { stack, tier, runStack: `repro-${tier}`, settings, scaled };
    });
    const id = `reproduce-${newRunId(o.tiers.length === 1 ? o.tiers[0] : "tiers")}`;
    const dir = join(runsDir, id);
    mkdirSync(dir, { recursive: true });
    let interrupted = false;
    const onSignal = () => {
        interrupted = true;
        log("interrupted: tearing the current tier down, no further tier");
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const results: TierResult[] = [];
    let residue = 0;
    try {
        for (const p of prepared) {
            if (interrupted) break;
            const generated = writeGeneratedStack(p.runStack, p.settings);
            let plan: ReturnType<typeof planLocalStack>;
            try {
                const loaded = loadStackConfig(p.runStack);
                plan = planLocalStack(p.runStack, loaded.config, loaded.capacity.haproxy.processes);
            } catch (err) {
                rmSync(generated, { force: true }); // nothing was created: the file goes, the error stops the command
                throw err;
            }
            const planWord = { verdict: plan.verdict, atTheEdge: plan.at_the_edge, heldAtRampEnd: plan.ramp.heldAtRampEnd, rampPerS: plan.ramp_per_s };
            log(
                `${p.stack} at 1/${o.scale} as stack ${p.runStack}: LB ${plan.lb_limit_mib} MiB, ${plan.lb_cpus} CPU, target ${plan.target}, ramp ${plan.ramp_per_s}/s, ` +
                    `hold ${o.holdS}s; planner: ${plan.verdict.replace(/_/g, " ")}${plan.at_the_edge ? " AT THE EDGE" : ""} (peak ${mib(plan.ramp.peakBytes)} MiB, ${plan.ramp.waitingAtRampEnd} waiting at the ramp's end; fastest surviving ramp ${plan.fastest_surviving_ramp_per_s ?? "none"}/s)`,
            );
            let run: AttackResult | undefined;
            let error: string | undefined;
            try {
                const t0 = Date.now();
                await up(p.runStack);
                log(`${p.runStack} up in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
                if (!interrupted) {
                    run = await attack(p.runStack, {});
                    await buildRunReport(run.dir).catch((err: Error) => log(`${p.runStack}: no run report (${err.message})`));
                    const exit = attackExit(run);
                    log(
                        `${p.runStack}: run ${run.runId}: ${run.row ? `${run.row.verdict}: ${run.row.why}` : "not recorded in the ledger"}${exit.code === 0 ? "" : ` (lab attack would exit ${exit.code})`}`,
                    );
                    if (run.interrupted) interrupted = true;
                }
            } catch (err) {
                error = (err as Error).message.split("\n")[0];
                log(`${p.runStack}: FAILED: ${error}`);
            } finally {
                const left = await teardownStack(p.runStack, generated);
                residue += residueCount(left);
            }
            const result = tierResult(p.stack, p.tier, o.scale, plan.target, planWord, run, error ?? (interrupted && !run ? "interrupted" : undefined));
            results.push(result);
            log(result.verdict);
            writeFileSync(join(dir, "reproduce.json"), JSON.stringify({ id, options: o, tiers: results }, null, 2));
        }
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
    const page = writeComparisonPage(dir, id, o, results);
    return { id, dir, tiers: results, page, interrupted, residue };
}

/** reproduce.html: every tier's figures beside the seed's and the planner's, one click to each run's own page. */
function writeComparisonPage(dir: string, id: string, o: ReproduceOptions, tiers: TierResult[]): string {
    const v = (x: unknown) => (x === null || x === undefined ? "-" : String(x));
    const html = renderReportHtml({
        title: `Reproduce ${id}`,
        subtitle: `The seed's 2.1M-socket goal on each tier at 1/${o.scale}: the seed's figure, the planner's prediction, what was measured`,
        facts: [
            ["tiers", o.tiers.join(", ")],
            ["scale", `1/${o.scale} (memory, CPU, connections and ramp rate divided together)`],
            ["hold", `${o.holdS} s per request`],
            ...(o.rampS ? [["ramp", `${o.rampS} s (not the seed's rate)`] as [string, string]] : []),
            ...tiers.map((t): [string, string] => [t.stack, t.verdict]),
        ],
        figures: [],
        tables: [
            {
                title: "Tiers",
                header: [
                    "stack",
                    "seed",
                    "planner",
                    "target",
                    "held",
                    "OOM-killed",
                    "LB peak / limit MiB",
                    "KB/conn predicted",
                    "KB/conn measured",
                    "ramp /s",
                    "handshakes/s (ramp)",
                    "errors",
                    "p99 ms",
                    "servers down",
                    "run",
                ],
                rows: tiers.map((t) => [
                    t.stack,
                    t.seed,
                    t.predicted.replace(/_/g, " "),
                    v(t.target),
                    v(t.held),
                    v(t.oom_killed),
                    `${v(t.lb_peak_mib)} / ${v(t.lb_limit_mib)}`,
                    v(t.kb_per_conn_predicted),
                    v(t.kb_per_conn_measured),
                    v(t.ramp_per_s),
                    v(t.handshakes_per_s),
                    `${t.errors} (${t.error_pct} %)`,
                    v(t.p99_ms),
                    Array.isArray(t.servers_down) ? t.servers_down.join(" ") || "none" : t.servers_down,
                    v(t.run),
                ]),
                links: tiers.map((t) => (t.report ? [...Array(14).fill(undefined), relative(dir, t.report)] : [])),
                note: "Held: HAProxy's backend sessions at their most (end to end). KB/conn measured: (LB peak − idle) / held, in its cgroup. Each run id opens its own report.",
            },
        ],
        texts: [{ title: "reproduce.json", text: JSON.stringify({ id, options: o, tiers }, null, 2) }],
        generatedAt: new Date().toISOString(),
    });
    const file = join(dir, "reproduce.html");
    writeFileSync(file, html);
    return file;
}

/** The fields issue 22 promises for every tier of the JSON line (the line carries more). */
export const TIER_JSON_FIELDS = [
    "stack",
    "scale",
    "target",
    "held",
    "oom_killed",
    "lb_peak_mib",
    "lb_limit_mib",
    "kb_per_conn_predicted",
    "kb_per_conn_measured",
    "errors",
    "verdict",
] as const;

/** The JSON line the command ends with: the issue's fields per tier first, then the rest. */
export function reproduceJsonLine(tiers: TierResult[]): string {
    return JSON.stringify({
        tiers: tiers.map((t) => ({
            stack: t.stack,
            scale: `1/${t.scale}`,
            target: t.target,
            held: t.held,
            oom_killed: t.oom_killed,
            lb_peak_mib: t.lb_peak_mib,
            lb_limit_mib: t.lb_limit_mib,
            kb_per_conn_predicted: t.kb_per_conn_predicted,
            kb_per_conn_measured: t.kb_per_conn_measured,
            errors: t.errors,
            verdict: t.verdict,
            error_pct: t.error_pct,
            predicted: t.predicted,
            ramp_per_s: t.ramp_per_s,
            handshakes_per_s: t.handshakes_per_s,
            p99_ms: t.p99_ms,
            servers_down: t.servers_down,
            run: t.run,
            run_verdict: t.run_verdict,
            ...(t.error ? { error: t.error } : {}),
        })),
    });
}

export { DEFAULT_HOLD_S, parseScale };
