// Labs whose knee is known in advance, for checking the tipping search (bench:tipping): a synthetic
// backend of a given capacity, and an LB host pinned and CPU-limited so that HAProxy is the knee. Pure.
import { MIN_CPU_QUOTA } from "../../components/platform/local/cgroups.ts";
import { cpuListText } from "./cpuAttribution.ts";
/**
 * A synthetic backend of known capacity for checking the search (bench:tipping): pong servers
 * each serving at most maxConcurrent requests at once for a fixed serviceTimeMs (extra ones
 * wait in its FIFO queue), so capacity = servers × maxConcurrent × 1000 / serviceTimeMs. From a
 * wanted capacity: about serviceMs per request (so a step of a few seconds sees many requests
 * and a knee is a queue, not a CPU limit), the slots that takes spread over up to maxServers
 * servers (an even count on two backend hosts, or one server for the smallest), whole numbers.
 */
export function syntheticBackend(capacity: number, o: { serviceMs?: number; maxServers?: number } = {}) {
    if (!(capacity > 0 && Number.isFinite(capacity))) throw new Error(`capacity must be a positive number, got ${capacity}`);
    const serviceMs = o.serviceMs ?? 200;
    const maxServers = Math.max(2, 2 * Math.floor((o.maxServers ?? 8) / 2));
    const slots = (capacity * serviceMs) / 1000;
    const servers = slots < 2 ? 1 : Math.min(maxServers, 2 * Math.floor(slots / 2));
    const maxConcurrent = Math.max(1, Math.round(slots / servers));
    const serviceTimeMs = Math.max(1, Math.round((servers * maxConcurrent * 1000) / capacity));
    return {
        backends: servers === 1 ? 1 : 2,
        serversPerHost: servers === 1 ? 1 : servers / 2,
        servers,
        maxConcurrent,
        serviceTimeMs,
        /** What these whole numbers give, close to the wanted capacity (service times are whole ms). */
        capacity: (servers * maxConcurrent * 1000) / serviceTimeMs,
    };
}

/**
 * bench:tipping --capacity's search: from a fixed rate, never from the capacity it checks (a start
 * derived from the answer lines the doubling grid up with it, the same way for every capacity),
 * with the steps to reach it: doubling from 10/s, 13 steps reach a first bad step up to 10 × 2^9 =
 * 5,120/s and leave 3 bisections (±4.4 %). The smallest checkable capacity (2 clients) is 10/s.
 */
export const CAPACITY_SEARCH = { startRate: 10, maxSteps: 13 } as const;

/** Highest knee a search from `startRate` can bracket to ±5 % within `maxSteps` steps (3 of them bisections). */
export function reachableKnee(o: { startRate: number; maxSteps: number; factor?: number }): number {
    return o.startRate * (o.factor ?? 2) ** (o.maxSteps - 4);
}

/** Smallest capacity a search in steps of `quantum` requests/s can pin within ±10 % (a bracket needs room for a rate inside it). */
export function minCheckableCapacity(quantum: number): number {
    return 5 * quantum;
}

/**
 * The LB's own knee (bench:tipping --lb-cpus N): HAProxy pinned to the first N of the machine's
 * CPUs with as many threads, the backends not limiting (pong without a capacity limit), and the
 * other hosts (clients, backends, metrics) on the CPUs left — or, when none are left, on all of
 * them, sharing the LB's: a knee found then may be theirs, which the attribution says.
 */
export function lbKneeLayout(lbCpus: number, online: number[], o: { threads?: number; cpuQuota?: number } = {}): LbKneeLayout {
    if (!(Number.isInteger(lbCpus) && lbCpus >= 1 && lbCpus <= online.length)) {
        throw new Error(`--lb-cpus ${lbCpus}: this machine has ${online.length} CPU(s) (${online.join(",")}); give 1..${online.length}`);
    }
    const threads = o.threads ?? lbCpus;
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64))
        throw new Error(`--lb-threads ${threads}: give a whole number of HAProxy threads, 1..64`);
    // The kernel's smallest quota is 1 ms per period; more than the CPU set can run is no limit.
    if (o.cpuQuota !== undefined && !(o.cpuQuota >= MIN_CPU_QUOTA && o.cpuQuota <= lbCpus)) {
        throw new Error(
            `--lb-cpu-quota ${o.cpuQuota}: the LB's CPU time in CPUs' worth must be in ${MIN_CPU_QUOTA}..${lbCpus} (the ${lbCpus} CPU(s) of --lb-cpus ${lbCpus})`,
        );
    }
    const lb = online.slice(0, lbCpus);
    const rest = online.slice(lbCpus);
    return {
        lbCpus: lb,
        otherCpus: rest.length ? rest : online,
        shared: rest.length === 0,
        threads,
        ...(o.cpuQuota !== undefined ? { cpuQuota: o.cpuQuota } : {}),
    };
}

/** Where an LB knee search puts HAProxy: its CPU set, threads and CPU quota (CPUs' worth), and the other hosts' CPUs. */
export interface LbKneeLayout {
    lbCpus: number[];
    otherCpus: number[];
    shared: boolean;
    threads: number;
    cpuQuota?: number;
}

/**
 * The lab config (keys without "c2m:") of an LB knee search: one LB host on its CPUs with as many
 * threads (or `threads`) and, with `cpuQuota`, that much CPU time (c2m:local.hostLimits.haproxy.cpuQuota:
 * its cgroup's CFS quota), so HAProxy is the lab's narrowest resource; one backend host of 2 pong
 * servers without a capacity limit and `clients` clients on the other CPUs, the attack on one frontend.
 */
export function lbKneeConfig(
    lbCpus: number,
    online: number[],
    o: { subnet: string; frontend: "plain" | "tls"; clients: number; threads?: number; cpuQuota?: number },
) {
    const layout = lbKneeLayout(lbCpus, online, o);
    const others = { cpus: cpuListText(layout.otherCpus) };
    return {
        layout,
        config: {
            // No metrics host: its exporters would run in the LB's cgroup and spend its quota; each
            // step's CPU comes from the hosts' cgroups and this machine's /proc/stat (lab tipping).
            hosts: { haproxy: 1, backends: 1, clients: o.clients, metrics: 0 },
            // pong unlimited (maxConcurrent 0, no service time): the backends never queue on purpose.
            backend: { serversPerHost: 2, maxConcurrent: 0, serviceTimeMs: 0 },
            haproxy: { threads: layout.threads },
            local: {
                subnet: o.subnet,
                hostLimits: {
                    haproxy: { cpus: cpuListText(layout.lbCpus), ...(layout.cpuQuota !== undefined ? { cpuQuota: layout.cpuQuota } : {}) },
                    client: others,
                    backend: others,
                    metrics: others,
                },
            },
            attack: { preset: "smoke" as const, frontends: [o.frontend] },
        },
    };
}
