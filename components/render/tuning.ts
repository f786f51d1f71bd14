// Kernel and process limits per role. Pure: returns the values and why; the tuning role
// applies them and reads them back.
import type { Role } from "../types.ts";

export interface Setting { key: string; value: string; why: string }

export interface TuningPlan {
    /** net.* keys: per network namespace, so per host even on the local platform. */
    sysctls: Setting[];
    /** Open files each of the role's processes runs with (`ulimit -n`). */
    nofile: number;
}

export interface TuningInput {
    role: Role;
    /** Connections one process of this role must hold at once. */
    connectionsPerProcess: number;
    /** The host's per-process ceiling (`ulimit -Hn`); never asked for more. */
    nofileCeiling: number;
}

/** Open files a process needs: one per socket (two for a proxy) plus slack for logs/listeners. */
export function nofileFor(role: Role, connectionsPerProcess: number): number {
    const socketsPerConnection = role === "haproxy" ? 2 : 1;
    return socketsPerConnection * connectionsPerProcess + 1024;
}

export function renderTuning(input: TuningInput): TuningPlan {
    const wanted = nofileFor(input.role, input.connectionsPerProcess);
    if (wanted > input.nofileCeiling) {
        throw new Error(`${input.role}: ${input.connectionsPerProcess} connections per process need ` +
            `${wanted} open files, the host allows ${input.nofileCeiling} per process`);
    }
    const sysctls: Setting[] = [
        { key: "net.ipv4.ip_local_port_range", value: "1024\t65535", why: "most ephemeral ports per source address (the seed's ~63k per IP)" },
        { key: "net.ipv4.tcp_tw_reuse", value: "1", why: "reuse TIME_WAIT ports for new outgoing connections during ramps" },
        { key: "net.ipv4.tcp_fin_timeout", value: "15", why: "free closed sockets sooner than the 60 s default" },
        { key: "net.core.somaxconn", value: "65535", why: "accept queue deep enough for connection bursts" },
        { key: "net.ipv4.tcp_max_syn_backlog", value: "65535", why: "SYN queue deep enough for connection bursts" },
    ];
    return { sysctls, nofile: Math.min(input.nofileCeiling, Math.max(wanted, 4096)) };
}

/** Shell lines that apply the plan's sysctls. Values are fixed strings from renderTuning. */
export function sysctlApplyScript(plan: TuningPlan): string {
    return plan.sysctls.map((s) => `sysctl -q -w '${s.key}=${s.value}'`).join("\n");
}

/**
 * Shell that reads every value back and fails with "key: wanted X, host has Y" on a
 * mismatch, so a host that silently ignored a setting fails the update.
 */
export function tuningVerifyScript(plan: TuningPlan): string {
    const checks = plan.sysctls.map((s) => `check '${s.key}' '${s.value.split(/\s+/).join(" ")}'`);
    return [
        "fail=0",
        `check() { got=$(sysctl -n "$1" 2>/dev/null | tr -s ' \t' ' '); [ "$got" = "$2" ] || { echo "$1: wanted $2, host has \${got:-<missing>}" >&2; fail=1; }; }`,
        ...checks,
        `got=$(ulimit -n ${plan.nofile} 2>/dev/null && ulimit -n); [ "$got" = "${plan.nofile}" ] || { echo "nofile: wanted ${plan.nofile}, host allows $(ulimit -Hn)" >&2; fail=1; }`,
        "exit $fail",
    ].join("\n");
}
