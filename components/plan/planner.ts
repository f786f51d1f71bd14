// Sizing and cost planner of an AWS tier: from the per-connection costs (costs.ts) and the
// instance table (prices.ts), what a target of concurrent connections needs — memory, open
// files, ports, source addresses, clients — what it costs per hour, and where it breaks.
// Pure; `lab plan` prints it, the AWS platform refuses plans over budget with it.
import { PER_CONNECTION_COSTS, SOCKETS_PER_CONNECTION, roleKBPerConnection, type PerConnectionCosts } from "./costs.ts";
import { fleetUsdPerHour, instanceType, type InstanceType } from "./prices.ts";
import { FD_OVERHEAD, PORTS_PER_SOURCE_ADDRESS } from "./capacity.ts";

/** Memory a host keeps for the OS, sshd, metrics and slack; connections get the rest. */
const HOST_RESERVED_GIB = 2;
/** ECDSA P-256 full handshakes per core per second (DESIGN.md): how fast TLS connections ramp. */
const TLS_HANDSHAKES_PER_CORE_PER_S = 3800;

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
    instanceTypes: { haproxy: string; backend: string; client: string };
    clients: number;
    backends: number;
    serversPerHost: number;
    sourceIpsPerClient: number;
    rootVolumeGb: number;
    budgetUsdPerHour?: number;
    costs?: PerConnectionCosts;
}

export interface RolePlan {
    instance_type: string;
    count: number;
    vcpu: number;
    memory_gib: number;
    /** Memory the role's connections take on one host, GiB. */
    memory_needed_gib: number;
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
    lb_nofile: number;
    tls_ramp_s: number;
    conns_per_backend_server: number;
    roles: { haproxy: RolePlan; backend: RolePlan; client: RolePlan };
    usd_per_hour: number;
    usd_per_hour_with_clients_needed: number;
    budget_usd_per_hour?: number;
    fits: boolean;
    problems: PlanProblem[];
    warnings: string[];
}

const GIB = 1024 * 1024; // KiB per GiB
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

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
    const byMemory = Math.ceil((conns * clientKiBPerConn) / (Math.max(0.5, clientMemoryGiB - HOST_RESERVED_GIB) * GIB));
    return Math.max(1, byPorts, byMemory);
}

export function planTier(input: PlannerInput): Plan {
    const c = input.costs ?? PER_CONNECTION_COSTS;
    const { conns, tlsShare } = input;
    if (!(conns > 0) || !Number.isInteger(conns)) throw new Error(`--conns must be a whole number > 0, got ${conns}`);
    if (!(tlsShare >= 0 && tlsShare <= 1)) throw new Error(`--tls-share must be between 0 and 1, got ${tlsShare}`);
    const lb = typeOf(input.instanceTypes.haproxy, "haproxy");
    const be = typeOf(input.instanceTypes.backend, "backend");
    const cl = typeOf(input.instanceTypes.client, "client");
    const problems: PlanProblem[] = [];
    const warnings: string[] = [];

    // Load balancer: two kernel sockets per connection plus HAProxy's own state.
    const lbKiB = conns * roleKBPerConnection("haproxy", tlsShare, c);
    const lbNeed = lbKiB / GIB;
    const lbSeed = (2 * conns * SEED_KIB_PER_ESTABLISHED_SOCKET) / GIB;
    const lbUsable = lb.memoryGiB - HOST_RESERVED_GIB;
    if (lbNeed > lbUsable) {
        problems.push({ kind: "memory", key: "haproxy", message: `${conns} connections (${round(tlsShare * 100, 0)} % TLS) need ~${round(lbNeed)} GiB, ` +
            `${input.instanceTypes.haproxy} leaves ${lbUsable} GiB: the box runs out of memory like the seed's 30 GB one did at 1.3M sockets` });
    } else if (lbSeed > lbUsable) {
        warnings.push(`haproxy: fits at the measured idle-connection costs (~${round(lbNeed)} GiB), but at the seed's observed ` +
            `~${round(SEED_KIB_PER_ESTABLISHED_SOCKET)} KiB per established socket (requests in flight) it needs ~${round(lbSeed)} GiB ` +
            `of ${lbUsable}: the seed's 30 GB box died at ${SEED_OBSERVED.oomEstablishedOn30GB / 1e6}M sockets`);
    }
    const lbNofile = SOCKETS_PER_CONNECTION.haproxy * conns + FD_OVERHEAD;

    // Clients: ports per source address, then memory.
    const clientKiB = roleKBPerConnection("client", tlsShare, c);
    const connsPerClient = Math.ceil(conns / input.clients);
    const connsPerIp = Math.ceil(connsPerClient / input.sourceIpsPerClient);
    if (input.sourceIpsPerClient > cl.ipv4PerInterface) {
        problems.push({ kind: "addresses", key: "c2m:aws.secondaryIpsPerClient", message: `${input.instanceTypes.client} holds ` +
            `${cl.ipv4PerInterface} addresses per interface, ${input.sourceIpsPerClient} asked` });
    }
    if (connsPerIp > PORTS_PER_SOURCE_ADDRESS) {
        problems.push({ kind: "ports", key: "clients", message: `${connsPerClient} connections per client over ${input.sourceIpsPerClient} ` +
            `source address(es) is ${connsPerIp} per address, above the ${PORTS_PER_SOURCE_ADDRESS} ports of one; ` +
            `need ${sourceIpsNeeded(connsPerClient)} addresses per client` });
    }
    const clientNeed = (connsPerClient * clientKiB) / GIB;
    if (clientNeed > cl.memoryGiB - HOST_RESERVED_GIB) {
        problems.push({ kind: "memory", key: "clients", message: `${connsPerClient} connections per client need ~${round(clientNeed)} GiB, ` +
            `${input.instanceTypes.client} leaves ${cl.memoryGiB - HOST_RESERVED_GIB} GiB` });
    }
    const minClients = clientsNeeded(conns, Math.min(input.sourceIpsPerClient, cl.ipv4PerInterface), clientKiB, cl.memoryGiB);

    // Backends: one socket per connection per pong server.
    const servers = input.backends * input.serversPerHost;
    const perServer = Math.ceil(conns / servers);
    const backendKiB = roleKBPerConnection("backend", tlsShare, c);
    const backendNeed = (perServer * input.serversPerHost * backendKiB) / GIB;
    if (backendNeed > be.memoryGiB - HOST_RESERVED_GIB) {
        problems.push({ kind: "memory", key: "backends", message: `${perServer * input.serversPerHost} connections per host need ` +
            `~${round(backendNeed)} GiB, ${input.instanceTypes.backend} leaves ${be.memoryGiB - HOST_RESERVED_GIB} GiB` });
    }
    if (perServer > PORTS_PER_SOURCE_ADDRESS) {
        problems.push({ kind: "ports", key: "backends", message: `${perServer} connections per pong server exceed the ` +
            `${PORTS_PER_SOURCE_ADDRESS} ports HAProxy's address has towards one server address:port; add backend hosts or servers per host` });
    }

    const fleet = (clients: number) => [
        { role: "haproxy", instanceType: input.instanceTypes.haproxy, count: 1 },
        { role: "backend", instanceType: input.instanceTypes.backend, count: input.backends },
        { role: "client", instanceType: input.instanceTypes.client, count: clients },
    ];
    const usd = fleetUsdPerHour(fleet(input.clients), input.rootVolumeGb);
    if (input.budgetUsdPerHour !== undefined && usd > input.budgetUsdPerHour) {
        problems.push({ kind: "budget", key: "c2m:aws.budgetUsdPerHour", message: `the fleet costs ~$${usd}/h, above the cap of $${input.budgetUsdPerHour}/h` });
    }
    if (minClients < input.clients) {
        warnings.push(`clients: ${minClients} client(s) with ${input.sourceIpsPerClient} source address(es) each hold ${conns} ` +
            `connections; the stack runs ${input.clients} (the seed ran 20, one address each)`);
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
        lb_usable_gb: lbUsable,
        lb_nofile: lbNofile,
        tls_ramp_s: Math.ceil((conns * tlsShare) / (TLS_HANDSHAKES_PER_CORE_PER_S * lb.vcpu)),
        conns_per_backend_server: perServer,
        roles: {
            haproxy: { instance_type: input.instanceTypes.haproxy, count: 1, vcpu: lb.vcpu, memory_gib: lb.memoryGiB,
                memory_needed_gib: round(lbNeed), nofile: lbNofile },
            backend: { instance_type: input.instanceTypes.backend, count: input.backends, vcpu: be.vcpu, memory_gib: be.memoryGiB,
                memory_needed_gib: round(backendNeed), nofile: perServer + FD_OVERHEAD },
            client: { instance_type: input.instanceTypes.client, count: input.clients, vcpu: cl.vcpu, memory_gib: cl.memoryGiB,
                memory_needed_gib: round(clientNeed), nofile: connsPerIp + FD_OVERHEAD },
        },
        usd_per_hour: usd,
        usd_per_hour_with_clients_needed: fleetUsdPerHour(fleet(minClients), input.rootVolumeGb),
        budget_usd_per_hour: input.budgetUsdPerHour,
        fits: problems.length === 0,
        problems,
        warnings,
    };
}

/** Human-readable report of a plan (the JSON is printed separately). */
export function formatPlan(p: Plan): string {
    const r = p.roles;
    const line = (role: string, x: RolePlan) =>
        `  ${role.padEnd(8)} ${String(x.count).padStart(3)} × ${x.instance_type.padEnd(12)} ${String(x.vcpu).padStart(3)} vCPU ` +
        `${String(x.memory_gib).padStart(4)} GiB   needs ~${x.memory_needed_gib} GiB/host, nofile ${x.nofile}`;
    return [
        `stack ${p.stack}: ${p.conns} end-to-end connections (${p.established_sockets} established sockets at HAProxy), ` +
            `${Math.round(p.tls_share * 100)} % TLS`,
        line("haproxy", r.haproxy),
        line("backend", r.backend),
        line("client", r.client),
        `  load balancer memory ~${p.lb_memory_gb} GiB of ${p.lb_usable_gb} usable (seed-observed rate: ~${p.lb_memory_seed_observed_gb} GiB); ` +
            `TLS ramp ≥ ${p.tls_ramp_s} s`,
        `  clients: ${p.source_ips_per_client} source IP(s) each, ${p.conns_per_client} conns/client, ${p.conns_per_source_ip} per IP; ` +
            `${p.clients_needed} client(s) would do`,
        `  backends: ${p.conns_per_backend_server} conns per pong server`,
        `  cost ~$${p.usd_per_hour}/h as configured, ~$${p.usd_per_hour_with_clients_needed}/h with ${p.clients_needed} client(s)` +
            (p.budget_usd_per_hour === undefined ? "" : ` (cap $${p.budget_usd_per_hour}/h)`),
        ...p.problems.map((x) => `  DOES NOT FIT: ${problemText(x)}`),
        ...p.warnings.map((x) => `  warning: ${x}`),
        `  ${p.fits ? "fits" : "does not fit"}`,
    ].join("\n");
}
