// A local tier planned against the limits it actually runs under (c2m:local.hostLimits.haproxy:
// a memory cgroup, a CPU quota or CPU set), not an AWS instance type: what the LB's memory holds,
// what one connection costs there (the cgroup's charged share of the kernel's), and whether the
// attack's ramp outruns the handshakes its CPUs complete (handshakeQueue.ts). Pure.
import { type LabConfig, labCertificate } from "../config.ts";
import { parseCpuList } from "../cpuList.ts";
import { HAPROXY_PROCESS_BASE_MIB, lbConnectionsInMemory, PER_CONNECTION_COSTS, roleKBPerConnection } from "./costs.ts";
import {
    fastestSurvivingRamp,
    LOCAL_LAB_HANDSHAKE_SHARE,
    LOCAL_LAB_RATE_SPREAD,
    LOCAL_LAB_WAITING_KB,
    planRamp,
    type RampPlan,
    slowestSurvivingHandshakeRate,
} from "./handshakeQueue.ts";

export interface LocalTierPlan {
    stack: string;
    target: number;
    tls_share: number;
    certificate: string;
    /** The LB's cgroup: memory limit (MiB; the machine's when unlimited), CPUs' worth of time, HAProxy processes. */
    lb_limit_mib: number;
    lb_limit_source: "c2m:local.hostLimits.haproxy.memoryMiB" | "the machine's memory";
    lb_cpus: number;
    lb_cpus_source: string;
    processes: number;
    /** KB one held connection costs the LB's cgroup, and one waiting for its handshake. */
    kb_per_conn: number;
    kb_per_waiting: number;
    /** End-to-end connections the memory holds with nothing in flight, and the headroom over the target. */
    conns_that_fit: number;
    headroom_pct: number;
    /** The attack's ramp (new connections/s over all clients) and its course on these CPUs. */
    ramp_per_s: number;
    ramp: RampPlan;
    /** The fastest ramp this LB survives at the target (null: not even the slowest). */
    fastest_surviving_ramp_per_s: number | null;
    /** The fewest handshakes/s the LB must complete to survive this ramp (null: no rate saves it): a run's measured rate against it scores the memory half of the prediction apart from the CPU half. */
    slowest_surviving_handshakes_per_s: number | null;
    /** The predicted rate and the rate it needs are closer than the spread measured between runs on this machine: it may go either way. */
    at_the_edge: boolean;
    /** Held (memory and ramp both fit), or dies: of memory at the target held, or during the ramp. */
    verdict: "holds" | "dies_of_memory" | "dies_during_ramp";
}

/** CPUs' worth of time the LB gets: its quota, else the size of its CPU set, else the machine's. */
export function lbCpusOf(config: LabConfig, machineCpus: number): { cpus: number; source: string } {
    const l = config.local.hostLimits?.haproxy;
    if (l?.cpuQuota !== undefined) return { cpus: l.cpuQuota, source: `c2m:local.hostLimits.haproxy.cpuQuota (on CPUs ${l.cpus ?? "any"})` };
    const set = l?.cpus === undefined ? undefined : parseCpuList(l.cpus)?.length;
    if (set !== undefined) return { cpus: set, source: `c2m:local.hostLimits.haproxy.cpus "${l?.cpus}"` };
    return { cpus: machineCpus, source: "the machine's CPUs (no limit)" };
}

export function planLocalTier(
    stack: string,
    config: LabConfig,
    o: { processes: number; rampPerS: number; machineCpus: number; machineMemoryBytes: number; target?: number },
): LocalTierPlan {
    const target = o.target ?? config.plan.connections;
    const tls = config.plan.tlsShare;
    const memMiB = config.local.hostLimits?.haproxy?.memoryMiB;
    const limitBytes = memMiB !== undefined ? memMiB * 2 ** 20 : o.machineMemoryBytes;
    const { cpus, source } = lbCpusOf(config, o.machineCpus);
    const certificate = labCertificate(config.haproxy.tls);
    const heldKB = roleKBPerConnection("haproxy", tls, PER_CONNECTION_COSTS, "cgroup");
    const waitingKB = LOCAL_LAB_WAITING_KB;
    const baseBytes = o.processes * HAPROXY_PROCESS_BASE_MIB * 2 ** 20;
    const input = { target, tlsShare: tls, lbCpus: cpus, certificate, handshakeShare: LOCAL_LAB_HANDSHAKE_SHARE, heldKB, waitingKB, limitBytes, baseBytes };
    const ramp = planRamp({ ...input, rampPerS: o.rampPerS });
    const fit = lbConnectionsInMemory(limitBytes, tls, o.processes, PER_CONNECTION_COSTS, { scope: "cgroup" });
    const fastest = fastestSurvivingRamp(input);
    const slowestRate = slowestSurvivingHandshakeRate({ ...input, rampPerS: o.rampPerS });
    return {
        stack,
        target,
        tls_share: tls,
        certificate,
        lb_limit_mib: Math.round(limitBytes / 2 ** 20),
        lb_limit_source: memMiB !== undefined ? "c2m:local.hostLimits.haproxy.memoryMiB" : "the machine's memory",
        lb_cpus: cpus,
        lb_cpus_source: source,
        processes: o.processes,
        kb_per_conn: round1(heldKB),
        kb_per_waiting: round1(waitingKB),
        conns_that_fit: fit,
        headroom_pct: round1((fit / target - 1) * 100),
        ramp_per_s: o.rampPerS,
        ramp,
        fastest_surviving_ramp_per_s: fastest ?? null,
        slowest_surviving_handshakes_per_s: slowestRate ?? null,
        at_the_edge:
            slowestRate !== undefined &&
            slowestRate > 0 &&
            ramp.handshakesPerS < slowestRate * LOCAL_LAB_RATE_SPREAD &&
            ramp.handshakesPerS * LOCAL_LAB_RATE_SPREAD > slowestRate,
        verdict: fit < target ? "dies_of_memory" : ramp.fits ? "holds" : "dies_during_ramp",
    };
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export function formatLocalTierPlan(p: LocalTierPlan): string {
    const r = p.ramp;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    const lines = [
        `stack ${p.stack}: planned against its local host limits (c2m:local.hostLimits), not an AWS instance type`,
        `  LB host: ${p.lb_limit_mib} MiB (${p.lb_limit_source}), ${p.lb_cpus} CPU(s) (${p.lb_cpus_source}), ${p.processes} HAProxy process(es)`,
        `  target ${p.target} end-to-end connections, ${Math.round(p.tls_share * 100)} % TLS (${p.certificate})`,
        `  memory: ${p.kb_per_conn} KB per held connection in the cgroup, ${p.kb_per_waiting} KB per one waiting for its handshake;` +
            ` holds ~${p.conns_that_fit} with nothing in flight (${p.headroom_pct >= 0 ? `${p.headroom_pct} % to spare` : `${-p.headroom_pct} % short`})`,
        `  ramp: ${p.ramp_per_s}/s offered for ${r.rampS.toFixed(0)} s; the LB completes ~${r.handshakesPerS} handshakes/s` +
            ` (${p.lb_cpus} CPU × the local lab's end-to-end rate); at the ramp's end ${r.waitingAtRampEnd} wait for a handshake,` +
            ` ${r.heldAtRampEnd} are end to end, peak ${mib(r.peakBytes)} of ${p.lb_limit_mib} MiB${r.waitingAtRampEnd > 0 ? `, drained ${r.drainS.toFixed(0)} s later` : ""}`,
        p.verdict === "holds"
            ? `  verdict: holds the target at this ramp`
            : p.verdict === "dies_of_memory"
              ? `  verdict: DIES of memory: the target held needs more than ${p.lb_limit_mib} MiB`
              : `  verdict: DIES during the ramp (OOM at ~${r.diesAtAccepted} accepted connections): handshakes queue behind too little CPU`,
        `  fastest ramp it survives at this target: ${p.fastest_surviving_ramp_per_s === null ? "none" : `${p.fastest_surviving_ramp_per_s}/s`}`,
        `  at this ramp it survives if it completes ${p.slowest_surviving_handshakes_per_s === null ? "no rate saves it" : `≥ ${p.slowest_surviving_handshakes_per_s} handshakes/s`} (predicted ${r.handshakesPerS}/s)` +
            (p.at_the_edge ? `: AT THE EDGE, runs on this machine have measured rates ${LOCAL_LAB_RATE_SPREAD.toFixed(1)}x apart, so it may live or die` : ""),
    ];
    return lines.join("\n");
}
