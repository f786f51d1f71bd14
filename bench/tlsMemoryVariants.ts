// bench/tlsMemory's variants: the knobs of HAProxy's TLS memory it compares (`--variants`), each a
// few lines on top of the lab's rendered haproxy.cfg, and variants joined by `+`. Pure.
import type { Certificate } from "../components/config.ts";

export interface Variant {
    name: string;
    /** Extra lines in `global`. */
    global?: string[];
    /** Extra options on the TLS bind line. */
    bind?: string;
    certificate?: Certificate;
    threads?: number;
    /** Open the connections to the plain frontend instead (no TLS): the reference that isolates TLS's share. */
    plain?: boolean;
}

export const VARIANTS: Variant[] = [
    { name: "default" },
    { name: "bufsize-8192", global: ["tune.bufsize 8192"] },
    { name: "bufsize-4096", global: ["tune.bufsize 4096"] },
    { name: "maxrecord-1400", global: ["tune.ssl.maxrecord 1400"] },
    // The rendered default is TLS 1.2 only (it was 1.2+, i.e. 1.3 negotiated); these two pin either.
    { name: "tls1.2", bind: "ssl-max-ver TLSv1.2" },
    { name: "tls1.3", bind: "ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3" },
    { name: "no-tls-tickets", bind: "no-tls-tickets" },
    { name: "cachesize-0", global: ["tune.ssl.cachesize 0"] },
    { name: "rsa-2048", certificate: "rsa-2048" },
    { name: "nbthread-2", threads: 2 },
    { name: "plain", plain: true },
];

/** The variant `--variants` names: a known one, or several known ones joined by `+`. */
export function variantNamed(name: string): Variant {
    return VARIANTS.find((v) => v.name === name) ?? parseCustom(name);
}

/** "a+b": the knobs of known variants a and b together (e.g. bufsize-8192+no-tls-tickets). */
function parseCustom(name: string): Variant {
    const parts = name.split("+").map((p) => VARIANTS.find((v) => v.name === p));
    if (parts.length < 2 || parts.some((p) => p === undefined)) {
        throw new Error(`unknown variant ${name}; known: ${VARIANTS.map((v) => v.name).join(", ")}, or several joined by +`);
    }
    const vs = parts as Variant[];
    const certificate = vs.find((v) => v.certificate)?.certificate;
    const threads = vs.find((v) => v.threads)?.threads;
    const bind = vs
        .filter((v) => v.bind)
        .map((v) => v.bind)
        .join(" ");
    return {
        name,
        global: vs.flatMap((v) => v.global ?? []),
        ...(bind ? { bind } : {}),
        ...(certificate ? { certificate } : {}),
        ...(threads ? { threads } : {}),
    };
}

/** The lab's rendered haproxy.cfg with the variant's knobs on top: its `global` lines and its TLS bind options. */
export function withVariant(cfg: string, v: Variant): string {
    let out = cfg;
    if (v.global?.length) out = out.replace(/^global\n/, `global\n${v.global.map((l) => `    ${l}\n`).join("")}`);
    if (v.bind) out = out.replace(/(bind \S+ ssl crt \S+ alpn http\/1\.1)/, `$1 ${v.bind}`);
    return out;
}
