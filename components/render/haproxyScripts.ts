// Shell that installs a rendered haproxy.cfg, validates it with `haproxy -c` and starts or
// reloads HAProxy; and the one that stops it. Pure.

export interface HaproxyPaths { dir: string; cfg: string; pem: string; pid: string; socket: string }

export function haproxyPaths(workDir: string): HaproxyPaths {
    const dir = `${workDir}/haproxy`;
    return { dir, cfg: `${dir}/haproxy.cfg`, pem: `${dir}/lab.pem`, pid: `${dir}/haproxy.pid`, socket: `${dir}/admin.sock` };
}

/** Self-signed ECDSA certificate for the TLS frontend, made once per host. */
export function certificateScript(p: HaproxyPaths, curve: "P-256" | "P-384", commonName: string): string {
    const opensslCurve = curve === "P-256" ? "prime256v1" : "secp384r1";
    return [
        "set -eu",
        `mkdir -p ${p.dir}`,
        `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:${opensslCurve} -nodes -days 30` +
            ` -subj /CN=${commonName} -keyout ${p.dir}/lab.key -out ${p.dir}/lab.crt 2>/dev/null`,
        `cat ${p.dir}/lab.crt ${p.dir}/lab.key > ${p.pem}`,
        `chmod 600 ${p.pem} ${p.dir}/lab.key`,
    ].join("\n");
}

/**
 * Reads the new config on stdin. A config `haproxy -c` rejects is never installed: the
 * running HAProxy keeps serving. A running HAProxy is reloaded (-sf), not restarted.
 */
export function haproxyStartScript(p: HaproxyPaths, nofile: number): string {
    return [
        "set -eu",
        `mkdir -p ${p.dir}`,
        `cat > ${p.cfg}.new`,
        `if ! out=$(haproxy -c -q -f ${p.cfg}.new 2>&1); then echo "haproxy -c rejected the new config:" >&2; echo "$out" >&2; rm -f ${p.cfg}.new; exit 1; fi`,
        `mv ${p.cfg}.new ${p.cfg}`,
        `ulimit -n ${nofile}`,
        `old=$(cat ${p.pid} 2>/dev/null || true)`,
        `if [ -n "$old" ] && kill -0 $old 2>/dev/null; then`,
        `  haproxy -D -f ${p.cfg} -p ${p.pid} -sf $old </dev/null >/dev/null 2>&1`,
        "else",
        `  haproxy -D -f ${p.cfg} -p ${p.pid} </dev/null >/dev/null 2>&1`,
        "fi",
        "sleep 0.3",
        `pid=$(head -n1 ${p.pid})`,
        `kill -0 $pid || { echo "haproxy exited right after start" >&2; exit 1; }`,
        `limit=$(awk '/Max open files/ {print $4}' /proc/$pid/limits)`,
        `[ "$limit" = "${nofile}" ] || { echo "haproxy runs with nofile $limit, wanted ${nofile}" >&2; exit 1; }`,
        "echo $pid",
    ].join("\n");
}

export function haproxyStopScript(p: HaproxyPaths): string {
    return [
        `for pid in $(cat ${p.pid} 2>/dev/null); do kill $pid 2>/dev/null || true; done`,
        `for i in $(seq 1 30); do pgrep -f '^haproxy -D -f ${p.cfg}' >/dev/null || break; sleep 0.2; done`,
        `pkill -KILL -f '^haproxy -D -f ${p.cfg}' 2>/dev/null || true`,
        `rm -f ${p.pid}`,
    ].join("\n");
}
