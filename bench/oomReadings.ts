// What bench:oom reads of the lab during and after its ramp: the LB host's memory against the
// connections held (and the slope of it per connection), the machine's slab, the sockets of a
// namespace, the LB's HAProxy processes and HAProxy's own count, and the run's vegeta results.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { $ } from "zx/core";
import { labEnv } from "../scripts/toolchain/toolchain.ts";
import type { StackOutputs } from "../scripts/lib/pulumiStack.ts";
import { CGROUP_ROOT, cgroupRel } from "../components/platform/local/cgroups.ts";
import { readNetCounters, type VegetaResult } from "./figures.ts";
import { backendCounters, frontendCounters } from "../scripts/analysis/haproxyStats.ts";
import type { Remote } from "../scripts/lib/remote.ts";
import { fetchStats } from "../scripts/lib/runReadings.ts";
import { BACKEND_NAME, FRONTEND_NAMES } from "../components/render/haproxyConfig.ts";

/** One point of the ramp: connections held and what the LB host's cgroup was charged then (bytes). */
export interface MemoryPoint {
    held: number;
    anon: number;
    kernel: number;
    socket: number;
}

/**
 * Bytes each added connection cost the LB host over the ramp's middle (held between `lo` and
 * `hi` of its peak, on the way up): the least-squares slope of a part against held connections,
 * so the idle memory and the last moments before the kill (reclaim, a killed process) do not bias it. Pure.
 */
export function slopePerConnection(points: MemoryPoint[], pick: (p: MemoryPoint) => number, lo = 0.2, hi = 0.95): number | null {
    const peak = Math.max(0, ...points.map((p) => p.held));
    // Only the way up: once connections fall (a process killed), memory no longer follows them.
    const mid = points.slice(0, points.findIndex((p) => p.held === peak) + 1).filter((p) => p.held >= lo * peak && p.held <= hi * peak);
    if (mid.length < 3) return null;
    const mx = mid.reduce((a, p) => a + p.held, 0) / mid.length;
    const my = mid.reduce((a, p) => a + pick(p), 0) / mid.length;
    const sxx = mid.reduce((a, p) => a + (p.held - mx) ** 2, 0);
    return sxx > 0 ? mid.reduce((a, p) => a + (p.held - mx) * (pick(p) - my), 0) / sxx : null;
}

/** A /proc/meminfo field of the machine, bytes. */
export function meminfoBytes(field: string): number {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
}

export const sh = (file: string, args: string[]) => spawnSync(file, args, { encoding: "utf8" }).stdout ?? "";

export const sockets = (namespace: string) => readNetCounters(namespace).tcpInuse;

/** PIDs of the HAProxy processes in the LB host's cgroup; undefined when its cgroup.procs cannot be read (unknown, not "none left"). */
export function haproxyPids(stack: string, host: string): number[] | undefined {
    const procs = join(CGROUP_ROOT, existsSync(join(CGROUP_ROOT, "cgroup.controllers")) ? "" : "memory", cgroupRel(stack, host), "cgroup.procs");
    let pids: number[] = [];
    try {
        pids = readFileSync(procs, "utf8").split("\n").filter(Boolean).map(Number);
    } catch {
        return undefined;
    }
    return pids.filter((pid) => {
        try {
            return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "haproxy";
        } catch {
            return false;
        }
    });
}

/**
 * HAProxy's count of the end-to-end connections it holds: the least of its frontend's and its
 * backend's current sessions over every process, from all their statistics pages read at once
 * through the session's SSH connection to the LB (no process is started in the LB's cgroup, whose
 * memory is what is measured); an Error when any page is not read (a partial sum would be a wrong
 * count). A process near its memory limit answers late: 2 s, not retried (the next sample is 250 ms away).
 */
export function haproxyHeldReader(remote: Remote, out: StackOutputs, mode: "plain" | "tls"): () => Promise<number | Error> {
    return async () => {
        try {
            const rows = await fetchStats(remote, out.vips.stats, { timeoutMs: 2000, idempotent: false });
            const f = frontendCounters(rows, FRONTEND_NAMES[mode]);
            const b = backendCounters(rows, BACKEND_NAME);
            if (!f || !b) return new Error("statistics pages: no frontend or backend row");
            return Math.min(f.current, b.current);
        } catch (err) {
            return err as Error;
        }
    };
}

/** Every result of the run's vegeta files, decoded. */
export async function vegetaResults(dir: string): Promise<VegetaResult[]> {
    const results = join(dir, "results");
    const files = existsSync(results)
        ? readdirSync(results)
              .filter((f) => f.endsWith(".bin"))
              .map((f) => join(results, f))
        : [];
    if (!files.length) return [];
    const out = await $({ env: labEnv(), verbose: false, quiet: true })`vegeta encode --to json ${files}`;
    return out.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as VegetaResult);
}
