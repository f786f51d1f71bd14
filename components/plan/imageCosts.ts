// The TLS terms of the planner per host image (components/images.ts): HAProxy's own memory per held
// TLS connection and its full handshakes per core, as each image's HAProxy and TLS library give them.
// Every other term (kernel sockets, vegeta, pong) is the machine's and the same for all images.
// Measured on one machine in one session, three runs each (docs/results/tls-stacks.md, with the load):
//   npm run bench:tls-memory -- --image <image> --n 4000 --runs 3 --variants default,tls1.3
//   node_modules/.bin/node bench/tlsHandshakes.ts --image <image> --rounds 3 --seconds 8
// `machine` keeps costs.ts's and tlsHandshakes.ts's own figures (this machine's HAProxy 2.6, OpenSSL 3.0.19). Pure.
import type { Certificate } from "../config.ts";
import type { ImageName } from "../images.ts";
import { PER_CONNECTION_COSTS, type PerConnectionCosts } from "./costs.ts";
import { TLS_HANDSHAKES_PER_CORE_PER_S } from "./tlsHandshakes.ts";
import { lbHeadroom, type LbHeadroom } from "./planner.ts";

export interface ImageTlsTerms {
    /** What the image runs, as its `haproxy -vv` says. */
    stack: string;
    /** HAProxy's own memory per held TLS 1.2 connection (the lab's rendered default), KB; and with TLS 1.3. */
    haproxyTlsKB: number;
    haproxyTls13KB: number;
    /** Full TLS 1.2 handshakes per second of one HAProxy core (one thread), by key: medians of 3 rounds. */
    handshakesPerCore: Record<Certificate, number>;
    /** When and at what machine load (1-minute average over the runs). */
    measured: string;
}

export const IMAGE_TLS_TERMS: Partial<Record<ImageName, ImageTlsTerms>> = {
    machine: {
        stack: "HAProxy 2.6.12, OpenSSL 3.0.19 (this machine's packages)",
        haproxyTlsKB: PER_CONNECTION_COSTS.haproxyTlsKB,
        haproxyTls13KB: 19.5,
        handshakesPerCore: TLS_HANDSHAKES_PER_CORE_PER_S,
        measured: "2026-12-02 (costs.ts, tlsHandshakes.ts)",
    },
    "debian-12": {
        stack: "HAProxy 2.6.12-1+deb12u4, OpenSSL 3.0.22",
        haproxyTlsKB: 18.5,
        haproxyTls13KB: 19.4,
        // The run back to back with debian-12-emu's (23:15–23:17 UTC); the first, at load 5–9, gave 3,038 / 1,037 / 1,610.
        handshakesPerCore: { "ecdsa-p256": 3532, "ecdsa-p384": 1170, "rsa-2048": 1832 },
        measured: "2026-12-07, memory at load 1.4–2.8, handshakes at load 2.0–3.5",
    },
    "debian-13": {
        stack: "HAProxy 3.0.11-1+deb13u5, OpenSSL 3.5.10",
        haproxyTlsKB: 28.1,
        haproxyTls13KB: 35.5,
        handshakesPerCore: { "ecdsa-p256": 2976, "ecdsa-p384": 1865, "rsa-2048": 1681 },
        measured: "2026-12-07, memory at load 0.7–1.1, handshakes at load 3.6–6.0",
    },
    "debian-12-emu": {
        stack: "HAProxy 3.0.11 (upstream tarball, USE_PTHREAD_EMULATION=1), OpenSSL 3.0.22",
        haproxyTlsKB: 18.3,
        haproxyTls13KB: 19.2,
        // Back to back with debian-12's (23:16–23:17 UTC); its first run (load 3.3–4.1) gave 3,574 / 1,146 / 1,848.
        handshakesPerCore: { "ecdsa-p256": 3356, "ecdsa-p384": 1127, "rsa-2048": 1875 },
        measured: "2026-12-07, memory at load 1.8–4.6, handshakes at load 3.5–4.2",
    },
};

/** The planner's per-connection costs with an image's TLS term; unmeasured images have none (undefined). */
export function costsForImage(
    image: ImageName,
    maxVersion: "TLSv1.2" | "TLSv1.3" = "TLSv1.2",
    base: PerConnectionCosts = PER_CONNECTION_COSTS,
): PerConnectionCosts | undefined {
    const t = IMAGE_TLS_TERMS[image];
    if (!t) return undefined;
    return { ...base, haproxyTlsKB: maxVersion === "TLSv1.3" ? t.haproxyTls13KB : t.haproxyTlsKB };
}

export interface ImageHeadroom {
    image: ImageName;
    stack: string;
    headroom: LbHeadroom;
    handshakes_per_core_s: number;
}

/** Every measured image's LB headroom for the same target and usable memory, most headroom first. Pure. */
export function imagesByHeadroom(
    conns: number,
    tlsShare: number,
    usableGiB: number,
    certificate: Certificate = "ecdsa-p256",
    maxVersion: "TLSv1.2" | "TLSv1.3" = "TLSv1.2",
): ImageHeadroom[] {
    return (Object.keys(IMAGE_TLS_TERMS) as ImageName[])
        .map((image) => ({
            image,
            stack: IMAGE_TLS_TERMS[image]!.stack,
            headroom: lbHeadroom(conns, tlsShare, usableGiB, costsForImage(image, maxVersion)!),
            handshakes_per_core_s: IMAGE_TLS_TERMS[image]!.handshakesPerCore[certificate],
        }))
        .sort((a, b) => b.headroom.headroom_pct - a.headroom.headroom_pct || b.handshakes_per_core_s - a.handshakes_per_core_s);
}
