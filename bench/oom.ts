// bench:oom: running out of memory as an outcome. Builds a local lab whose LB host's cgroup is
// limited to M MiB (c2m:local.hostLimits.haproxy.memoryMiB), ramps end-to-end connections (each
// held open by pong) through the plain or TLS frontend until the kernel OOM-kills HAProxy or
// connections stop growing, detects the kill (the cgroup's oom_kill count and failcnt, a HAProxy
// process gone, the kernel log), records it in run.json (`oom`), the ledger and the report, and
// tears the lab down, on Ctrl-C too. The planner's prediction for that memory is held against it.
//   npm run bench:oom -- --mode tls|plain --memory-mib M [--rate R] [--stack S] [--subnet 198.18.84.0/24]
// The last line is one JSON object: mode, memory_mib, predicted, held_at_oom, error_pct, oom_killed, by, …
import { Command, Option } from "commander";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { loadavg } from "node:os";
import { labEnv, runsRoot } from "../scripts/toolchain/toolchain.ts";
import { loadStackConfig, stackConfigFile } from "../scripts/lib/stackSettings.ts";
import { outputs, teardownStack, up, type StackOutputs } from "../scripts/lib/pulumiStack.ts";
import { residueCount } from "../components/platform/platform.ts";
import { reapLocal } from "../components/platform/local/residue.ts";
import { attack } from "../scripts/lib/attackRun.ts";
import type { AttackResult } from "../scripts/lib/attackOutcome.ts";
import { localNames } from "../components/platform/local/scripts.ts";
import { cgroupRel, readHostCgroup, readStackCgroups, type CgroupReading } from "../components/platform/local/cgroups.ts";
import { FITTED_ON, lbConnectionsInMemory, PER_CONNECTION_COSTS, roleKBPerConnection } from "../components/plan/costs.ts";
import { readRecord, writeRecord } from "../components/records/io.ts";
import { RunRecordSchema, type RunRecord } from "../components/records/runRecord.ts";
import { recordRunDir } from "../scripts/lib/ledgerFile.ts";
import { buildRunReport } from "../scripts/lib/runReport.ts";
import {
    errorsBeforeStop,
    heldAtOom,
    killedState,
    parseOomKills,
    perConnection,
    rampEnding,
    type HostReadings,
    type RampEnding,
    type RampSample,
} from "./figures.ts";
import { Remote } from "../scripts/lib/remote.ts";
import { haproxyHeldReader, haproxyPids, meminfoBytes, sh, slopePerConnection, sockets, vegetaResults, type MemoryPoint } from "./oomReadings.ts";
import { writeStackConfig, type OomOptions } from "./oomStack.ts";

export type { OomOptions };

export interface OomResult {
    /**
     * held_at_oom: HAProxy's count (its statistics) at its last reading before the kill, null when
     * none was read; held_peak: the most it counted at any reading; oom_killed "unknown" when no kill
     * was counted or logged and the host's processes could not be listed.
     */
    mode: "plain" | "tls";
    memory_mib: number;
    predicted: number;
    held_at_oom: number | null;
    held_peak: number | null;
    error_pct: number;
    oom_killed: boolean | "unknown";
    by: RampEnding | "interrupted";
    [k: string]: unknown;
}

const r1 = (n: number) => Math.round(n * 10) / 10;
const kb = (bytes: number | null) => (bytes === null ? null : r1(bytes / 1024));

/** Whether the costs were fitted on runs of this mode and size (so a run of it is no validation). */
export function isFittedSize(mode: "plain" | "tls", memoryMib: number): boolean {
    return (FITTED_ON.benchOomMemoryMiB[mode] as readonly number[]).includes(memoryMib);
}

export async function benchOom(o: OomOptions): Promise<OomResult> {
    const stack = o.stack ?? `oom-${o.mode}-${o.memoryMib}`;
    const stackFile = stackConfigFile(stack); // generated: in the cache, never the checkout
    const tlsShare = o.mode === "tls" ? 1 : 0;
    // The ramp's ceiling from the connection cost alone; the prediction also counts the HAProxy
    // processes' own memory once the plan (processes under this machine's fd ceiling) is known.
    // A memory cgroup's limit counts what it is charged: the kernel's charged share per socket.
    const cgroup = { scope: "cgroup" } as const;
    const perConnOnly = lbConnectionsInMemory(o.memoryMib * 1024 * 1024, tlsShare, 0, PER_CONNECTION_COSTS, cgroup);
    let predicted = perConnOnly;
    // Slow enough that few connections wait in flight on a loaded 2-core machine (each holds a socket,
    // and a TLS handshake ~34 KB more): at 1500/s plain, 12k were in flight at load 20; at 400/s TLS, 651.
    const rate = o.rate ?? (o.mode === "tls" ? 150 : 1000);
    const ratePerClient = Math.ceil(rate / o.clients);
    const rampS = Math.ceil(Math.max(2000, perConnOnly * o.ceiling) / (ratePerClient * o.clients));
    // Exactly what vegeta sends (rate × duration on every client): the ramp's ceiling.
    const maxConns = ratePerClient * o.clients * rampS;
    const names = localNames(stack);
    const lbHost = "haproxy-0";
    const rel = cgroupRel(stack, lbHost);

    let interrupted = false;
    let stoppingAttack = false;
    const onSignal = () => {
        if (stoppingAttack) return; // our own stop of the attack (below), not the operator
        interrupted = true;
        process.stderr.write("\ninterrupted: stopping the attack and tearing down\n");
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const staging = join(runsRoot(), `.oom-staging-${stack}`);
    const log = (l: string) => process.stderr.write(`oom: ${l}\n`);
    let remote: Remote | undefined;
    try {
        await reapLocal(stack);
        writeStackConfig(stack, o, maxConns, ratePerClient, rampS);
        const processes = loadStackConfig(stack).capacity.haproxy.processes;
        predicted = lbConnectionsInMemory(o.memoryMib * 1024 * 1024, tlsShare, processes, PER_CONNECTION_COSTS, cgroup);
        if (isFittedSize(o.mode, o.memoryMib))
            log(
                `${o.mode} at ${o.memoryMib} MiB is a size the memory costs were fitted on (components/plan/costs.ts): this run checks nothing; score the model at other sizes`,
            );
        log(
            `${o.mode}, LB limited to ${o.memoryMib} MiB; planner: ${predicted} connections ` +
                `(${roleKBPerConnection("haproxy", tlsShare, PER_CONNECTION_COSTS, "cgroup").toFixed(1)} KB each, ${processes} processes); ramp to at most ${maxConns} at ${ratePerClient * o.clients}/s`,
        );
        await up(stack);
        if (interrupted) throw new Error("interrupted");
        const out: StackOutputs = await outputs(stack);
        remote = Remote.forLab(out, { env: labEnv() });
        const ns = (role: string) => out.inventory.filter((h) => h.role === role).map((h) => names.namespace(h.name));
        const listeners = out.capacityPlan.backend.servers;
        // End-to-end connections held, and those the LB accepted that are not yet end to end (TLS
        // handshakes and requests on their way to pong).
        const counts = () => {
            const lb = Math.floor(ns("haproxy").reduce((a, n) => a + sockets(n), 0) / 2);
            const held = Math.min(
                ns("client").reduce((a, n) => a + sockets(n), 0),
                lb,
                Math.max(0, ns("backend").reduce((a, n) => a + sockets(n), 0) - listeners),
            );
            return { held, pending: Math.max(0, lb - held) };
        };
        const hosts = out.inventory.map((h) => ({ name: h.name, role: h.role }));
        const idleAll: HostReadings = readStackCgroups(stack, hosts);
        const idleSlab = meminfoBytes("Slab");
        const idle = readHostCgroup(stack, lbHost);
        const t0 = Date.now();
        const basePids = haproxyPids(stack, lbHost);
        if (!basePids?.length)
            throw new Error(`${basePids ? "no HAProxy process in" : "cannot read cgroup.procs of"} ${rel}: the LB's cgroup does not hold its processes`);
        const baseline: RampSample = { t: 0, held: 0, oomKills: idle.oomKills, haproxyPids: basePids };
        // HAProxy's own count of what it holds (every process's statistics page, read through the LB's SSH connection).
        const readHaproxyHeld = haproxyHeldReader(remote, out, o.mode);
        const idleHeld = await readHaproxyHeld();
        if (idleHeld instanceof Error) throw new Error(`HAProxy statistics unreadable before the ramp: ${idleHeld.message}`);
        log(`idle LB host: ${(idle.memoryBytes / 2 ** 20).toFixed(1)} MiB in its cgroup, ${basePids.length} HAProxy process(es)`);

        mkdirSync(staging, { recursive: true });
        let result: AttackResult | undefined;
        let attackError: Error | undefined;
        const attackDone = attack(stack, {}, staging).then(
            (r) => {
                result = r;
            },
            (err: Error) => {
                attackError = err;
            },
        );
        const samples: RampSample[] = [];
        let peak: CgroupReading = idle;
        const points: MemoryPoint[] = [];
        let pendingPeak = 0;
        // Every host's cgroup and the machine's slab when the most connections were held.
        let atMost: { held: number; pending: number; all: HostReadings; slab: number } = { held: 0, pending: 0, all: idleAll, slab: idleSlab };
        let by: RampEnding | "interrupted" | undefined;
        while (!by) {
            // Every 250 ms: held_at_oom is the last sample before the kill, so the step bounds its error.
            await new Promise((r) => setTimeout(r, 250));
            if (interrupted) {
                by = "interrupted";
                break;
            }
            const all = readStackCgroups(stack, hosts);
            const r = all[lbHost].reading;
            if (r.memoryBytes > peak.memoryBytes) peak = r;
            const c = counts();
            const pids = haproxyPids(stack, lbHost);
            const counted = await readHaproxyHeld();
            const s: RampSample = {
                t: (Date.now() - t0) / 1000,
                held: c.held,
                oomKills: r.oomKills,
                haproxyPids: pids,
                ...(counted instanceof Error ? {} : { haproxyHeld: counted }),
            };
            points.push({
                held: c.held,
                anon: r.anonBytes - idle.anonBytes,
                kernel: r.kernelBytes - idle.kernelBytes,
                socket: r.socketBytes - idle.socketBytes,
            });
            pendingPeak = Math.max(pendingPeak, c.pending);
            if (c.held > atMost.held) atMost = { held: c.held, pending: c.pending, all, slab: meminfoBytes("Slab") };
            samples.push(s);
            if (samples.length % 4 === 0 || r.oomKills > idle.oomKills)
                log(
                    `t=${s.t.toFixed(1)}s held ${s.held} (sockets), ` +
                        `${counted instanceof Error ? `HAProxy unread (${counted.message.slice(0, 80)})` : `${counted} (HAProxy)`}, LB ${(r.memoryBytes / 2 ** 20).toFixed(1)} of ${o.memoryMib} MiB ` +
                        `(kernel ${(r.kernelBytes / 2 ** 20).toFixed(1)}, sockets ${(r.socketBytes / 2 ** 20).toFixed(1)}), failcnt ${r.limitHits}, oom_kill ${r.oomKills}, haproxy ${pids?.length ?? "unknown"}`,
                );
            by = rampEnding(samples, baseline, { plateauS: o.plateauS, rampS });
        }
        const stopMs = Date.now();
        const last = readHostCgroup(stack, lbHost);
        const lastPids = haproxyPids(stack, lbHost);
        // A sample reads the cgroup before HAProxy's processes: a kill between the two shows a
        // process gone while the cgroup's count had not yet risen; the count read now says why.
        if (by === "process_gone" && last.oomKills > baseline.oomKills) by = "oom_kill";
        // Stop the attack the way Ctrl-C does (vegeta stopped on every client, results kept).
        stoppingAttack = true;
        if (by !== "interrupted") process.emit("SIGINT");
        // vegeta, once stopped, still waits for its in-flight requests, which pong holds for the
        // whole hold: end them by killing the LB's HAProxy processes (the measurement is over;
        // requests ending after the stop count as held, not failed).
        await new Promise((r) => setTimeout(r, 2000));
        for (const pid of haproxyPids(stack, lbHost) ?? []) spawnSync("kill", ["-KILL", String(pid)]);
        await attackDone;
        stoppingAttack = false;
        const kernel = parseOomKills(sh("dmesg", []), rel, basePids.concat(...samples.map((s) => s.haproxyPids ?? [])));
        const { killed, gone } = killedState({ oomKillsRose: last.oomKills > idle.oomKills, kernelKills: kernel.length, baselinePids: basePids, lastPids });
        // HAProxy's count at its last reading before the kill; the peak apart (the sockets' count decides the ramp only).
        const atOom = heldAtOom(samples, by);
        // The per-connection figures divide the LB's peak memory by the most held by the sockets' count, as before.
        const heldPeakSockets = samples.length ? Math.max(...samples.map((s) => s.held)) : 0;
        if (lastPids === undefined)
            log(
                `cgroup.procs of ${rel} unreadable at the end: whether HAProxy was killed is ${killed === true ? "known from the kill count or the kernel log" : "unknown"}`,
            );

        let errorPct = 100;
        let runDir: string | undefined;
        if (result) {
            runDir = join(runsRoot(), result.runId);
            renameSync(result.dir, runDir);
            const { started, failed } = errorsBeforeStop(await vegetaResults(runDir), stopMs);
            errorPct = started > 0 ? Math.round((failed / started) * 1e4) / 100 : 100;
            const run: RunRecord = readRecord(join(runDir, "run.json"), RunRecordSchema);
            run.oom = {
                host: lbHost,
                memoryMiB: o.memoryMib,
                killed,
                by,
                heldAtOom: atOom.held,
                ...(atOom.ageS !== null ? { heldAtOomAgeS: atOom.ageS } : {}),
                heldPeak: atOom.peak,
                predicted,
                oomKills: last.oomKills - idle.oomKills,
                limitHits: last.limitHits,
                peakMemoryBytes: peak.memoryBytes,
                killedProcesses: kernel.map(({ pid, task }) => ({ pid, task })),
                goneProcesses: gone,
                kernelLog: kernel.map((k) => k.line),
            };
            writeRecord(join(runDir, "run.json"), RunRecordSchema, run);
            await recordRunDir(runDir, log);
            if (o.report) await buildRunReport(runDir).catch((err: Error) => log(`report not built: ${err.message}`));
            writeFileSync(join(runDir, "oom-samples.json"), JSON.stringify(samples, null, 1));
        } else {
            log(`attack returned no run: ${attackError?.message ?? "unknown"}`);
        }
        const [load1, load5] = loadavg();
        return {
            mode: o.mode,
            memory_mib: o.memoryMib,
            predicted,
            held_at_oom: atOom.held,
            held_peak: atOom.peak,
            error_pct: errorPct,
            oom_killed: killed,
            by,
            // A size the costs were fitted on (components/plan/costs.ts FITTED_ON) checks nothing: only other sizes score the model.
            fitted_size: isFittedSize(o.mode, o.memoryMib),
            // How long before the sample that saw the kill HAProxy's last count was read, s; and the sockets' estimate at its most (the earlier held_at_oom).
            held_at_oom_age_s: atOom.ageS,
            held_source: "haproxy",
            held_peak_sockets: samples.length ? Math.max(...samples.map((s) => s.held)) : 0,
            predicted_without_process_base: perConnOnly,
            // The same model told how many connections were in flight when the most were held (known only after the run).
            lb_in_flight_at_most_held: atMost.pending,
            predicted_with_in_flight: lbConnectionsInMemory(o.memoryMib * 1024 * 1024, tlsShare, basePids.length, PER_CONNECTION_COSTS, {
                ...cgroup,
                inFlight: atMost.pending,
            }),
            // HAProxy's memory per in-flight connection that makes the steady costs add up at the most held.
            lb_in_flight_kb_measured:
                atMost.pending > 0
                    ? r1(
                          ((atMost.all[lbHost].reading.anonBytes - idle.anonBytes) / 1024 -
                              atMost.held * (roleKBPerConnection("haproxy", tlsShare) - 2 * PER_CONNECTION_COSTS.kernelPerSocketKB)) /
                              atMost.pending,
                      )
                    : null,
            off_pct: predicted > 0 && atOom.held !== null ? Math.round(((atOom.held - predicted) / predicted) * 1000) / 10 : null,
            lb_idle_mib: Math.round((idle.memoryBytes / 2 ** 20) * 10) / 10,
            lb_peak_mib: Math.round((peak.memoryBytes / 2 ** 20) * 10) / 10,
            // What the LB host's cgroup measured per held connection at its peak (idle subtracted).
            lb_kb_per_conn_measured: heldPeakSockets > 0 ? Math.round(((peak.memoryBytes - idle.memoryBytes) / 1024 / heldPeakSockets) * 10) / 10 : null,
            lb_anon_kb_per_conn: heldPeakSockets > 0 ? Math.round(((peak.anonBytes - idle.anonBytes) / 1024 / heldPeakSockets) * 10) / 10 : null,
            lb_kernel_kb_per_socket:
                heldPeakSockets > 0
                    ? Math.round(((peak.kernelBytes + peak.socketBytes - idle.kernelBytes - idle.socketBytes) / 1024 / heldPeakSockets / 2) * 10) / 10
                    : null,
            // The same over the ramp's middle (slopes), and every host's parts at the most held (figures.ts).
            lb_kb_per_conn_slope: kb(slopePerConnection(points, (p) => p.anon + p.kernel + p.socket)),
            lb_anon_kb_per_conn_slope: kb(slopePerConnection(points, (p) => p.anon)),
            lb_kernel_kb_per_socket_slope: kb(slopePerConnection(points, (p) => (p.kernel + p.socket) / 2)),
            parts_at_most_held: atMost.held > 0 ? perConnection(idleAll, atMost.all, atMost.held) : null,
            // The machine's slab (every host's sockets, 4 per connection: client, LB × 2, backend; and
            // whatever else the machine did meanwhile) against what the hosts' cgroups were charged for kernel memory.
            machine_slab_kb_per_socket: atMost.held > 0 ? r1((atMost.slab - idleSlab) / 1024 / (4 * atMost.held)) : null,
            charged_kernel_kb_per_socket:
                atMost.held > 0
                    ? r1(
                          Object.keys(idleAll).reduce(
                              (a, h) =>
                                  a +
                                  atMost.all[h].reading.kernelBytes +
                                  atMost.all[h].reading.socketBytes -
                                  idleAll[h].reading.kernelBytes -
                                  idleAll[h].reading.socketBytes,
                              0,
                          ) /
                              1024 /
                              (4 * atMost.held),
                      )
                    : null,
            lb_pending_peak: pendingPeak,
            oom_kills: last.oomKills - idle.oomKills,
            failcnt: last.limitHits,
            killed_processes: kernel.map((k) => `${k.task}:${k.pid}`),
            haproxy_processes: basePids.length,
            rate: ratePerClient * o.clients,
            ramp_s: Math.round((stopMs - t0) / 1000),
            run: result?.runId ?? null,
            stack,
            load_avg: [load1, load5].map((x) => Math.round(x * 100) / 100),
        };
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        rmSync(staging, { recursive: true, force: true });
        await remote?.close();
        const left = await teardownStack(stack, stackFile);
        if (residueCount(left) > 0) {
            process.exitCode = 1;
            log(`teardown left residue on stack ${stack}`);
        }
    }
}

if (import.meta.main) {
    new Command("bench:oom")
        .addOption(new Option("--mode <mode>", "frontend").choices(["plain", "tls"]).default("tls"))
        .requiredOption("--memory-mib <M>", "memory of the LB host (its cgroup's limit), MiB", (v) => Number(v))
        .option("--rate <r>", "new connections per second (all clients)", (v) => Number(v))
        .option("--stack <name>", "stack name (default oom-<mode>-<M>)")
        .option("--subnet <cidr>", "the lab's /24 in 198.18.0.0/15", "198.18.84.0/24")
        .option("--plateau-s <s>", "seconds without growth that end the ramp", (v) => Number(v), 20)
        .option("--ceiling <x>", "ramp to at most this multiple of the prediction", (v) => Number(v), 2)
        .option("--clients <n>", "client hosts", (v) => Number(v), 1)
        .option("--no-report", "skip the HTML report")
        .action(async (o: OomOptions) => {
            const r = await benchOom(o);
            const rows = Object.entries(r).map(([k, v]) => `${k.padEnd(24)} ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`);
            console.log(["bench/oom", ...rows].join("\n"));
            console.log(JSON.stringify(r));
            if (r.by === "interrupted") process.exitCode = 130;
        })
        .parseAsync(process.argv)
        .catch((err: Error) => {
            console.error(`bench:oom: ${err.message}`);
            process.exit(1);
        });
}
