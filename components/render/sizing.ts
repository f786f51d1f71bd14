// Capacity arithmetic: what a plan needs (fds, ports, source addresses) compared with
// what the config gives. Pure; every refusal names the key and the number that breaks.
import type { LabConfig } from "../config.ts";
import { attackSettings, type AttackSettings } from "./attack.ts";
import { subnetCapacity } from "./addressPlan.ts";

/** Ports one source address can use towards one VIP:port (ip_local_port_range 1024-65535). */
export const PORTS_PER_SOURCE_IP = 65535 - 1024 + 1;

/** File descriptors HAProxy keeps besides two per proxied connection (listeners, logs, pipes). */
export const HAPROXY_FD_OVERHEAD = 64;

export function haproxyFdsNeeded(maxconn: number): number {
    return 2 * maxconn + HAPROXY_FD_OVERHEAD;
}

/** Mean time a pong response takes: each of the times+1 writes waits 0..sleep+1 ms. */
export function meanResponseMs(a: AttackSettings): number {
    return ((a.sleepMs + 1) / 2) * (a.times + 1);
}

/** Little's law: connections a client keeps open = its rate × response time (at least 1). */
export function expectedConcurrencyPerClient(a: AttackSettings): number {
    return Math.max(1, Math.ceil((a.rate * meanResponseMs(a)) / 1000));
}

export function checkPlan(config: LabConfig): string[] {
    const problems: string[] = [];
    const { hosts, haproxy, backend, local } = config;

    const ceiling = local.nofileCeiling;
    const fds = haproxyFdsNeeded(haproxy.maxconn);
    if (ceiling !== undefined && fds > ceiling) {
        problems.push(`c2m:haproxy.maxconn: ${haproxy.maxconn} connections need ${fds} open files ` +
            `(2 per connection + ${HAPROXY_FD_OVERHEAD}), but processes here can open at most ${ceiling}; ` +
            `lower maxconn to ${Math.floor((ceiling - HAPROXY_FD_OVERHEAD) / 2)} or less`);
    }

    const lastPort = backend.basePort + backend.serversPerHost - 1;
    if (lastPort > 65535) {
        problems.push(`c2m:backend.serversPerHost: ${backend.serversPerHost} servers from port ${backend.basePort} ` +
            `end at ${lastPort}, past 65535`);
    }
    const frontendPorts = [haproxy.plainPort, haproxy.tlsPort, haproxy.statsPort];
    if (new Set(frontendPorts).size !== frontendPorts.length) {
        problems.push(`c2m:haproxy: plainPort, tlsPort and statsPort must differ (got ${frontendPorts.join(", ")})`);
    }

    const attack = attackSettings(config.attack);
    const perClient = expectedConcurrencyPerClient(attack);
    if (perClient > PORTS_PER_SOURCE_IP) {
        problems.push(`c2m:attack.rate: ${attack.rate}/s per client with responses of ~${meanResponseMs(attack)} ms ` +
            `keeps ~${perClient} connections open per client, more than the ${PORTS_PER_SOURCE_IP} ports of one source address`);
    }
    const total = perClient * hosts.clients;
    if (total > haproxy.maxconn) {
        problems.push(`c2m:haproxy.maxconn: the attack keeps ~${total} connections open ` +
            `(${hosts.clients} clients × ${perClient}), above maxconn ${haproxy.maxconn}`);
    }
    const serverTimeoutNeeded = attack.timeoutS * 1000;
    if (haproxy.timeouts.serverMs < serverTimeoutNeeded || haproxy.timeouts.clientMs < serverTimeoutNeeded) {
        problems.push(`c2m:haproxy.timeouts: client/server timeouts (${haproxy.timeouts.clientMs}/${haproxy.timeouts.serverMs} ms) ` +
            `must be at least the attack timeout ${serverTimeoutNeeded} ms, or HAProxy cuts requests vegeta still waits for`);
    }
    const longestResponseMs = (attack.sleepMs + 1) * (attack.times + 1);
    if (longestResponseMs > attack.timeoutS * 1000) {
        problems.push(`c2m:attack.timeoutS: ${attack.timeoutS} s is shorter than the longest response ` +
            `(sleep ${attack.sleepMs} ms × ${attack.times + 1} writes = ${longestResponseMs} ms)`);
    }
    if (backend.requestTimeoutMs > 0 && backend.requestTimeoutMs < longestResponseMs) {
        problems.push(`c2m:backend.requestTimeoutMs: ${backend.requestTimeoutMs} ms cuts responses that take up to ${longestResponseMs} ms`);
    }

    const hostCount = hosts.haproxy + hosts.backends + hosts.clients;
    try {
        const usable = subnetCapacity(local.subnet);
        if (hostCount > usable) {
            problems.push(`c2m:local.subnet: ${local.subnet} holds ${usable} hosts, the plan has ${hostCount}`);
        }
    } catch (err) {
        problems.push(`c2m:local.subnet: ${(err as Error).message}`);
    }
    return problems;
}
