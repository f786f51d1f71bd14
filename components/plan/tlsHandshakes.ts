// How fast HAProxy completes full TLS handshakes, per certificate key: the pace at which TLS
// connections can ramp (the planner's tls_ramp_s). The server's cost of a full TLS 1.2 handshake
// is its signature (ECDSA or RSA), the ECDHE key exchange and OpenSSL's own per-handshake work;
// the key decides the first, so the rate is the key's own.
import type { Certificate } from "../config.ts";

/**
 * Full TLS 1.2 handshakes per second that one core of HAProxy completes, by certificate key:
 * medians of 3 rounds of `node_modules/.bin/node bench/tlsHandshakes.ts --seconds 8 --rounds 3
 * --clients 4` (HAProxy itself, one thread pinned to CPU 0, 4 `openssl s_time -new` clients on
 * CPU 1; handshakes / HAProxy's own CPU seconds) on the development machine (2 AMD EPYC vCPUs,
 * HAProxy 2.6.12, OpenSSL 3.0.19, Debian 12) on MEASURED_AT, at load 5–7 (other tests running):
 *   ecdsa-p256 2,486 (rounds 2,486 / 2,258 / 2,741), ecdsa-p384 889 (889 / 942 / 740),
 *   rsa-2048 1,317 (1,317 / 1,696 / 1,143).
 * A quieter machine completes more of each; the ratio is what the key changes: RSA-2048 ≈ 0.53×
 * P-256, as in DESIGN.md's earlier 3.8k vs 2.0k/s per core. `openssl speed -seconds 3` on the same
 * machine says why: RSA-2048 sign 2,965–3,652/s (~0.3 ms each) vs ECDSA P-256 sign
 * 45,031–47,959/s (~0.02 ms), X25519 31.0k–32.0k/s; the rest of a handshake (OpenSSL 3.0's own
 * per-handshake work, ECDHE, I/O; ~0.4 ms here) is common to both keys.
 */
export const TLS_HANDSHAKES_PER_CORE_PER_S: Record<Certificate, number> = {
    "ecdsa-p256": 2486,
    "ecdsa-p384": 889,
    "rsa-2048": 1317,
};

/** When the figures above were measured. */
export const MEASURED_AT = "2026-12-02, bench/tlsHandshakes.ts";

/** Handshakes per core per second for a lab's certificate (the default key when none is given). */
export function handshakesPerCore(certificate: Certificate = "ecdsa-p256"): number {
    return TLS_HANDSHAKES_PER_CORE_PER_S[certificate];
}

/** Seconds for `lbCores` cores of HAProxy to complete `handshakes` full handshakes with this key (rounded up). */
export function tlsRampSeconds(handshakes: number, lbCores: number, certificate?: Certificate): number {
    if (!(lbCores > 0)) throw new Error(`the LB's cores must be > 0, got ${lbCores}`);
    return Math.ceil(handshakes / (handshakesPerCore(certificate) * lbCores));
}
