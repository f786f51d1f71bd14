// haproxy.cfg for the lab's load balancer. Pure: same input, same text.
import type { LabConfig } from "../config.ts";
import { cpuMapArgs, type HaproxyCpuLayout } from "../plan/haproxyCpus.ts";

export interface BackendServer {
    name: string;
    address: string;
    port: number;
}

export interface HaproxyRenderInput {
    haproxy: LabConfig["haproxy"];
    /** Connections one process accepts (the total is split over processes). */
    maxconnPerProcess: number;
    /** Each process's threads and the CPUs they are pinned to (components/plan/haproxyCpus.ts); absent = c2m:haproxy.threads (else 1), not pinned. */
    cpu?: Pick<HaproxyCpuLayout, "cpus" | "threadsPerProcess">;
    servers: BackendServer[];
    bindAddress: string;
    /** PEM bundle (certificate + key) for the TLS frontend. */
    certPath: string;
    /** Syslog target (address:port, UDP) for one HTTP log line per request with its timers (metrics role); none = no log. */
    logTarget?: string;
}

/**
 * Each HAProxy process reads the same file; what differs per process comes from its
 * environment (HAProxy expands "${VAR}"): its statistics port and admin socket.
 */
export const PER_PROCESS_ENV = { statsPort: "C2M_STATS_PORT", adminSocket: "C2M_ADMIN_SOCKET" } as const;

/** Proxy names of haproxy.cfg, as its statistics and metrics report them (pxname, proxy="…"). */
export const FRONTEND_NAMES = { plain: "api_plain", tls: "api_tls" } as const;
export const BACKEND_NAME = "pong";

export function renderHaproxyConfig(input: HaproxyRenderInput): string {
    const { haproxy, servers, bindAddress } = input;
    if (servers.length === 0) throw new Error("haproxy needs at least one backend server");
    const t = haproxy.timeouts;
    const cpu = input.cpu ?? { cpus: undefined, threadsPerProcess: haproxy.threads ?? 1 };
    const cpuMap = cpuMapArgs(cpu);
    const lines = [
        "global",
        // Explicit: HAProxy otherwise derives maxconn from the fd limit it finds.
        `    maxconn ${input.maxconnPerProcess}`,
        `    nbthread ${cpu.threadsPerProcess}`,
        // Threads pinned to HAProxy's CPUs, the rest of the host left to the kernel's network work
        // (the modern form of the seed's nbproc 3 + cpu-map on 16 cores).
        ...(cpuMap === undefined ? [] : [`    cpu-map ${cpuMap}`]),
        `    stats socket "\${${PER_PROCESS_ENV.adminSocket}}" mode 600 level admin`,
        ...(input.logTarget ? [`    log ${input.logTarget} len 4096 local0 info`] : []),
        // ECDSA P-256 handshakes are ~2x cheaper than RSA-2048 (c2m:haproxy.tls.certificate); allow all modern suites.
        // TLS 1.2 at most by default (c2m:haproxy.tls.maxVersion; the seed's HAProxy 1.6 spoke 1.2): a held TLS 1.3 connection costs HAProxy 2.6 +
        // OpenSSL 3.0 ~1.0 KB more (bench:tls-memory, 4000 held requests, 3 runs each: 19.5 KB/conn with
        // TLS 1.3 vs 18.5 with 1.2, spread 0.1; tune.bufsize, tune.ssl.maxrecord, tickets, session cache,
        // RSA vs ECDSA and nbthread 2 changed nothing beyond noise) — ~2 GiB at 2.1M connections.
        `    ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver ${haproxy.tls.maxVersion}`,
        "    tune.ssl.default-dh-param 2048",
        "",
        "defaults",
        "    mode http",
        "    option http-keep-alive",
        ...(input.logTarget ? ["    log global", "    option httplog"] : []),
        `    maxconn ${input.maxconnPerProcess}`,
        `    timeout connect ${t.connectMs}ms`,
        // client/server must outlast the longest pong response (seed: sleep up to 20 min).
        `    timeout client ${t.clientMs}ms`,
        `    timeout server ${t.serverMs}ms`,
        `    timeout queue ${t.queueMs}ms`,
        `    timeout http-request ${t.clientMs}ms`,
        `    timeout http-keep-alive ${t.clientMs}ms`,
        "",
        "frontend stats",
        `    bind ${bindAddress}:"\${${PER_PROCESS_ENV.statsPort}}"`,
        "    stats enable",
        "    stats uri /stats",
        // Scrapes are not requests of the run: keep them out of the request log (before use-service, which ends the rules).
        ...(input.logTarget ? ["    http-request set-log-level silent"] : []),
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "",
        // Every process binds the same frontends: Linux spreads connections over them (SO_REUSEPORT).
        `frontend ${FRONTEND_NAMES.plain}`,
        `    bind ${bindAddress}:${haproxy.plainPort}`,
        `    default_backend ${BACKEND_NAME}`,
        "",
    ];
    if (haproxy.tls.enabled) {
        lines.push(
            `frontend ${FRONTEND_NAMES.tls}`,
            `    bind ${bindAddress}:${haproxy.tlsPort} ssl crt ${input.certPath} alpn http/1.1`,
            `    default_backend ${BACKEND_NAME}`,
            "",
        );
    }
    lines.push(
        `backend ${BACKEND_NAME}`,
        "    balance leastconn",
        "    option httpchk GET /health",
        ...servers.map((s) => `    server ${s.name} ${s.address}:${s.port} check inter 2s fall 2 rise 2`),
        "",
    );
    return lines.join("\n");
}
