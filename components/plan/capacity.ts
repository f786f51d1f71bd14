// Capacity plan: from the planned connection count and the host's per-process open-file
// ceiling, how many processes each role runs, how many source addresses each client needs,
// and the limits each process gets. Pure; checkPlan (sizing.ts) turns its numbers into refusals.
import type { LabConfig } from "../config.ts";
import { haproxyCpuLayout, type HaproxyCpuLayout } from "./haproxyCpus.ts";

/** Ephemeral ports every host hands out (net.ipv4.ip_local_port_range): all unprivileged ones. */
export const LOCAL_PORT_RANGE = { first: 1024, last: 65535 } as const;

/** Ports one source address can use towards one destination address:port. */
export const PORTS_PER_SOURCE_ADDRESS = LOCAL_PORT_RANGE.last - LOCAL_PORT_RANGE.first + 1;

/**
 * Descriptors a process keeps besides its connections: listeners, logs, health checks, pipes.
 * HAProxy, the largest user, needs ~140 at the seed's shape (10 reserved + listeners + 3 per
 * thread for 16 threads + one check per pong server for 80); vegeta and pong need tens.
 */
export const FD_OVERHEAD = 256;

/** Stands for "no per-process cap" (EC2 hosts raise nofile to millions). */
const UNCAPPED = 2 ** 30;

/**
 * HAProxy's maxconn over the plan's connections when c2m:haproxy.maxconn is absent. The seed ran
 * maxconn 2M for its 2.1M-socket goal and saw 2.38M sockets, 13 % over the goal: a maxconn equal to
 * the target would have refused those. 25 % covers that overshoot with room to spare, and costs
 * open files only (2 per connection, as the seed's 4M for 2M), not memory: nothing is allocated
 * per unused connection.
 */
export const MAXCONN_HEADROOM = 1.25;

/** Share of its fair part a process may receive when the kernel spreads connections by hash. */
const SPREAD_HEADROOM = 1.1;

/** A fair share plus room for the hash's unevenness (10% and 4 standard deviations). */
export function withSpreadHeadroom(fairShare: number, processes: number): number {
    if (processes <= 1) return fairShare;
    return Math.ceil(fairShare * SPREAD_HEADROOM + 4 * Math.sqrt(fairShare));
}

/** Fewest processes whose per-process maxconn, headroom included, stays within the fd limit. */
export function haproxyProcessesFor(maxconnTotal: number, perProcessLimit: number): number {
    let processes = Math.max(1, Math.ceil(maxconnTotal / perProcessLimit));
    while (withSpreadHeadroom(Math.ceil(maxconnTotal / processes), processes) > perProcessLimit && processes < maxconnTotal) processes++;
    return processes;
}

export interface CapacityPlan {
    connections: number;
    nofileCeiling: number;
    haproxy: {
        processes: number;
        /** Over all processes: c2m:haproxy.maxconn, else the connections × MAXCONN_HEADROOM. */
        maxconnTotal: number;
        /** Where maxconnTotal came from, for messages. */
        maxconnSource: string;
        maxconnPerProcess: number;
        nofile: number;
        /** Threads and the CPUs they are pinned to (haproxyCpus.ts). */
        cpu: HaproxyCpuLayout;
    };
    client: { connectionsPerClient: number; sourceAddresses: number; connectionsPerAddress: number; nofile: number };
    backend: { servers: number; serversPerHost: number; connectionsPerServer: number; nofile: number };
}

export function planCapacity(config: LabConfig): CapacityPlan {
    const { plan, hosts, haproxy, backend } = config;
    const connections = plan.connections;
    // Each platform's section of the config carries its own ceiling: c2m:local.nofileCeiling, c2m:aws.nofileCeiling.
    const ceiling = config[config.platform].nofileCeiling ?? UNCAPPED;
    const usable = Math.max(1, ceiling - FD_OVERHEAD);

    // HAProxy holds two sockets per connection (client side + server side). The kernel spreads
    // new connections over processes by hash, not evenly: each process gets headroom
    // (a process at maxconn leaves the rest waiting in its accept queue until they time out).
    const maxconnTotal = haproxy.maxconn ?? Math.ceil(connections * MAXCONN_HEADROOM);
    const maxconnSource =
        haproxy.maxconn === undefined
            ? `c2m:plan.connections ${connections} + ${Math.round((MAXCONN_HEADROOM - 1) * 100)} % headroom`
            : `c2m:haproxy.maxconn ${haproxy.maxconn}`;
    const perProcessLimit = Math.floor(usable / 2);
    const processes = haproxy.processes ?? haproxyProcessesFor(maxconnTotal, perProcessLimit);
    const maxconnPerProcess = withSpreadHeadroom(Math.ceil(maxconnTotal / processes), processes);

    // A client process holds one socket per connection and, per source address, at most one
    // port range towards one VIP:port.
    const connectionsPerClient = Math.ceil(connections / hosts.clients);
    const perAddressLimit = Math.min(PORTS_PER_SOURCE_ADDRESS, usable);
    const sourceAddresses = plan.sourceAddressesPerClient ?? Math.max(1, Math.ceil(connectionsPerClient / perAddressLimit));
    const connectionsPerAddress = Math.ceil(connectionsPerClient / sourceAddresses);

    // Pong servers: one socket per connection; at least as many as configured.
    const serversNeeded = Math.ceil(connections / usable);
    const serversPerHost = Math.max(backend.serversPerHost, Math.ceil(serversNeeded / hosts.backends));
    const servers = serversPerHost * hosts.backends;
    const connectionsPerServer = Math.ceil(connections / servers);

    const nofile = (sockets: number) => Math.min(ceiling, Math.max(4096, sockets + FD_OVERHEAD));
    return {
        connections,
        nofileCeiling: ceiling,
        haproxy: {
            processes,
            maxconnTotal,
            maxconnSource,
            maxconnPerProcess,
            nofile: nofile(2 * maxconnPerProcess),
            cpu: haproxyCpuLayout(config, processes),
        },
        client: { connectionsPerClient, sourceAddresses, connectionsPerAddress, nofile: nofile(connectionsPerAddress) },
        // HAProxy balances (leastconn) per process, so a server may get a little more than its share.
        backend: { servers, serversPerHost, connectionsPerServer, nofile: nofile(Math.ceil(connectionsPerServer * 1.25)) },
    };
}
