// Memory one connection costs, per part. Starting values are DESIGN.md's measurements on this
// kind of machine (idle connections); bench/scale measures them again and prints its figures.
// Used by the capacity check (refuse what cannot fit) and by the AWS planner.

export interface PerConnectionCosts {
    /** Kernel memory of one TCP socket (struct sock, buffers of an idle connection). */
    kernelPerSocketKB: number;
    /** HAProxy's own memory per proxied connection. */
    haproxyPlainKB: number;
    haproxyTlsKB: number;
    /** vegeta (Go net/http client) per open connection: goroutines, buffers, TLS state. */
    clientPlainKB: number;
    clientTlsKB: number;
    /** Node pong server per open request. */
    backendKB: number;
}

export const PER_CONNECTION_COSTS: PerConnectionCosts = {
    kernelPerSocketKB: 3.5,  // DESIGN.md: 3.2–3.8 KB per TCP socket
    haproxyPlainKB: 3.5,     // DESIGN.md: HAProxy 2.6 +3.5 KB plain
    haproxyTlsKB: 19,        // DESIGN.md: +19 KB TLS
    clientPlainKB: 24,       // estimate until bench/scale measures it: 2 goroutines + 2×4 KB bufio + request
    clientTlsKB: 48,         // estimate: plus crypto/tls conn state and record buffers
    backendKB: 6,            // estimate: Node http socket + request/response objects
};

/** Sockets an end-to-end connection takes on each side: client 1, HAProxy 2, backend 1. */
export const SOCKETS_PER_CONNECTION = { client: 1, haproxy: 2, backend: 1 } as const;

/** Bytes the whole lab needs for `connections` end-to-end connections, `tlsShare` of them TLS. */
export function labMemoryBytes(connections: number, tlsShare: number, c: PerConnectionCosts = PER_CONNECTION_COSTS): number {
    const kb = connections * (
        4 * c.kernelPerSocketKB
        + (1 - tlsShare) * (c.haproxyPlainKB + c.clientPlainKB)
        + tlsShare * (c.haproxyTlsKB + c.clientTlsKB)
        + c.backendKB);
    return Math.ceil(kb * 1024);
}

/** Bytes the load-balancer box alone needs (its two sockets per connection plus HAProxy). */
export function lbMemoryBytes(connections: number, tlsShare: number, c: PerConnectionCosts = PER_CONNECTION_COSTS): number {
    const kb = connections * (2 * c.kernelPerSocketKB + (1 - tlsShare) * c.haproxyPlainKB + tlsShare * c.haproxyTlsKB);
    return Math.ceil(kb * 1024);
}
