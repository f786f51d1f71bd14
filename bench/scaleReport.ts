// bench/scale's result: HAProxy's final error count, the JSON object a run ends with (held, errors,
// verdict, memory per connection by part, each attack) and its table.
import { loadavg } from "node:os";
import { backendCounters, frontendCounters } from "../scripts/analysis/haproxyStats.ts";
import { BACKEND_NAME, FRONTEND_NAMES } from "../components/render/haproxyConfig.ts";
import { countErrors, perConnection, roleSum } from "./figures.ts";
import { heldOverWindow, type RampPlan } from "./ramp.ts";
import { verdict } from "./rampVerdict.ts";
import type { Lab } from "./scaleLab.ts";
import type { Attacks } from "./scaleAttacks.ts";
import type { Collected, RampOutcome } from "./scaleHold.ts";

/** HAProxy's errors from its final statistics (two tries), or undefined when unreadable. */
export async function haproxyErrors(lab: Lab): Promise<number | undefined> {
    let stats = await lab.readStats();
    if (stats instanceof Error) stats = await lab.readStats();
    if (stats instanceof Error) {
        process.stderr.write(`final HAProxy statistics unreadable: ${stats.message}\n`);
        return undefined;
    }
    const b = backendCounters(stats, BACKEND_NAME);
    const f = frontendCounters(stats, FRONTEND_NAMES[lab.o.mode]);
    return b && f ? f.requestErrors + b.connectionErrors + b.responseErrors : undefined;
}

export const r2 = (n: number) => Math.round(n * 100) / 100;

export function report(
    lab: Lab,
    ramp: RampOutcome,
    attacks: Attacks,
    plan: RampPlan,
    planned: { rate: number; rampS: number },
    o: {
        collected: Collected;
        haproxyErrors: number | undefined;
        load1Start: number;
        interrupted: boolean;
        /** The machine's backlog drops over the ramp and hold, and over the release and collection. */
        softnetDrops: { ramp_hold: number; collect: number };
    },
) {
    const { rampEnd, samples } = ramp;
    const { baseline } = lab;
    const holdEnd = rampEnd + lab.o.hold;
    const readable = samples.filter((s) => s.t >= rampEnd && s.t <= holdEnd && s.held !== undefined);
    // Counted by HAProxy's statistics where they were read (sockets are an estimate, off by a few): nothing is sent
    // during the hold, so a connection lost between two reads is missing at the next one (and its request is an error).
    const { held, source: heldSource } = heldOverWindow(readable);
    const mid = readable[Math.floor(readable.length / 2)] ?? samples.at(-1) ?? baseline;
    // Planned: the target (top-ups only send what is missing). Every attack's requests and failures count;
    // one that returned nothing makes the count unknown (all planned).
    const count = countErrors(lab.o.conns, attacks.accounts(), o.haproxyErrors);
    const timeline = attacks.timeline();
    const judged = verdict({
        target: lab.o.conns,
        held,
        heldSource,
        errors: count.errors,
        points: [baseline, ...samples].map((s) => s.point),
        rampFrom: 0,
        rampTo: Number.isNaN(rampEnd) ? Infinity : rampEnd,
        memoryFloorBytes: plan.memoryFloorBytes,
    });
    // Memory per connection, by part: each host's own cgroup, idle lab → middle of the hold.
    const figures = mid.held
        ? perConnection(baseline.hosts, mid.hosts, mid.held)
        : Object.fromEntries(Object.keys(perConnection(baseline.hosts, baseline.hosts, 1)).map((k) => [k, null]));
    const { state } = ramp;
    const first = attacks.results[0];
    return {
        // held_source: "haproxy" (its statistics, read in the hold window) or "sockets" (an estimate, which never makes a run held).
        mode: lab.o.mode,
        target: lab.o.conns,
        held,
        held_source: heldSource,
        errors: count.errors,
        // Time to reach the target (or to the ramp's end when it stopped short), against the plan.
        ramp_s: Number.isNaN(rampEnd) ? null : Math.round(rampEnd),
        planned_ramp_s: Math.round(planned.rampS),
        // New end-to-end connections per second the machine actually sustained over the ramp (a --rate it can keep up with).
        achieved_rate:
            Number.isNaN(rampEnd) || rampEnd <= 0
                ? null
                : Math.round((samples.filter((s) => s.t <= rampEnd && s.held !== undefined).at(-1)?.held ?? 0) / rampEnd),
        ramp_end: ramp.attackEndedEarly ? "attack_ended" : state.phase === "ramping" ? "interrupted" : state.phase === "reached" ? "reached" : state.why,
        verdict: judged.verdict,
        limit: judged.limit,
        // Whether this machine, not HAProxy, was what stopped the run short (null when it held).
        machine_limited: judged.limit === null ? null : judged.limit.bound === "machine",
        verdict_note: judged.note,
        load1_start: r2(o.load1Start),
        load1_end: r2(loadavg()[0]),
        // An interrupted run's figures describe only what happened before Ctrl-C.
        interrupted: o.interrupted,
        ...figures,
        // Whole lab: every host's cgroup (user + kernel + socket memory), idle → middle of the hold.
        mem_used_gb: r2(
            (["haproxy", "client", "backend"] as const).reduce(
                (sum, role) => sum + roleSum(mid.hosts, role, (x) => x.memoryBytes) - roleSum(baseline.hosts, role, (x) => x.memoryBytes),
                0,
            ) /
                1024 ** 3,
        ),
        memory: judged.memory,
        haproxy_processes: lab.out.vips.stats.length,
        source_addresses_per_client: lab.out.inventory.find((h) => h.role === "client")?.sourceAddresses.length ?? 0,
        rate: planned.rate,
        hold_s: lab.o.hold,
        requests: count.requests,
        planned_requests: count.planned,
        replanned_requests: count.replanned,
        error_causes: count.causes,
        // From the release to every attack's return (null: vegeta had to be ended).
        released: o.collected.released,
        collect_s: o.collected.collect_s,
        ended_vegeta: o.collected.ended_vegeta,
        // Packets the machine dropped at a full CPU input backlog (net.core.netdev_max_backlog), all namespaces.
        softnet_drops: o.softnetDrops,
        stats_unread: ramp.statsUnread,
        ramp_cpu: judged.ramp_cpu,
        listen_drops: judged.listen_drops,
        // Each attack: its plan, revised to what it sent when it was paused, and what became of it (countErrors).
        attacks: attacks.sendings.map((x, i) => ({
            start_s: Math.round(x.startT),
            rate: x.rate,
            duration_s: Math.round(x.durationS * 10) / 10,
            ...timeline[i],
            ...count.attacks[i],
            run: attacks.results[i]?.runId ?? null,
        })),
        p50_ms: first?.summary ? Math.round(first.summary.latencies["50th"] / 1e6) : null,
    };
}

export function printTable(r: Record<string, unknown>): void {
    const rows = Object.entries(r).map(([k, v]) => `${k.padEnd(28)} ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`);
    console.log(["bench/scale", ...rows].join("\n"));
}
