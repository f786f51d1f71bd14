import { imageOf } from "../../components/images.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { attackSettings, planVegetaProcesses, vegetaCommandLine, type AttackSettings } from "../../components/render/attack.ts";
import { isLabTarget } from "../../components/platform/addressPlan.ts";
import { labCertificate, type LabConfig } from "../../components/config.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { outputs, type StackOutputs } from "./pulumiStack.ts";
import { quote, Remote } from "./remote.ts";
import { backendCounters, downServers, frontendCounters, type StatsRow } from "../analysis/haproxyStats.ts";
import { BACKEND_NAME, FRONTEND_NAMES } from "../../components/render/haproxyConfig.ts";
import { labEnv, runsRoot } from "../toolchain/toolchain.ts";
import { recordRun } from "./ledgerFile.ts";
import { writeRecord } from "../../components/records/io.ts";
import { RunRecordSchema, type RunRecord } from "../../components/records/runRecord.ts";
import { operatorPlatformFor } from "../../components/platform/registry.ts";
import { describeAllowances, diffAllowances } from "../../components/platform/allowances.ts";
import { type AttackResult } from "./attackOutcome.ts";
import { collectResults, fetchStats, hostVersions, readAllowances, readKernelOomCount, serversDownAfter, vegetaReport, versions } from "./runReadings.ts";
import { startHostSampling, type HostSampling } from "./hostSampling.ts";
import { repeatWithoutOverlap, type Repeating } from "./repeat.ts";
import { attackPhase, formatProgress, liveCounts } from "../analysis/attackProgress.ts";
import { memoryVerdict } from "../analysis/memoryVerdict.ts";
import { PER_CONNECTION_COSTS, roleKBPerConnection } from "../../components/plan/costs.ts";
import { describeSettings, flagOf } from "./settingFlags.ts";

export type AttackOverrides = Partial<Omit<LabConfig["attack"], "preset">> & { preset?: LabConfig["attack"]["preset"] };

/** Share of an attack's connections through TLS: its frontends, loaded alike. */
export function attackTlsShare(frontends: readonly string[]): number {
    return frontends.filter((f) => f === "tls").length / frontends.length;
}

/** The lab's config with the attack overrides goes through the same checks as a stack file (timeouts, planned connections…). */
export function checkAttackOverrides(labConfig: LabConfig, overrides: AttackOverrides): void {
    const given = stripUndefined(overrides);
    if (Object.keys(given).length === 0) return;
    try {
        parseLabConfig({ ...labConfig, attack: { ...labConfig.attack, ...given } });
    } catch (err) {
        const flags = Object.entries(given)
            .map(([k, v]) => `${flagOf(k)} ${Array.isArray(v) ? v.join(",") : v}`)
            .join(" ");
        throw new Error(`attack options ${flags} do not fit this lab: ${(err as Error).message}`);
    }
}

export function newRunId(stack: string, now = new Date()): string {
    return `${now.toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-")}-${stack}`;
}

function checkTargets(out: StackOutputs): void {
    for (const url of [out.vips.plain, out.vips.tls, ...out.vips.stats].filter(Boolean) as string[]) {
        const host = new URL(url).hostname;
        if (!isLabTarget(host)) throw new Error(`refusing to attack ${url}: ${host} is outside the lab range 198.18.0.0/15`);
    }
}

export interface AttackControl {
    /** Print a progress line every 5 s (HAProxy's statistics read over SSH). Default true. */
    progress?: boolean;
    /**
     * Called once before vegeta starts, with a function that signals every vegeta process of this
     * attack: STOP pauses it (it sends nothing more and its open connections stay open), CONT
     * resumes it (past its duration it sends nothing more and collects its answers; before, it
     * catches up on what it did not send), INT ends it as Ctrl-C does (its open requests are
     * cancelled and count as failed).
     */
    onVegeta?: (signal: (name: VegetaSignal) => Promise<void>) => void;
    /** The stack's outputs, when the caller read them already and the stack has not changed since (a knee search's steps): ~0.6 CPU-s of Pulumi CLI each. */
    outputs?: StackOutputs;
}

export type VegetaSignal = "STOP" | "CONT" | "INT";

export async function attack(stack: string, overrides: AttackOverrides = {}, runsDir = runsRoot(), o: AttackControl = {}): Promise<AttackResult> {
    const out = o.outputs ?? (await outputs(stack));
    checkTargets(out);
    checkAttackOverrides(out.labConfig, overrides);
    const settings: AttackSettings = attackSettings({ ...out.labConfig.attack, ...stripUndefined(overrides) });
    const runId = newRunId(stack);
    const dir = join(runsDir, runId);
    const clients = out.inventory.filter((h) => h.role === "client");
    const lb = out.inventory.find((h) => h.role === "haproxy");
    const plan = planVegetaProcesses(settings, clients, { plain: out.vips.plain, tls: out.vips.tls }, runId);
    mkdirSync(join(dir, "results"), { recursive: true });
    // One session for the run: one SSH connection per host carries its commands and its HTTP.
    const remote = Remote.forLab(out, { env: labEnv() });
    const startedAt = new Date();
    let interrupted = false;
    let sampling: HostSampling | undefined;
    // Only vegeta itself: local hosts share one PID namespace, and a wider pattern also hits the ssh
    // sessions that run vegeta or collect its results (they carry the run id too).
    const signalVegeta = async (name: VegetaSignal) => {
        await Promise.all(
            clients.map((c) => remote.run(c.name, `pkill -${name} -f ${quote(`^vegeta attack .*${runId}`)} || true`, { timeoutMs: 30_000, idempotent: true })),
        );
    };
    const stopRemote = () => signalVegeta("INT");
    let ticker: Repeating | undefined;
    const onSigint = () => {
        if (interrupted) return;
        interrupted = true;
        process.stderr.write("\ninterrupted: stopping vegeta on every client and keeping the results gathered so far\n");
        void stopRemote();
    };
    process.on("SIGINT", onSigint);
    process.on("SIGTERM", onSigint);
    process.on("SIGHUP", onSigint); // a closed terminal: same clean stop, and the key's temp file goes too
    try {
        writeFileSync(join(dir, "config.yaml"), YAML.stringify({ stack, settings, labConfig: out.labConfig }));
        writeFileSync(join(dir, "haproxy.cfg"), out.haproxyConfig);
        const statsBefore = await fetchStats(remote, out.vips.stats);
        // What the machine under each host drops (EC2 allowances, conntrack): a rise during the run invalidates it.
        const allowanceScript = operatorPlatformFor(out.labConfig).allowanceCountersScript;
        const allowanceHosts = out.inventory.filter((h) => h.role !== "metrics").map((h) => h.name);
        const allowancesBefore = await readAllowances(remote, allowanceHosts, allowanceScript);
        process.stderr.write(`attack ${runId}: ${plan.length} vegeta processes on ${clients.length} clients, ${describeSettings(settings)}\n`);
        const limitMs = (settings.durationS + settings.timeoutS + 60) * 1000;
        // Each host's own memory and CPU through the run, where the platform has such figures (local cgroups; not on AWS).
        const sampler = operatorPlatformFor(out.labConfig).hostSampler;
        sampling =
            sampler && startHostSampling(sampler, { stack, hosts: out.inventory.map((h) => ({ name: h.name, role: h.role })), durationS: settings.durationS });
        const t0 = Date.now();
        // Where the LB has a kernel of its own (no host sampler), OOM kills are read from its kernel log, before and after.
        const kernelLogBefore = !sampler && lb ? await readKernelOomCount(remote, lb.name) : undefined;
        const frontendNames = Object.values(FRONTEND_NAMES);
        const live = {
            heldPeak: 0,
            acceptedPeak: 0,
            down: [] as string[],
            dead: undefined as string | undefined,
            vegetaDone: false,
            rampEnd: undefined as RunRecord["rampEnd"],
        };
        const lbEvents: NonNullable<RunRecord["lbEvents"]> = [];
        const event = (what: string) => {
            const tS = Math.round((Date.now() - t0) / 100) / 10;
            lbEvents.push({ tS, event: what });
            process.stderr.write(`attack: at ${tS}s ${what}\n`);
        };
        const lbOomKills = (): number | undefined => {
            if (!sampler || !lb) return undefined;
            try {
                return sampler.read(stack, lb.name).sample.oomKills;
            } catch {
                return undefined;
            }
        };
        const oomBase = lbOomKills();
        const tick = async () => {
            // Not retried: a dead LB is said at this tick, not after three attempts.
            const stats = await fetchStats(remote, out.vips.stats, { idempotent: false }).catch((err: Error) => err);
            const elapsedS = (Date.now() - t0) / 1000;
            const { phase, leftS } = attackPhase(elapsedS, {
                durationS: settings.durationS,
                holdS: settings.holdMs / 1000,
                timeoutS: settings.timeoutS,
                vegetaDone: live.vegetaDone,
            });
            if (stats instanceof Error) {
                // A dead LB is said at once: an OOM kill counted in its cgroup, or in its kernel log.
                if (!live.dead) {
                    const kills = lbOomKills();
                    const logKills = kernelLogBefore !== undefined ? await readKernelOomCount(remote, lb!.name) : undefined;
                    if (kills !== undefined && oomBase !== undefined && kills > oomBase)
                        live.dead = `HAProxy OOM-killed (${kills - oomBase} kill(s) in its cgroup)`;
                    else if (typeof logKills === "number" && typeof kernelLogBefore === "number" && logKills > kernelLogBefore)
                        live.dead = `HAProxy OOM-killed (${logKills - kernelLogBefore} in the LB's kernel log)`;
                    if (live.dead) event(`LB DEAD: ${live.dead}`);
                }
                if (o.progress !== false) process.stderr.write(`${formatProgress({ phase, leftS, elapsedS, unread: stats.message, dead: live.dead })}\n`);
                return;
            }
            const counts = liveCounts(stats, frontendNames, BACKEND_NAME);
            if (phase !== "ramp" && !live.rampEnd)
                live.rampEnd = { tS: Math.round(elapsedS * 10) / 10, held: counts.held, accepted: counts.accepted, sessions: counts.sessions };
            if (counts.held > live.heldPeak) live.heldPeak = counts.held;
            if (counts.accepted > live.acceptedPeak) live.acceptedPeak = counts.accepted;
            const down = downServers(stats, BACKEND_NAME);
            if (down.join(",") !== live.down.join(",")) {
                const back = live.down.filter((d) => !down.includes(d));
                // Each server's last check as HAProxy's processes saw it (L7TOUT: no answer within inter; L4CON: refused; …): why it went down.
                const why = (name: string) =>
                    [
                        ...new Set(
                            stats
                                .filter((r) => r.pxname === BACKEND_NAME && r.svname === name && !String(r.status).startsWith("UP"))
                                .map((r) => `${r.check_status || "?"}${r.check_duration ? ` ${r.check_duration}ms` : ""}`),
                        ),
                    ].join("/");
                event(
                    `${down.length ? `servers DOWN in HAProxy: ${down.map((d) => `${d} (${why(d)})`).join(", ")}` : "every server UP again"}${back.length && down.length ? ` (back UP: ${back.join(", ")})` : ""}`,
                );
                live.down = down;
            }
            if (o.progress !== false) process.stderr.write(`${formatProgress({ phase, leftS, elapsedS, counts, dead: live.dead })}\n`);
        };
        ticker = repeatWithoutOverlap(5000, tick);
        o.onVegeta?.(signalVegeta);
        // Every vegeta process at once, each a session on its client's one connection (never retried: it is the load).
        const vegetas = plan.map((p) => remote.stream(p.client, vegetaCommandLine(settings, p), { timeoutMs: limitMs }));
        const runs = await Promise.all(vegetas.map((v) => v.done));
        live.vegetaDone = true;
        if (o.progress !== false) process.stderr.write(`attack collect: vegeta ended after ${((Date.now() - t0) / 1000).toFixed(0)}s; pulling results back\n`);
        // Not awaited: a read under way ends on its own, and no new one queues ahead of the final reads.
        void ticker?.stop();
        ticker = undefined;
        const hostSamples = sampling?.stop();
        sampling = undefined;
        for (const u of hostSamples?.unreadable ?? []) process.stderr.write(`no samples of host ${u.host}: ${u.error}\n`);
        const failedProcesses: AttackResult["failedProcesses"] = runs.flatMap((r, i) =>
            r.code === 0 || (interrupted && r.code === 130)
                ? []
                : [
                      {
                          client: plan[i].client,
                          frontend: plan[i].frontend,
                          laddr: plan[i].laddr,
                          code: r.code,
                          stderr: r.stderr.trim().slice(-500),
                      },
                  ],
        );
        const { files, missing } = await collectResults(remote, plan, dir);
        // A lost client's processes are attributed once, whether their run or their collection failed.
        const same = (a: { client: string; frontend: string; laddr: string }, b: typeof a) =>
            a.client === b.client && a.frontend === b.frontend && a.laddr === b.laddr;
        failedProcesses.push(...missing.filter((m) => !failedProcesses.some((f) => same(f, m))));
        const statsRead = await fetchStats(remote, out.vips.stats).catch((err: Error) => {
            process.stderr.write(`HAProxy statistics after the run unavailable: ${err.message}\n`);
            return err;
        });
        const statsAfter = statsRead instanceof Error ? [] : statsRead;
        const allowances = diffAllowances(allowancesBefore, await readAllowances(remote, allowanceHosts, allowanceScript), allowanceHosts);
        for (const line of describeAllowances(allowances)) process.stderr.write(`${line}\n`);
        const serversDown = serversDownAfter(statsRead);
        const perFrontend: AttackResult["perFrontend"] = {};
        const haproxy: AttackResult["haproxy"] = {};
        for (const frontend of settings.frontends) {
            perFrontend[frontend] = await vegetaReport(
                files.filter((f) => f.frontend === frontend).map((f) => f.path),
                join(dir, `report-${frontend}`),
            );
            const before = frontendCounters(statsBefore, FRONTEND_NAMES[frontend]);
            const after = frontendCounters(statsAfter, FRONTEND_NAMES[frontend]);
            haproxy[frontend] =
                before && after
                    ? {
                          sessions: after.sessionsTotal - before.sessionsTotal,
                          requests: after.requestsTotal - before.requestsTotal,
                      }
                    : undefined;
        }
        const summary = await vegetaReport(
            files.map((f) => f.path),
            join(dir, "report"),
        );
        writeFileSync(join(dir, "haproxy-stats-before.csv"), toCsv(statsBefore));
        writeFileSync(join(dir, "haproxy-stats-after.csv"), toCsv(statsAfter));
        const kernelLogAfter = kernelLogBefore !== undefined ? await readKernelOomCount(remote, lb!.name) : undefined;
        const memory = lb
            ? memoryVerdict({
                  host: lb.name,
                  hostSamples,
                  kernelLogKills:
                      typeof kernelLogBefore === "number" && typeof kernelLogAfter === "number"
                          ? kernelLogAfter - kernelLogBefore
                          : kernelLogBefore !== undefined
                            ? "unknown"
                            : undefined,
                  heldPeak: live.heldPeak,
                  acceptedPeak: live.acceptedPeak,
                  kbPerConnPredicted: roleKBPerConnection("haproxy", attackTlsShare(settings.frontends), PER_CONNECTION_COSTS, sampler ? "cgroup" : "machine"),
              })
            : undefined;
        const run: RunRecord = {
            runId,
            stack,
            startedAt: startedAt.toISOString(),
            finishedAt: new Date().toISOString(),
            interrupted,
            settings,
            processes: plan.map(({ client, frontend, laddr, ratePerSecond, connections }) => ({ client, frontend, laddr, ratePerSecond, connections })),
            versions: {
                ...(await versions(remote, clients[0].name, lb?.name)),
                hosts: await hostVersions(
                    remote,
                    out.inventory.map((h) => h.name),
                ),
            },
            images: Object.fromEntries(out.inventory.map((h) => [h.name, imageOf(out.labConfig.image, h.role)])),
            summary,
            perFrontend,
            haproxy,
            backend: backendCounters(statsAfter, BACKEND_NAME),
            serversDown,
            failedProcesses,
            ...(settings.frontends.includes("tls") ? { certificate: labCertificate(out.labConfig.haproxy.tls) } : {}),
            allowances,
            ...(hostSamples ? { hostSamples } : {}),
            ...(memory ? { memory } : {}),
            lbEvents,
            ...(live.rampEnd ? { rampEnd: live.rampEnd } : {}),
        };
        writeRecord(join(dir, "run.json"), RunRecordSchema, run);
        const row = await recordRun(dir, run, out); // timeline.json, server metrics, and the run's row in runs/ledger.jsonl
        return { ...run, dir, ...(row ? { row } : {}) };
    } finally {
        process.off("SIGINT", onSigint);
        process.off("SIGTERM", onSigint);
        process.off("SIGHUP", onSigint);
        void ticker?.stop(); // an attack that failed part-way leaves no timer behind
        if (interrupted) await stopRemote().catch(() => undefined);
        sampling?.stop(); // an attack that failed part-way leaves no timer behind
        await remote.close();
    }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function toCsv(rows: StatsRow[]): string {
    if (rows.length === 0) return "";
    const header = Object.keys(rows[0]);
    return [`# ${header.join(",")}`, ...rows.map((r) => header.map((h) => r[h]).join(","))].join("\n") + "\n";
}
