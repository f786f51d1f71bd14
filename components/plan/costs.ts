// Memory one connection costs, per part (idle connections, as the seed held them). bench/scale
// measures them and prints its figures; the values below are its measurements.
// Used by the capacity check (refuse what cannot fit) and by the AWS planner.
//
// The runs these values were fitted on (FITTED_ON below): a check of the model counts only on
// runs it was not fitted to, so bench:oom scores it at other memory sizes (384 and 768 MiB; see
// docs/results/figures.md) and says so when asked for a fitting size.
//   kernelPerSocketKB, clientPlainKB, clientTlsKB, backendKB:
//     npm run bench:scale -- --mode plain --conns 100000   and   -- --mode tls --conns 30000
//   kernelChargedPerSocketKB, haproxyPlainKB, HAPROXY_PROCESS_BASE_MIB:
//     npm run bench:oom -- --mode plain --memory-mib 256|512   and   -- --mode tls --memory-mib 256|512
//     (three runs each, 2 December 2026, docs/results/memory.md; their idle LB cgroups set the base)
//   haproxyTlsKB: npm run bench:tls-memory (HAProxy alone, 4,000 held TLS 1.2 requests, 3 runs),
//     then held against bench:oom --mode tls --memory-mib 256 (one of the fitting runs above)
//   haproxyInFlightTlsKB: npm run bench:oom -- --mode tls --memory-mib 256 --rate 400 (651 in flight)
//   haproxyInFlightPlainKB: npm run bench:oom -- --mode plain --memory-mib 512 (12,283 in flight at load 20)

/** Memory sizes (MiB) of the bench:oom runs the costs were fitted on, per mode: not a validation of them. */
export const FITTED_ON = { benchOomMemoryMiB: { plain: [256, 512], tls: [256, 512] } } as const;

export interface PerConnectionCosts {
    /** Kernel memory of one TCP socket on a whole machine (struct sock, file, inode, epoll; buffers of an idle connection). */
    kernelPerSocketKB: number;
    /** The part of it a memory cgroup is charged for: what counts against a local host's limit (the rest is charged to no cgroup). */
    kernelChargedPerSocketKB: number;
    /** HAProxy's own memory per proxied connection. */
    haproxyPlainKB: number;
    haproxyTlsKB: number;
    /**
     * HAProxy's extra memory for a connection it accepted that is not end to end yet (TLS
     * handshake, request on its way to pong): the buffers a held connection has given back.
     */
    haproxyInFlightPlainKB: number;
    haproxyInFlightTlsKB: number;
    /** vegeta (Go net/http client) per open connection: goroutines, buffers, TLS state. */
    clientPlainKB: number;
    clientTlsKB: number;
    /** Node pong server per open request. */
    backendKB: number;
}

export const PER_CONNECTION_COSTS: PerConnectionCosts = {
    // Measured by bench/scale on this kind of machine (2 cores, 24 GB, Debian kernel, HAProxy 2.6,
    // vegeta 12.13, Node 22), middle of a 60 s hold:
    //   plain 100k: kernel 5.0 KB/socket, HAProxy 4.6, vegeta 31.1, pong 9.6 KB/connection
    //   TLS 30k:    kernel 5.0 KB/socket, HAProxy 19.2, vegeta 59.7, pong 8.6 KB/connection
    kernelPerSocketKB: 5.0, // slab + TCP buffer pages per socket, incl. file/inode/epoll objects
    // What a memory cgroup is charged per socket, i.e. what counts against a host's limit. The model
    // used kernelPerSocketKB (5.0) there, 1.1 KB per socket too many: `npm run bench:oom -- --mode
    // plain|tls --memory-mib 256|512` measures the LB host's cgroup kernel + socket memory at the most
    // held 3.8–4.1 KB per socket (all hosts' cgroups: 4.1–4.3), while the machine's Slab rose 5.2 KB
    // per socket in the same runs (5.0 stays the cost on a whole box). Slab objects per socket
    // (/proc/slabinfo): TCP 2368 B + sock_inode_cache 832 + filp 192 + dentry 192 + eventpoll_epi 128 = 3.6 KB.
    kernelChargedPerSocketKB: 3.9,
    // Plain: HAProxy's own memory per held plain connection with the lab's rendered config, several
    // processes: 5.2–5.4 KB (bench:oom, LB cgroup's anonymous memory at the most held, 256 and 512 MiB;
    // the previous session's three 256 MiB runs imply 5.2 with the charged kernel share). It was 4.6
    // (bench/scale's machine-wide figure; bench:tls-memory's one process alone: 4.7): 0.7 KB too few.
    haproxyPlainKB: 5.3,
    // TLS: bench:tls-memory (HAProxy alone, 4000 held requests, 3 runs): 18.5 KB with TLS 1.2, the
    // rendered default since then; 19.5 with TLS 1.3 (bench/scale's 19.2 above, at 30k, was TLS 1.3).
    // Checked by bench:oom at 256 MiB ramped at 150/s (0 in flight at the most held): the LB cgroup's
    // anonymous memory 17.9 KB per held connection (slope 18.0); held 9,036 vs 8,857 predicted (+2.0 %).
    // Ramped at 400/s, 651 handshakes were in flight at the peak (21.3 KB/conn, held 7,946: −10.3 %).
    haproxyTlsKB: 18.5,
    // In flight: a connection HAProxy accepted that is not end to end yet holds its client socket
    // and HAProxy's memory below (bench:oom, the LB's anonymous memory at the most held less held ×
    // the costs above, over the connections then in flight): a TLS handshake holds OpenSSL's
    // read/write buffers, ~34 KB (256 MiB, 651 in flight); a plain request on its way ~1.5 KB (512 MiB,
    // 12,283 in flight on a machine at load 20: held 29,090; this model 27,533 with them, 32,596 without).
    haproxyInFlightPlainKB: 1.5,
    haproxyInFlightTlsKB: 34,
    clientPlainKB: 31.1,
    clientTlsKB: 59.7,
    backendKB: 9.6,
};

/** Sockets an end-to-end connection takes on each side: client 1, HAProxy 2, backend 1. */
export const SOCKETS_PER_CONNECTION = { client: 1, haproxy: 2, backend: 1 } as const;

export type CostRole = keyof typeof SOCKETS_PER_CONNECTION;

/** Where memory is counted: a whole machine (every kernel byte), or a memory cgroup's limit (what it is charged). */
export type MemoryScope = "machine" | "cgroup";

/** Kernel KB per socket in that scope. */
export function kernelKBPerSocket(scope: MemoryScope, c: PerConnectionCosts = PER_CONNECTION_COSTS): number {
    return scope === "cgroup" ? c.kernelChargedPerSocketKB : c.kernelPerSocketKB;
}

/** KB one end-to-end connection costs on a box of this role: its kernel sockets plus its process's own state. */
export function roleKBPerConnection(role: CostRole, tlsShare: number, c: PerConnectionCosts = PER_CONNECTION_COSTS, scope: MemoryScope = "machine"): number {
    const mix = (plain: number, tls: number) => (1 - tlsShare) * plain + tlsShare * tls;
    const own = { haproxy: mix(c.haproxyPlainKB, c.haproxyTlsKB), client: mix(c.clientPlainKB, c.clientTlsKB), backend: c.backendKB }[role];
    return SOCKETS_PER_CONNECTION[role] * kernelKBPerSocket(scope, c) + own;
}

/** KB one connection in flight (accepted, not end to end yet) costs the LB: its client socket and HAProxy's memory for it. */
export function lbInFlightKB(tlsShare: number, c: PerConnectionCosts = PER_CONNECTION_COSTS, scope: MemoryScope = "machine"): number {
    return kernelKBPerSocket(scope, c) + (1 - tlsShare) * c.haproxyInFlightPlainKB + tlsShare * c.haproxyInFlightTlsKB;
}

/** Bytes the whole lab needs for `connections` end-to-end connections, `tlsShare` of them TLS. */
export function labMemoryBytes(connections: number, tlsShare: number, c: PerConnectionCosts = PER_CONNECTION_COSTS): number {
    const roles = Object.keys(SOCKETS_PER_CONNECTION) as CostRole[];
    const kb = connections * roles.reduce((sum, role) => sum + roleKBPerConnection(role, tlsShare, c), 0);
    return Math.ceil(kb * 1024);
}

/**
 * Memory one HAProxy process takes before it holds any connection (bench:oom, idle LB host's
 * cgroup, HAProxy 2.6 + OpenSSL 3.0): 47.2 MiB for 5 processes, 85.5 for 9, 28.9 for 3 (incl. the
 * host's sshd, < 1 MiB) → ~9.5 MiB each. Negligible on an EC2 box (one process), not on a host of
 * a few hundred MiB, nor locally where the fd ceiling forces one process per ~9.8k connections.
 */
export const HAPROXY_PROCESS_BASE_MIB = 9.5;

/**
 * End-to-end connections a load balancer with `memoryBytes` holds before it runs out: what its
 * `processes` HAProxy processes and the connections still `inFlight` (handshakes, requests on
 * their way) leave, over what one held connection costs there (2 kernel sockets + HAProxy's own
 * state). `scope` "cgroup" for a host limited by a memory cgroup (local), "machine" for a box.
 * bench:oom holds it against the connections held when the kernel OOM-killed HAProxy in a host of that memory.
 */
export function lbConnectionsInMemory(
    memoryBytes: number,
    tlsShare: number,
    processes = 1,
    c: PerConnectionCosts = PER_CONNECTION_COSTS,
    o: { scope?: MemoryScope; inFlight?: number } = {},
): number {
    const free = memoryBytes - processes * HAPROXY_PROCESS_BASE_MIB * 1024 * 1024 - (o.inFlight ?? 0) * lbInFlightKB(tlsShare, c, o.scope ?? "machine") * 1024;
    return Math.max(0, Math.floor(free / 1024 / roleKBPerConnection("haproxy", tlsShare, c, o.scope ?? "machine")));
}
