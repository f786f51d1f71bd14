// HAProxy's threads and the CPUs they are pinned to (nbthread + cpu-map), and the CPUs left to
// the kernel's network work. Pure: from the config (the LB host's CPUs: components/platform/hostCpus.ts)
// and the number of HAProxy processes.
//
// The seed never gave HAProxy the whole box: "la machine ... 16 cœurs 30 Gig avec 3 cœurs alloués
// à HAProxy" (nbproc = 3, milestones 1 and 2, and again on the 16-core 64 GB box), nbproc = 3 planned
// for its 4-core production boxes, and "si nous décidions finalement d'opter pour une machine à 8
// cœurs en production, nous n'allouerions jamais tous les cœurs à HAProxy". So by default HAProxy
// gets the seed's 3 cores, never all of them: at least one is left to the kernel, which receives
// the packets, runs TCP and wakes HAProxy (softirqs) on CPUs HAProxy does not keep busy.
import type { LabConfig } from "../config.ts";
import { parseCpuList } from "../cpuList.ts";
import { lbCpuQuota, lbHostCpus, lbHostCpusText } from "../platform/hostCpus.ts";

/** HAProxy's cores in every seed run past the first tests (nbproc = 3). */
export const SEED_HAPROXY_CORES = 3;

export interface HaproxyCpuLayout {
    /** CPUs of the LB host, as its processes see them; undefined when unknown (no pinning then). */
    hostCpus?: number[];
    /** CPUs HAProxy's threads run on (every process's); undefined = not pinned. */
    cpus?: number[];
    /** The host's other CPUs: the kernel's (interrupts, softirqs), sshd, the rest. */
    kernelCpus: number[];
    /** HAProxy threads over all its processes (c2m:haproxy.threads, else one per CPU of `cpus`). */
    threads: number;
    /** nbthread of each process. */
    threadsPerProcess: number;
    /** Where each figure came from, for `lab plan` and the comments. */
    why: string;
}

/** A CPU list as Linux writes it: [0,1,2,5] → "0-2,5". */
export function cpuListText(cpus: readonly number[]): string {
    const sorted = [...cpus].sort((a, b) => a - b);
    const runs: string[] = [];
    for (let i = 0; i < sorted.length; ) {
        let j = i;
        while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
        runs.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
        i = j + 1;
    }
    return runs.join(",");
}

/**
 * HAProxy's CPUs when c2m:haproxy.cpus is absent: the seed's 3 (or c2m:haproxy.threads) but always
 * one fewer than the host has, taken from the top so CPU 0 upward stay the kernel's. A local LB's
 * CPU quota (c2m:local.hostLimits.haproxy.cpuQuota) caps them at the CPUs' worth it allows: more
 * CPUs than that only spread the same time thinner.
 */
export function defaultHaproxyCpus(hostCpus: readonly number[], o: { threads?: number; cpuQuota?: number }): number[] {
    const n = hostCpus.length;
    let want = Math.min(o.threads ?? SEED_HAPROXY_CORES, Math.max(1, n - 1));
    if (o.cpuQuota !== undefined) want = Math.min(want, Math.max(1, Math.ceil(o.cpuQuota)));
    return [...hostCpus].sort((a, b) => a - b).slice(n - want);
}

export function haproxyCpuLayout(config: LabConfig, processes: number): HaproxyCpuLayout {
    const { threads: configThreads, cpus: configCpus } = config.haproxy;
    const hostCpus = lbHostCpus(config);
    const quota = lbCpuQuota(config);
    let cpus: number[] | undefined;
    let why: string;
    if (configCpus !== undefined) {
        cpus = parseCpuList(configCpus);
        why = `c2m:haproxy.cpus "${configCpus}"`;
    } else if (hostCpus !== undefined) {
        cpus = defaultHaproxyCpus(hostCpus, { threads: configThreads, cpuQuota: quota });
        why =
            `the seed's ${SEED_HAPROXY_CORES} HAProxy cores, at least one of the host's ${hostCpus.length} CPU(s) left to the kernel` +
            (quota === undefined ? "" : `, at most the ${quota} CPUs' worth of its quota`);
    } else {
        why = "not pinned: the LB host's CPUs are not known (no instance type in the table, or no c2m:local.hostLimits.haproxy.cpus)";
    }
    const threads = configThreads ?? cpus?.length ?? 1;
    // Several processes (a local host caps each one's open files) share the threads: each gets its
    // part, at least one, all on HAProxy's CPUs; the quota, not the thread count, is their CPU time.
    const threadsPerProcess = Math.max(1, Math.floor(threads / processes));
    const kernelCpus = hostCpus === undefined || cpus === undefined ? [] : hostCpus.filter((c) => !cpus.includes(c));
    // Unknown lists are left out, not undefined: the layout is a stack output and goes through JSON.
    return { ...(hostCpus && { hostCpus }), ...(cpus && { cpus }), kernelCpus, threads, threadsPerProcess, why };
}

/**
 * haproxy.cfg's `cpu-map` line (without the keyword), or undefined when HAProxy is not pinned.
 * One thread per CPU when there are as many CPUs as threads (auto: thread i on the i-th CPU),
 * else every thread on the whole set. "1/…" is thread group 1 (HAProxy 2.7+) or process 1 (2.6).
 */
export function cpuMapArgs(layout: Pick<HaproxyCpuLayout, "cpus" | "threadsPerProcess">): string | undefined {
    const { cpus, threadsPerProcess: t } = layout;
    if (cpus === undefined || cpus.length === 0) return undefined;
    if (t > 1 && cpus.length >= t) return `auto:1/1-${t} ${cpuListText([...cpus].sort((a, b) => a - b).slice(0, t))}`;
    return `1/all ${cpuListText(cpus)}`;
}

/** What the layout asks that the host cannot give, each naming its key. */
export function cpuLayoutProblems(config: LabConfig, layout: HaproxyCpuLayout): string[] {
    const problems: string[] = [];
    if (config.haproxy.cpus !== undefined && layout.cpus === undefined) {
        problems.push(`c2m:haproxy.cpus: "${config.haproxy.cpus}" is not a CPU list like "0", "1-3" or "1,3"`);
    } else if (layout.cpus !== undefined && layout.hostCpus !== undefined) {
        const outside = layout.cpus.filter((c) => !layout.hostCpus?.includes(c));
        if (outside.length > 0) {
            const host = lbHostCpusText(config, layout.hostCpus);
            problems.push(`c2m:haproxy.cpus: CPU(s) ${outside.join(",")} are not among ${host} (CPUs ${cpuListText(layout.hostCpus)})`);
        }
    }
    return problems;
}
