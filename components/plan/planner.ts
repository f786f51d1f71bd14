// Sizing and cost planner of an AWS tier: from the per-connection costs (costs.ts) and the
// instance table (prices.ts), what a target of concurrent connections needs — memory, open
// files, ports, source addresses, clients — what it costs per hour, and where it breaks.
// Pure; `lab plan` prints it, the AWS platform refuses plans over budget with it.
import {
    HAPROXY_PROCESS_BASE_MIB,
    PER_CONNECTION_COSTS,
    SOCKETS_PER_CONNECTION,
    lbConnectionsInMemory,
    roleKBPerConnection,
    type PerConnectionCosts,
} from "./costs.ts";
import { fleetUsdPerHour, INSTANCE_TYPES, instanceType, type InstanceType } from "./prices.ts";
import { FD_OVERHEAD, PORTS_PER_SOURCE_ADDRESS } from "./capacity.ts";
import { handshakesPerCore, tlsRampSeconds } from "./tlsHandshakes.ts";
import type { Certificate } from "../config.ts";

/**
 * Usable memory: what processes can count on, the type's nominal memory less what the kernel
 * keeps and what the OS's own services take. The kernel keeps its page array (mem_map: one
 * 64-byte struct page per 4 KiB page, ~1.4–1.6 % of memory on 64-bit; linux-mm.org, "Where did my
 * memory go?"), its image, per-CPU areas, page tables and what firmware/hypervisor reserve:
 * ~3 % in all here. The OS (systemd, journald, sshd, cloud-init, node_exporter) takes ~0.5 GiB.
 * A bound from the other side: AWS's Karpenter subtracts 7.5 % of every EC2 type's memory
 * (vmMemoryOverheadPercent default 0.075) for what the VM does not report; a fit is "tight" when
 * its headroom is under TIGHT_HEADROOM, and the warning says whether it holds at that 7.5 %.
 */
export const MEMORY_MODEL = { kernelShare: 0.03, osGiB: 0.5, conservativeKernelShare: 0.075 } as const;
/** Under this headroom (share of usable memory) a fit is called tight. */
export const TIGHT_HEADROOM = 0.1;

/** GiB a role's processes can count on, on a type of `nominalGiB`. */
export function usableMemoryGiB(nominalGiB: number, kernelShare: number = MEMORY_MODEL.kernelShare): number {
    return Math.max(0, nominalGiB * (1 - kernelShare) - MEMORY_MODEL.osGiB);
}

/**
 * On-Demand vCPU quota of the standard families: "Running On-Demand Standard (A, C, D, H, I, M,
 * R, T, Z) instances", per region, counted in vCPUs (Service Quotas code L-1216C47A; new accounts
 * start with 5–32). Every type the planner prices belongs to it.
 */
export const STANDARD_VCPU_QUOTA = {
    code: "L-1216C47A",
    name: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
    newAccounts: "5–32",
} as const;

/** True for a type of the standard families (a, c, d, h, i, m, r, t, z: one letter, then the generation). */
export function inStandardQuota(typeName: string): boolean {
    return /^[acdhimrtz]\d/.test(typeName);
}

/**
 * What the seed saw: 2.38M established sockets (both sides of HAProxy 1.6, requests in flight)
 * in ~48 GB, i.e. ~21 KiB per socket; at that rate its 30 GB box ran out of memory near 1.3M.
 */
const SEED_OBSERVED = { establishedSockets: 2_380_000, memoryGiB: 48, oomEstablishedOn30GB: 1_300_000 } as const;
export const SEED_KIB_PER_ESTABLISHED_SOCKET = (SEED_OBSERVED.memoryGiB * 1024 * 1024) / SEED_OBSERVED.establishedSockets;

export interface PlannerInput {
    stack: string;
    /** Concurrent end-to-end connections client ↔ HAProxy ↔ backend (established sockets = 2×). */
    conns: number;
    /** Share of the connections through the TLS frontend, 0..1. */
    tlsShare: number;
    /** The metrics host's type is only read when metricsHosts > 0. */
    instanceTypes: { haproxy: string; backend: string; client: string; metrics?: string };
    clients: number;
    /** Metrics hosts (c2m:hosts.metrics, 0 or 1): priced and counted in the vCPU quota like every host. */
    metricsHosts?: number;
    backends: number;
    serversPerHost: number;
    sourceIpsPerClient: number;
    rootVolumeGb: number;
    budgetUsdPerHour?: number;
    /** The TLS frontend's key (c2m:haproxy.tls.certificate): its handshake rate paces the TLS ramp. Absent = ecdsa-p256. */
    certificate?: Certificate;
    costs?: PerConnectionCosts;
}

export interface RolePlan {
    instance_type: string;
    count: number;
    vcpu: number;
    memory_gib: number;
    /** Memory the role's connections take on one host, GiB. */
    memory_needed_gib: number;
    /** What a host of the type leaves its processes (usableMemoryGiB), GiB. */
    memory_usable_gib: number;
    /** Open files one process of the role needs. */
    nofile: number;
}

/** Why a plan does not fit: what runs out, and the config key or role it is about. */
export interface PlanProblem {
    kind: "memory" | "addresses" | "ports" | "budget";
    /** A config key ("c2m:aws.budgetUsdPerHour") or a role ("haproxy", "clients", "backends"). */
    key: string;
    message: string;
}

/** A problem as printed: "key: message". */
export function problemText(p: PlanProblem): string {
    return `${p.key}: ${p.message}`;
}

/**
 * The load balancer's memory headroom at the target, from the per-connection model bench:oom
 * checks against a memory-limited LB host (costs.ts): how many connections its usable memory
 * holds, what share is left at the target, and which term of a connection's cost dominates.
 */
export interface LbHeadroom {
    /** End-to-end connections the LB's usable memory holds at the model's cost. */
    conns_that_fit: number;
    target: number;
    /** Usable memory left at the target, % of usable (negative: it does not fit). */
    headroom_pct: number;
    /** One connection's cost at the LB and its terms, KB. */
    per_conn_kb: number;
    terms: { kernel_sockets_kb: number; haproxy_kb: number };
    /** The larger term, in words. */
    dominant: string;
}

/**
 * Headroom of an LB of `usableGiB` (one HAProxy process, as on EC2) for `conns` connections,
 * `tlsShare` of them TLS: the same function bench:oom holds against a memory-limited host. Pure.
 */
export function lbHeadroom(conns: number, tlsShare: number, usableGiB: number, c: PerConnectionCosts = PER_CONNECTION_COSTS): LbHeadroom {
    const perConn = roleKBPerConnection("haproxy", tlsShare, c);
    const kernel = SOCKETS_PER_CONNECTION.haproxy * c.kernelPerSocketKB;
    const haproxy = perConn - kernel;
    const need = (conns * perConn) / GIB + HAPROXY_PROCESS_BASE_MIB / 1024;
    const what = tlsShare >= 1 ? "TLS" : tlsShare > 0 ? `${round(tlsShare * 100, 0)} % TLS` : "plain";
    return {
        conns_that_fit: lbConnectionsInMemory(usableGiB * 2 ** 30, tlsShare, 1, c),
        target: conns,
        headroom_pct: usableGiB > 0 ? round((100 * (usableGiB - need)) / usableGiB) : -100,
        per_conn_kb: round(perConn),
        terms: { kernel_sockets_kb: round(kernel), haproxy_kb: round(haproxy) },
        dominant:
            haproxy >= kernel
                ? `HAProxy's own ${what} state (${round(haproxy)} of ${round(perConn)} KB)`
                : `the kernel's ${SOCKETS_PER_CONNECTION.haproxy} sockets (${round(kernel)} of ${round(perConn)} KB)`,
    };
}

export interface Plan {
    stack: string;
    conns: number;
    established_sockets: number;
    tls_share: number;
    clients: number;
    clients_needed: number;
    source_ips_per_client: number;
    conns_per_client: number;
    conns_per_source_ip: number;
    lb_memory_gb: number;
    lb_memory_seed_observed_gb: number;
    lb_usable_gb: number;
    /** Usable memory the LB has left at the plan's connections, GiB (negative: it does not fit). */
    lb_headroom_gb: number;
    /** Connections the LB holds, headroom at the target and the dominant term (the bench:oom-checked model). */
    lb_headroom: LbHeadroom;
    /** How usable memory is estimated (MEMORY_MODEL). */
    memory_model: string;
    lb_nofile: number;
    /** The TLS frontend's certificate key, and how many full handshakes per second one LB core completes with it. */
    tls_certificate: Certificate;
    tls_handshakes_per_core_s: number;
    /** Seconds the LB's cores need for every TLS connection's full handshake (the fastest a TLS ramp can go). */
    tls_ramp_s: number;
    conns_per_backend_server: number;
    roles: { haproxy: RolePlan; backend: RolePlan; client: RolePlan; metrics?: RolePlan };
    /** vCPUs the lab's instances take of the region's On-Demand Standard quota (checked nowhere else: the account's value is not known here). */
    vcpu_quota: { code: string; name: string; vcpus_needed: number; new_accounts: string };
    usd_per_hour: number;
    usd_per_hour_with_clients_needed: number;
    budget_usd_per_hour?: number;
    fits: boolean;
    /** Roles (or "clients"/"backends") that fit with less than TIGHT_HEADROOM of their usable memory to spare. */
    tight: string[];
    problems: PlanProblem[];
    warnings: string[];
}

const GIB = 1024 * 1024; // KiB per GiB
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Holds `needGiB` against what a host of `type` leaves its processes: a problem when it does not
 * fit, a warning saying how tight when the headroom is under TIGHT_HEADROOM.
 */
function judgeMemory(
    key: string,
    what: string,
    needGiB: number,
    typeName: string,
    type: InstanceType,
    problems: PlanProblem[],
    warnings: string[],
    tight: string[],
): void {
    const usable = usableMemoryGiB(type.memoryGiB);
    const model = `${type.memoryGiB} GiB nominal − ${MEMORY_MODEL.kernelShare * 100} % kernel − ${MEMORY_MODEL.osGiB} GiB OS`;
    if (needGiB > usable) {
        problems.push({ kind: "memory", key, message: `${what} need ~${round(needGiB)} GiB, ${typeName} leaves ~${round(usable)} GiB usable (${model})` });
        return;
    }
    const headroom = usable - needGiB;
    if (headroom < TIGHT_HEADROOM * usable) {
        tight.push(key);
        const conservative = usableMemoryGiB(type.memoryGiB, MEMORY_MODEL.conservativeKernelShare);
        warnings.push(
            `${key}: tight: ${what} need ~${round(needGiB)} GiB of ~${round(usable)} GiB usable on ${typeName} (${model}), ` +
                `~${round(headroom)} GiB (${round((100 * headroom) / usable, 0)} %) to spare; ` +
                (needGiB > conservative
                    ? `if the kernel keeps 7.5 % (Karpenter's conservative figure) only ~${round(conservative)} GiB are usable and it does not fit`
                    : `it still fits if the kernel keeps 7.5 % (Karpenter's conservative figure, ~${round(conservative)} GiB usable)`),
        );
    }
}

function typeOf(name: string, role: string): InstanceType {
    const type = instanceType(name);
    if (!type) throw new Error(`c2m:aws.instanceTypes.${role}: no size/price known for "${name}" (see components/plan/prices.ts)`);
    return type;
}

/** Source addresses a client needs to open `connsPerClient` connections to one VIP:port. */
export function sourceIpsNeeded(connsPerClient: number): number {
    return Math.max(1, Math.ceil(connsPerClient / PORTS_PER_SOURCE_ADDRESS));
}

/** Fewest clients that hold `conns` given each client's addresses (ports) and memory. */
export function clientsNeeded(conns: number, sourceIpsPerClient: number, clientKiBPerConn: number, clientMemoryGiB: number): number {
    const byPorts = Math.ceil(conns / (sourceIpsPerClient * PORTS_PER_SOURCE_ADDRESS));
    const byMemory = Math.ceil((conns * clientKiBPerConn) / (Math.max(0.5, usableMemoryGiB(clientMemoryGiB)) * GIB));
    return Math.max(1, byPorts, byMemory);
}

/**
 * The most end-to-end connections any load balancer the planner knows could hold: the instance
 * type with the most memory in prices.ts, its usable memory, one HAProxy process, the measured
 * per-connection costs at this TLS share. No tier can be planned beyond it. Pure.
 */
export function servableLimit(
    tlsShare: number,
    c: PerConnectionCosts = PER_CONNECTION_COSTS,
): { conns: number; instanceType: string; memoryGiB: number; usableGiB: number } {
    const [name, type] = Object.entries(INSTANCE_TYPES).reduce((a, b) => (b[1].memoryGiB > a[1].memoryGiB ? b : a));
    const usable = usableMemoryGiB(type.memoryGiB);
    return { conns: lbConnectionsInMemory(usable * 2 ** 30, tlsShare, 1, c), instanceType: name, memoryGiB: type.memoryGiB, usableGiB: round(usable) };
}

/**
 * One line refusing a target no supported tier could serve (an operator's typo deserves the limit
 * it breaks, not a table of absurd sizes), or undefined when a plan is worth printing. Pure.
 */
export function refuseImpossible(conns: number, tlsShare: number, c: PerConnectionCosts = PER_CONNECTION_COSTS): string | undefined {
    if (!(tlsShare >= 0 && tlsShare <= 1)) return `--tls-share ${tlsShare}: a share of the connections, between 0 and 1`;
    const limit = servableLimit(tlsShare, c);
    if (conns <= limit.conns) return undefined;
    return (
        `--conns ${conns}: beyond what any supported load balancer holds: the largest the planner knows, ${limit.instanceType} ` +
        `(${limit.memoryGiB} GiB, ~${limit.usableGiB} usable), fits at most ${limit.conns} connections at ${round(tlsShare * 100, 0)} % TLS ` +
        `(${round(roleKBPerConnection("haproxy", tlsShare, c))} KB each, components/plan/costs.ts)`
    );
}

export function planTier(input: PlannerInput): Plan {
    const c = input.costs ?? PER_CONNECTION_COSTS;
    const { conns, tlsShare } = input;
    if (!(conns > 0) || !Number.isInteger(conns)) throw new Error(`--conns must be a whole number > 0, got ${conns}`);
    if (!(tlsShare >= 0 && tlsShare <= 1)) throw new Error(`--tls-share must be between 0 and 1, got ${tlsShare}`);
    const lb = typeOf(input.instanceTypes.haproxy, "haproxy");
    const be = typeOf(input.instanceTypes.backend, "backend");
    const cl = typeOf(input.instanceTypes.client, "client");
    const metricsHosts = input.metricsHosts ?? 0;
    const mt = metricsHosts > 0 ? typeOf(input.instanceTypes.metrics ?? "", "metrics") : undefined;
    const problems: PlanProblem[] = [];
    const warnings: string[] = [];
    const tight: string[] = [];

    // Load balancer: two kernel sockets per connection plus HAProxy's own state.
    const lbKiB = conns * roleKBPerConnection("haproxy", tlsShare, c);
    const lbNeed = lbKiB / GIB;
    const lbSeed = (2 * conns * SEED_KIB_PER_ESTABLISHED_SOCKET) / GIB;
    const lbUsable = usableMemoryGiB(lb.memoryGiB);
    judgeMemory("haproxy", `${conns} connections (${round(tlsShare * 100, 0)} % TLS)`, lbNeed, input.instanceTypes.haproxy, lb, problems, warnings, tight);
    if (lbNeed > lbUsable) {
        problems[problems.length - 1].message += `: the box runs out of memory like the seed's 30 GB one did at 1.3M sockets`;
    } else if (lbSeed > lbUsable) {
        warnings.push(
            `haproxy: fits at the measured idle-connection costs (~${round(lbNeed)} GiB), but at the seed's observed ` +
                `~${round(SEED_KIB_PER_ESTABLISHED_SOCKET)} KiB per established socket (requests in flight) it needs ~${round(lbSeed)} GiB ` +
                `of ~${round(lbUsable)}: the seed's 30 GB box died at ${SEED_OBSERVED.oomEstablishedOn30GB / 1e6}M sockets`,
        );
    }
    const lbNofile = SOCKETS_PER_CONNECTION.haproxy * conns + FD_OVERHEAD;

    // Clients: ports per source address, then memory.
    const clientKiB = roleKBPerConnection("client", tlsShare, c);
    const connsPerClient = Math.ceil(conns / input.clients);
    const connsPerIp = Math.ceil(connsPerClient / input.sourceIpsPerClient);
    if (input.sourceIpsPerClient > cl.ipv4PerInterface) {
        problems.push({
            kind: "addresses",
            key: "c2m:aws.secondaryIpsPerClient",
            message: `${input.instanceTypes.client} holds ` + `${cl.ipv4PerInterface} addresses per interface, ${input.sourceIpsPerClient} asked`,
        });
    }
    if (connsPerIp > PORTS_PER_SOURCE_ADDRESS) {
        problems.push({
            kind: "ports",
            key: "clients",
            message:
                `${connsPerClient} connections per client over ${input.sourceIpsPerClient} ` +
                `source address(es) is ${connsPerIp} per address, above the ${PORTS_PER_SOURCE_ADDRESS} ports of one; ` +
                `need ${sourceIpsNeeded(connsPerClient)} addresses per client`,
        });
    }
    const clientNeed = (connsPerClient * clientKiB) / GIB;
    judgeMemory("clients", `${connsPerClient} connections per client`, clientNeed, input.instanceTypes.client, cl, problems, warnings, tight);
    const minClients = clientsNeeded(conns, Math.min(input.sourceIpsPerClient, cl.ipv4PerInterface), clientKiB, cl.memoryGiB);

    // Backends: one socket per connection per pong server.
    const servers = input.backends * input.serversPerHost;
    const perServer = Math.ceil(conns / servers);
    const backendKiB = roleKBPerConnection("backend", tlsShare, c);
    const backendNeed = (perServer * input.serversPerHost * backendKiB) / GIB;
    judgeMemory(
        "backends",
        `${perServer * input.serversPerHost} connections per host`,
        backendNeed,
        input.instanceTypes.backend,
        be,
        problems,
        warnings,
        tight,
    );
    if (perServer > PORTS_PER_SOURCE_ADDRESS) {
        problems.push({
            kind: "ports",
            key: "backends",
            message:
                `${perServer} connections per pong server exceed the ` +
                `${PORTS_PER_SOURCE_ADDRESS} ports HAProxy's address has towards one server address:port; add backend hosts or servers per host`,
        });
    }

    // Every host: the metrics host is billed and takes vCPUs like the others.
    const fleet = (clients: number) => [
        { role: "haproxy", instanceType: input.instanceTypes.haproxy, count: 1 },
        { role: "backend", instanceType: input.instanceTypes.backend, count: input.backends },
        { role: "client", instanceType: input.instanceTypes.client, count: clients },
        ...(mt ? [{ role: "metrics", instanceType: input.instanceTypes.metrics!, count: metricsHosts }] : []),
    ];
    const vcpus = fleet(input.clients).reduce((sum, line) => sum + line.count * typeOf(line.instanceType, line.role).vcpu, 0);
    const outsideQuota = fleet(input.clients).filter((line) => !inStandardQuota(line.instanceType));
    if (outsideQuota.length) {
        warnings.push(
            `vCPU quota: ${outsideQuota.map((l) => `${l.role} ${l.instanceType}`).join(", ")} count against another On-Demand quota than ${STANDARD_VCPU_QUOTA.code}`,
        );
    }
    if (vcpus > 32) {
        warnings.push(
            `vCPU quota: the lab runs ${vcpus} vCPUs of On-Demand Standard instances; a region's quota ${STANDARD_VCPU_QUOTA.code} ` +
                `starts at ${STANDARD_VCPU_QUOTA.newAccounts} on new accounts: check it (Service Quotas → EC2 → "${STANDARD_VCPU_QUOTA.name}") and raise it before \`lab up\`, or some launches fail`,
        );
    }
    const usd = fleetUsdPerHour(fleet(input.clients), input.rootVolumeGb);
    if (input.budgetUsdPerHour !== undefined && usd > input.budgetUsdPerHour) {
        problems.push({
            kind: "budget",
            key: "c2m:aws.budgetUsdPerHour",
            message: `the fleet costs ~$${usd}/h, above the cap of $${input.budgetUsdPerHour}/h`,
        });
    }
    if (minClients < input.clients) {
        warnings.push(
            `clients: ${minClients} client(s) with ${input.sourceIpsPerClient} source address(es) each hold ${conns} ` +
                `connections; the stack runs ${input.clients} (the seed ran 20, one address each)`,
        );
    }

    return {
        stack: input.stack,
        conns,
        established_sockets: 2 * conns,
        tls_share: tlsShare,
        clients: input.clients,
        clients_needed: minClients,
        source_ips_per_client: input.sourceIpsPerClient,
        conns_per_client: connsPerClient,
        conns_per_source_ip: connsPerIp,
        lb_memory_gb: round(lbNeed),
        lb_memory_seed_observed_gb: round(lbSeed),
        lb_usable_gb: round(lbUsable),
        lb_headroom_gb: round(lbUsable - lbNeed),
        lb_headroom: lbHeadroom(conns, tlsShare, lbUsable, c),
        memory_model: `usable = nominal × (1 − ${MEMORY_MODEL.kernelShare}) − ${MEMORY_MODEL.osGiB} GiB (kernel, OS)`,
        lb_nofile: lbNofile,
        // The TLS frontend's key sets the handshake rate (components/plan/tlsHandshakes.ts).
        tls_certificate: input.certificate ?? "ecdsa-p256",
        tls_handshakes_per_core_s: handshakesPerCore(input.certificate),
        tls_ramp_s: tlsRampSeconds(conns * tlsShare, lb.vcpu, input.certificate),
        conns_per_backend_server: perServer,
        roles: {
            haproxy: {
                instance_type: input.instanceTypes.haproxy,
                count: 1,
                vcpu: lb.vcpu,
                memory_gib: lb.memoryGiB,
                memory_needed_gib: round(lbNeed),
                memory_usable_gib: round(lbUsable),
                nofile: lbNofile,
            },
            backend: {
                instance_type: input.instanceTypes.backend,
                count: input.backends,
                vcpu: be.vcpu,
                memory_gib: be.memoryGiB,
                memory_needed_gib: round(backendNeed),
                memory_usable_gib: round(usableMemoryGiB(be.memoryGiB)),
                nofile: perServer + FD_OVERHEAD,
            },
            client: {
                instance_type: input.instanceTypes.client,
                count: input.clients,
                vcpu: cl.vcpu,
                memory_gib: cl.memoryGiB,
                memory_needed_gib: round(clientNeed),
                memory_usable_gib: round(usableMemoryGiB(cl.memoryGiB)),
                nofile: connsPerIp + FD_OVERHEAD,
            },
            // Prometheus and the log sink: not sized by the connections (memory_needed 0).
            ...(mt
                ? {
                      metrics: {
                          instance_type: input.instanceTypes.metrics!,
                          count: metricsHosts,
                          vcpu: mt.vcpu,
                          memory_gib: mt.memoryGiB,
                          memory_needed_gib: 0,
                          memory_usable_gib: round(usableMemoryGiB(mt.memoryGiB)),
                          nofile: 16_384,
                      },
                  }
                : {}),
        },
        vcpu_quota: { code: STANDARD_VCPU_QUOTA.code, name: STANDARD_VCPU_QUOTA.name, vcpus_needed: vcpus, new_accounts: STANDARD_VCPU_QUOTA.newAccounts },
        usd_per_hour: usd,
        usd_per_hour_with_clients_needed: fleetUsdPerHour(fleet(minClients), input.rootVolumeGb),
        budget_usd_per_hour: input.budgetUsdPerHour,
        fits: problems.length === 0,
        tight,
        problems,
        warnings,
    };
}

/** Human-readable report of a plan (the JSON is printed separately). */
export function formatPlan(p: Plan): string {
    const r = p.roles;
    const line = (role: string, x: RolePlan) =>
        `  ${role.padEnd(8)} ${String(x.count).padStart(3)} × ${x.instance_type.padEnd(12)} ${String(x.vcpu).padStart(3)} vCPU ` +
        `${String(x.memory_gib).padStart(4)} GiB (~${x.memory_usable_gib} usable)   needs ~${x.memory_needed_gib} GiB/host, nofile ${x.nofile}`;
    return [
        `stack ${p.stack}: ${p.conns} end-to-end connections (${p.established_sockets} established sockets at HAProxy), ` +
            `${Math.round(p.tls_share * 100)} % TLS`,
        line("haproxy", r.haproxy),
        line("backend", r.backend),
        line("client", r.client),
        ...(r.metrics ? [line("metrics", r.metrics)] : []),
        `  load balancer memory ~${p.lb_memory_gb} GiB of ~${p.lb_usable_gb} usable, ~${p.lb_headroom_gb} GiB to spare ` +
            `(seed-observed rate: ~${p.lb_memory_seed_observed_gb} GiB); TLS ramp ≥ ${p.tls_ramp_s} s ` +
            `(${p.tls_certificate}: ${p.tls_handshakes_per_core_s} handshakes/s per core)`,
        `  headroom: the LB holds ~${p.lb_headroom.conns_that_fit} connections, target ${p.lb_headroom.target}: ` +
            `${p.lb_headroom.headroom_pct} % of usable memory to spare; ${p.lb_headroom.per_conn_kb} KB per connection, ` +
            `dominated by ${p.lb_headroom.dominant} (model checked by bench:oom)`,
        `  usable memory: ${p.memory_model}`,
        `  vCPU quota: ${p.vcpu_quota.vcpus_needed} vCPUs of "${p.vcpu_quota.name}" (${p.vcpu_quota.code}, per region; ` +
            `new accounts: ${p.vcpu_quota.new_accounts})`,
        `  clients: ${p.source_ips_per_client} source IP(s) each, ${p.conns_per_client} conns/client, ${p.conns_per_source_ip} per IP; ` +
            `${p.clients_needed} client(s) would do`,
        `  backends: ${p.conns_per_backend_server} conns per pong server`,
        `  cost ~$${p.usd_per_hour}/h as configured, ~$${p.usd_per_hour_with_clients_needed}/h with ${p.clients_needed} client(s)` +
            (p.budget_usd_per_hour === undefined ? "" : ` (cap $${p.budget_usd_per_hour}/h)`),
        ...p.problems.map((x) => `  DOES NOT FIT: ${problemText(x)}`),
        ...p.warnings.map((x) => `  warning: ${x}`),
        `  ${p.fits ? (p.tight.length ? `fits, tight on ${p.tight.join(", ")} (see the warning)` : "fits") : "does not fit"}`,
    ].join("\n");
}
