// Shell that starts the pong servers of one backend host (one Node process per port, as
// the seed ran 10 per host from 8282) and waits until each answers; and the one that stops them. Pure.

export interface PongLaunch {
    workDir: string;
    address: string;
    ports: number[];
    nofile: number;
    requestTimeoutMs: number;
    /** Capacity limit per process (pong --max-concurrent / --service-time-ms); 0 or absent = none. */
    maxConcurrent?: number;
    serviceTimeMs?: number;
}

export function pongStartScript(l: PongLaunch): string {
    const dir = `${l.workDir}/pong`;
    const limit = (l.maxConcurrent ? ` --max-concurrent ${l.maxConcurrent}` : "") + (l.serviceTimeMs ? ` --service-time-ms ${l.serviceTimeMs}` : "");
    return [
        "set -eu",
        `mkdir -p ${dir}`,
        `cat > ${dir}/pong.ts`,
        `ulimit -n ${l.nofile}`,
        `: > ${dir}/pids`,
        `for port in ${l.ports.join(" ")}; do`,
        `  setsid node ${dir}/pong.ts $port --host ${l.address} --request-timeout-ms ${l.requestTimeoutMs}${limit} </dev/null >${dir}/pong-$port.log 2>&1 &`,
        `  echo $! >> ${dir}/pids`,
        "  pid[$port]=$!",
        "done",
        // Up to 10 s per port; a pong that has exited is reported at once, not after the 10 s.
        `for port in ${l.ports.join(" ")}; do`,
        `  for i in $(seq 1 100); do curl -fsS -o /dev/null http://${l.address}:$port/health 2>/dev/null && continue 2; kill -0 \${pid[$port]} 2>/dev/null || break; sleep 0.1; done`,
        `  echo "pong on port $port did not answer; its log:" >&2; cat ${dir}/pong-$port.log >&2; exit 1`,
        "done",
        `wc -l < ${dir}/pids`,
    ].join("\n");
}

export function pongStopScript(workDir: string): string {
    const dir = `${workDir}/pong`;
    return [
        `for pid in $(cat ${dir}/pids 2>/dev/null); do kill $pid 2>/dev/null || true; done`,
        "sleep 0.5",
        `for pid in $(cat ${dir}/pids 2>/dev/null); do kill -KILL $pid 2>/dev/null || true; done`,
        `rm -rf ${dir}`,
    ].join("\n");
}

export function pongPorts(basePort: number, count: number): number[] {
    return Array.from({ length: count }, (_, i) => basePort + i);
}
