// Plan checks: what the plan needs (fds, ports, source addresses, memory, time) against what
// the config and the host give. Pure; every refusal names the key and the number that breaks.
import type { LabConfig } from "../config.ts";
import { attackSettings, type AttackSettings } from "../render/attack.ts";
import { parseSubnet, subnetCapacity } from "../platform/addressPlan.ts";
import { FD_OVERHEAD, haproxyProcessesFor, planCapacity, PORTS_PER_SOURCE_ADDRESS, type CapacityPlan } from "./capacity.ts";
import { labMemoryBytes } from "./costs.ts";
import { cpuLayoutProblems } from "./haproxyCpus.ts";

/** Mean time a pong response takes: each of the times+1 writes waits 0..sleep+1 ms. */
export function meanResponseMs(a: AttackSettings): number {
    return a.holdMs + ((a.sleepMs + 1) / 2) * (a.times + 1);
}

/**
 * Little's law: connections a client keeps open = its rate × response time; an attack shorter
 * than a response never gets past rate × duration (at least 1).
 */
export function expectedConcurrencyPerClient(a: AttackSettings): number {
    return Math.max(1, Math.ceil(a.rate * Math.min(meanResponseMs(a) / 1000, a.durationS)));
}

const GB = 1024 ** 3;

/** What the plan needs that the config or the host cannot give; `capacity` is the config's plan (computed once by the loader). */
export function checkPlan(config: LabConfig, capacity: CapacityPlan = planCapacity(config)): string[] {
    const problems: string[] = [];
    const { hosts, haproxy, backend, local, plan } = config;
    const ceiling = capacity.nofileCeiling;

    if (haproxy.maxconn !== undefined && haproxy.maxconn < plan.connections) {
        problems.push(`c2m:haproxy.maxconn: ${haproxy.maxconn} is below c2m:plan.connections ${plan.connections}`);
    }
    const haproxyFds = 2 * capacity.haproxy.maxconnPerProcess + FD_OVERHEAD;
    if (haproxyFds > ceiling) {
        const needed = haproxyProcessesFor(capacity.haproxy.maxconnTotal, Math.floor((ceiling - FD_OVERHEAD) / 2));
        problems.push(
            `c2m:haproxy.processes: ${capacity.haproxy.maxconnTotal} connections (${capacity.haproxy.maxconnSource}) over ${capacity.haproxy.processes} ` +
                `HAProxy process(es) need ${haproxyFds} open files each (2 per connection + ${FD_OVERHEAD}), but processes here ` +
                `can open at most ${ceiling}; use ${needed} processes or leave c2m:haproxy.processes unset`,
        );
    }
    problems.push(...cpuLayoutProblems(config, capacity.haproxy.cpu));
    const perAddressLimit = Math.min(PORTS_PER_SOURCE_ADDRESS, ceiling - FD_OVERHEAD);
    if (capacity.client.connectionsPerAddress > perAddressLimit) {
        const needed = Math.ceil(capacity.client.connectionsPerClient / perAddressLimit);
        problems.push(
            `c2m:plan.sourceAddressesPerClient: ${plan.connections} connections over ${hosts.clients} clients ` +
                `need ${needed} source addresses per client (each address/process holds at most ${perAddressLimit}: ` +
                `${PORTS_PER_SOURCE_ADDRESS} ports, ${ceiling} open files), config gives ${capacity.client.sourceAddresses}`,
        );
    }
    // HAProxy reaches each pong server from one address: one port range per server.
    if (capacity.backend.connectionsPerServer > PORTS_PER_SOURCE_ADDRESS) {
        problems.push(
            `c2m:backend.serversPerHost: ${plan.connections} connections over ${capacity.backend.servers} pong servers ` +
                `are ${capacity.backend.connectionsPerServer} per server, more than the ${PORTS_PER_SOURCE_ADDRESS} ports HAProxy's address ` +
                `has towards one server; use at least ${Math.ceil(plan.connections / PORTS_PER_SOURCE_ADDRESS / hosts.backends)} servers per host`,
        );
    }
    if (local.memoryBytes !== undefined) {
        const needed = labMemoryBytes(plan.connections, plan.tlsShare);
        const usable = 0.85 * local.memoryBytes;
        if (needed > usable) {
            problems.push(
                `c2m:plan.connections: ${plan.connections} connections (${Math.round(plan.tlsShare * 100)}% TLS) need ` +
                    `~${(needed / GB).toFixed(1)} GB on this machine, which has ${(local.memoryBytes / GB).toFixed(1)} GB ` +
                    `(85% usable: ${(usable / GB).toFixed(1)} GB)`,
            );
        }
    }

    const lastPort = backend.basePort + capacity.backend.serversPerHost - 1;
    if (lastPort > 65535) {
        problems.push(
            `c2m:backend.serversPerHost: ${capacity.backend.serversPerHost} servers from port ${backend.basePort} ` + `end at ${lastPort}, past 65535`,
        );
    }
    // Each HAProxy process serves its statistics on a port of its own: statsPort + index.
    const statsPorts = { first: haproxy.statsPort, last: haproxy.statsPort + capacity.haproxy.processes - 1 };
    const inStats = (p: number) => p >= statsPorts.first && p <= statsPorts.last;
    if (haproxy.plainPort === haproxy.tlsPort || inStats(haproxy.plainPort) || inStats(haproxy.tlsPort) || statsPorts.last > 65535) {
        problems.push(
            `c2m:haproxy: plainPort ${haproxy.plainPort}, tlsPort ${haproxy.tlsPort} and the statistics ports ` +
                `${statsPorts.first}-${statsPorts.last} (one per process) must not overlap`,
        );
    }

    const attack = attackSettings(config.attack);
    const perClient = expectedConcurrencyPerClient(attack);
    if (perClient > capacity.client.connectionsPerClient) {
        problems.push(
            `c2m:plan.connections: the attack (${attack.rate}/s per client, responses ~${meanResponseMs(attack)} ms) ` +
                `keeps ~${perClient} connections open per client, above the ${capacity.client.connectionsPerClient} planned per client`,
        );
    }
    const serverTimeoutNeeded = attack.timeoutS * 1000;
    if (haproxy.timeouts.serverMs < serverTimeoutNeeded || haproxy.timeouts.clientMs < serverTimeoutNeeded) {
        problems.push(
            `c2m:haproxy.timeouts: client/server timeouts (${haproxy.timeouts.clientMs}/${haproxy.timeouts.serverMs} ms) ` +
                `must be at least the attack timeout ${serverTimeoutNeeded} ms, or HAProxy cuts requests vegeta still waits for`,
        );
    }
    const longestResponseMs = attack.holdMs + (attack.sleepMs + 1) * (attack.times + 1);
    if (longestResponseMs > attack.timeoutS * 1000) {
        problems.push(
            `c2m:attack.timeoutS: ${attack.timeoutS} s is shorter than the longest response ` +
                `(hold ${attack.holdMs} ms + sleep ${attack.sleepMs} ms × ${attack.times + 1} writes = ${longestResponseMs} ms)`,
        );
    }
    if (backend.requestTimeoutMs > 0 && backend.requestTimeoutMs < longestResponseMs) {
        problems.push(`c2m:backend.requestTimeoutMs: ${backend.requestTimeoutMs} ms cuts responses that take up to ${longestResponseMs} ms`);
    }

    const addressesNeeded = hosts.haproxy + hosts.backends + hosts.clients * capacity.client.sourceAddresses;
    try {
        parseSubnet(local.subnet);
        const usable = subnetCapacity(local.subnet);
        if (addressesNeeded > usable) {
            problems.push(
                `c2m:local.subnet: ${local.subnet} holds ${usable} addresses, the plan needs ${addressesNeeded} ` +
                    `(${hosts.haproxy + hosts.backends} hosts + ${hosts.clients} clients × ${capacity.client.sourceAddresses} source addresses)`,
            );
        }
    } catch (err) {
        problems.push(`c2m:local.subnet: ${(err as Error).message}`);
    }
    return problems;
}
