// Shell that installs a rendered haproxy.cfg, validates it with `haproxy -c` and starts or
// reloads the HAProxy processes; and the one that stops them. Pure.
import type { Certificate } from "../config.ts";
import { PER_PROCESS_ENV } from "./haproxyConfig.ts";

export interface HaproxyPaths {
    dir: string;
    cfg: string;
    pem: string;
}

export function haproxyPaths(workDir: string): HaproxyPaths {
    const dir = `${workDir}/haproxy`;
    return { dir, cfg: `${dir}/haproxy.cfg`, pem: `${dir}/lab.pem` };
}

export const pidFile = (p: HaproxyPaths, i: number | string) => `${p.dir}/haproxy-${i}.pid`;
export const adminSocket = (p: HaproxyPaths, i: number | string) => `${p.dir}/admin-${i}.sock`;

/** OpenSSL's -newkey arguments for each certificate key. */
const NEWKEY: Record<Certificate, string> = {
    "ecdsa-p256": "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1",
    "ecdsa-p384": "-newkey ec -pkeyopt ec_paramgen_curve:secp384r1",
    "rsa-2048": "-newkey rsa:2048",
};

/**
 * Where a certificate's files are: the default ecdsa-p256 at lab.pem (as before the choice
 * existed), any other key at lab-<certificate>.pem. A different key is a different path in
 * haproxy.cfg, so changing it changes the config and HAProxy reloads onto the new certificate.
 */
export function certificatePaths(p: HaproxyPaths, certificate: Certificate): { key: string; crt: string; pem: string } {
    const base = certificate === "ecdsa-p256" ? `${p.dir}/lab` : `${p.dir}/lab-${certificate}`;
    return { key: `${base}.key`, crt: `${base}.crt`, pem: `${base}.pem` };
}

/** Self-signed certificate (ECDSA P-256/P-384 or RSA-2048) for the TLS frontend, made once per host and key. */
export function certificateScript(p: HaproxyPaths, certificate: Certificate, commonName: string): string {
    const f = certificatePaths(p, certificate);
    return [
        "set -eu",
        `mkdir -p ${p.dir}`,
        `openssl req -x509 ${NEWKEY[certificate]} -nodes -days 30` + ` -subj /CN=${commonName} -keyout ${f.key} -out ${f.crt} 2>/dev/null`,
        `cat ${f.crt} ${f.key} > ${f.pem}`,
        `chmod 600 ${f.pem} ${f.key}`,
    ].join("\n");
}

export interface HaproxyLaunch {
    processes: number;
    statsPort: number;
    nofile: number;
}

/**
 * Reads the new config on stdin. A config `haproxy -c` rejects is never installed: the
 * running processes keep serving. Running processes are reloaded (-sf), not restarted.
 * Processes beyond the wanted count (after a scale-down) are stopped.
 */
export function haproxyStartScript(p: HaproxyPaths, l: HaproxyLaunch): string {
    const env = (i: string) => `${PER_PROCESS_ENV.statsPort}=$((${l.statsPort} + ${i})) ${PER_PROCESS_ENV.adminSocket}=${adminSocket(p, i)}`;
    return [
        "set -eu",
        `mkdir -p ${p.dir}`,
        `cat > ${p.cfg}.new`,
        `if ! out=$(env ${env("0")} haproxy -c -f ${p.cfg}.new 2>&1); then echo "haproxy -c rejected the new config:" >&2; echo "$out" >&2; rm -f ${p.cfg}.new; exit 1; fi`,
        `mv ${p.cfg}.new ${p.cfg}`,
        `ulimit -n ${l.nofile}`,
        `for i in $(seq 0 ${l.processes - 1}); do`,
        `  old=$(cat ${pidFile(p, "$i")} 2>/dev/null || true)`,
        `  if [ -n "$old" ] && kill -0 $old 2>/dev/null; then reload="-sf $old"; else reload=""; fi`,
        `  env ${env("$i")} haproxy -D -f ${p.cfg} -p ${pidFile(p, "$i")} $reload </dev/null >/dev/null 2>&1`,
        "done",
        `for f in ${p.dir}/haproxy-*.pid; do i=\${f##*/haproxy-}; i=\${i%.pid}; [ "$i" -ge ${l.processes} ] && { kill $(cat "$f") 2>/dev/null || true; rm -f "$f"; }; done`,
        "sleep 0.3",
        `for i in $(seq 0 ${l.processes - 1}); do`,
        `  pid=$(head -n1 ${pidFile(p, "$i")})`,
        `  kill -0 $pid || { echo "haproxy process $i exited right after start" >&2; exit 1; }`,
        `  limit=$(awk '/Max open files/ {print $4}' /proc/$pid/limits)`,
        `  [ "$limit" = "${l.nofile}" ] || { echo "haproxy process $i runs with nofile $limit, wanted ${l.nofile}" >&2; exit 1; }`,
        "done",
        `cat ${p.dir}/haproxy-*.pid | tr '\\n' ' '`,
    ].join("\n");
}

export function haproxyStopScript(p: HaproxyPaths): string {
    return [
        `pids=$(cat ${p.dir}/haproxy-*.pid 2>/dev/null || true)`,
        `[ -n "$pids" ] && kill $pids 2>/dev/null || true`,
        `for i in $(seq 1 30); do pgrep -f '^haproxy -D -f ${p.cfg}' >/dev/null || break; sleep 0.2; done`,
        `pkill -KILL -f '^haproxy -D -f ${p.cfg}' 2>/dev/null || true`,
        `rm -f ${p.dir}/haproxy-*.pid ${p.dir}/admin-*.sock`,
    ].join("\n");
}
