// bench/tlsHandshakes: HAProxy's full TLS handshakes per second of its own CPU, per certificate
// key (the planner's TLS ramp pace, components/plan/tlsHandshakes.ts). Loopback only: one
// HAProxy (one thread, pinned to the first CPU) with one TLS frontend per key, certificates made
// as the lab makes them (certificateScript), TLS 1.2 as the lab serves it; `openssl s_time -new`
// (a full handshake per connection, no resumption; several at once, so HAProxy handles more than
// one handshake per wake-up as under load) pinned to another CPU drives it. The figure
// is handshakes / HAProxy's CPU seconds (utime + stime from /proc) over each round: what one core
// of HAProxy does, whatever the client or the machine's other load leave it.
// Then, per key, p99 latency at a fixed rate (`--rate`, new TLS connections/s, one request each:
// vegeta -keepalive=false on the client CPU, for `--rate-seconds`): what a client waits on an LB
// that is not saturated. `--image debian-13` runs HAProxy from a host image (components/images.ts).
//   node_modules/.bin/node bench/tlsHandshakes.ts [--seconds 8] [--rounds 3] [--clients 4] [--port 18443] [--image machine|debian-12|debian-13|…] [--rate 500] [--rate-seconds 10] [--threads 1]
// `--threads 2`: HAProxy with nbthread 2 on every CPU, where OpenSSL 3.0's locks cost threaded handshakes.
// Prints one line per round and key; the last line is one JSON object (median per key).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { certificatePaths, certificateScript, type HaproxyPaths } from "../components/render/haproxyScripts.ts";
import { CERTIFICATES, type Certificate } from "../components/config.ts";
import { onlineCpus } from "../components/platform/local/limits.ts";
import { haproxyRunner, haproxyVersions } from "./tlsMemory.ts";

/** p99 (ms) of `vegeta report -type=json`'s latencies, and its success ratio. Pure. */
export function vegetaP99(reportJson: string): { p99Ms: number; success: number; requests: number } {
    const r = JSON.parse(reportJson) as { latencies: { "99th": number }; success: number; requests: number };
    return { p99Ms: Math.round(r.latencies["99th"] / 1e4) / 100, success: r.success, requests: r.requests };
}

/** `vegeta attack` at `rate` new TLS connections/s (no keep-alive) on `cpu`; its JSON report. */
function fixedRate(cpu: number, port: number, rate: number, seconds: number, dir: string, name: string): Promise<string> {
    const bin = join(dir, `${name}.bin`);
    return new Promise((resolve, reject) => {
        const child = spawn(
            "sh",
            [
                "-c",
                `echo "GET https://127.0.0.1:${port}/" | taskset -c ${cpu} vegeta attack -rate ${rate} -duration ${seconds}s -keepalive=false -insecure -timeout 10s > ${bin} && vegeta report -type=json ${bin}`,
            ],
            { stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "",
            err = "";
        child.stdout.on("data", (d) => {
            out += d;
        });
        child.stderr.on("data", (d) => {
            err += d;
        });
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`vegeta at ${rate}/s on port ${port} exited ${code}: ${err.slice(-300)}`))));
    });
}

/** The cipher suite the lab's clients (Go's vegeta) negotiate with each key under TLS 1.2. */
const CIPHER: Record<Certificate, string> = {
    "ecdsa-p256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ecdsa-p384": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "rsa-2048": "ECDHE-RSA-AES128-GCM-SHA256",
};

function cpuSeconds(pid: number): number {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
        .replace(/^.*\) /, "")
        .split(" ");
    const ticks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
    return (Number(fields[11]) + Number(fields[12])) / ticks; // utime, stime (fields 14 and 15 of stat)
}

/** One `openssl s_time -new` client (a full handshake per connection) for `seconds`; its output. */
function sTime(cpu: number, port: number, seconds: number, cipher: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(
            "taskset",
            ["-c", String(cpu), "openssl", "s_time", "-connect", `127.0.0.1:${port}`, "-new", "-time", String(seconds), "-cipher", cipher],
            { stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        child.stdout.on("data", (d) => {
            out += d;
        });
        child.stderr.on("data", (d) => {
            out += d;
        });
        child.on("error", reject);
        child.on("close", () => resolve(out));
    });
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            seconds: { type: "string", default: "8" },
            rounds: { type: "string", default: "3" },
            port: { type: "string", default: "18443" },
            clients: { type: "string", default: "4" },
            image: { type: "string", default: "machine" },
            rate: { type: "string", default: "500" },
            "rate-seconds": { type: "string", default: "10" },
            threads: { type: "string", default: "1" },
        },
    });
    // --threads N: HAProxy with nbthread N on every CPU (not pinned to one), clients on every CPU too:
    // where OpenSSL 3.0's locking costs threaded handshakes CPU (handshakes / HAProxy's CPU seconds falls).
    const threads = Number(values.threads);
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64)) throw new Error("--threads must be a whole number 1..64");
    const rate = Number(values.rate),
        rateSeconds = Number(values["rate-seconds"]);
    if (!(Number.isInteger(rate) && rate >= 0) || !(rateSeconds > 0))
        throw new Error("--rate must be a whole number ≥ 0 (0: no fixed-rate phase), --rate-seconds > 0");
    haproxyRunner(values.image, "/nonexistent"); // an unknown or unbuilt image is refused before anything starts
    const clients = Number(values.clients);
    if (!(Number.isInteger(clients) && clients >= 1 && clients <= 64)) throw new Error("--clients must be a whole number 1..64");
    const seconds = Number(values.seconds);
    const rounds = Number(values.rounds);
    const port = Number(values.port);
    if (!(seconds > 0) || !(Number.isInteger(rounds) && rounds >= 1) || !(Number.isInteger(port) && port > 1024 && port + CERTIFICATES.length < 65536)) {
        throw new Error("--seconds must be > 0, --rounds a whole number ≥ 1, --port a free port above 1024");
    }
    const cpus = onlineCpus();
    const [lbCpu, clientCpu] = [cpus[0], cpus[1] ?? cpus[0]];
    const dir = mkdtempSync(join(tmpdir(), "c2m-handshakes-"));
    const runner = haproxyRunner(values.image, dir);
    const paths: HaproxyPaths = { dir, cfg: join(dir, "haproxy.cfg"), pem: join(dir, "lab.pem") };
    const ports = Object.fromEntries(CERTIFICATES.map((c, i) => [c, port + i])) as Record<Certificate, number>;
    let pid: number | undefined;
    try {
        for (const c of CERTIFICATES) {
            const r = spawnSync("sh", ["-c", certificateScript(paths, c, "bench.lab")], { encoding: "utf8" });
            if (r.status !== 0) throw new Error(`certificate ${c}: ${r.stderr}`);
        }
        writeFileSync(
            paths.cfg,
            [
                "global",
                `    nbthread ${threads}`,
                "    ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2",
                "    tune.ssl.default-dh-param 2048",
                "defaults",
                "    mode http",
                "    timeout client 10s",
                "    timeout connect 5s",
                "    timeout server 10s",
                ...CERTIFICATES.flatMap((c) => [
                    `frontend tls-${c}`,
                    `    bind 127.0.0.1:${ports[c]} ssl crt ${certificatePaths(paths, c).pem} alpn http/1.1`,
                    "    http-request return status 200",
                ]),
            ].join("\n") + "\n",
        );
        const versions = haproxyVersions(runner);
        const lbCpus = threads > 1 ? cpus.join(",") : String(lbCpu);
        const child = spawn("taskset", ["-c", lbCpus, ...runner(["haproxy", "-db", "-f", paths.cfg])], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        child.stderr.on("data", (d) => {
            err += d;
        });
        pid = child.pid;
        await new Promise((r) => setTimeout(r, 500));
        if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${err}`);
        const results: Record<string, number[]> = {};
        console.log(`image ${values.image}: HAProxy ${versions.haproxy}, ${versions.tlsLibrary}`);
        console.log(
            `haproxy${threads > 1 ? ` (${threads} threads) on CPUs ${lbCpus}` : ` on CPU ${lbCpu}`}, ${clients} × openssl s_time on CPU ${clientCpu}${lbCpu === clientCpu ? " (one CPU: shared)" : ""}; ${rounds} rounds of ${seconds} s per key; load ${loadavg()[0].toFixed(2)}`,
        );
        for (let round = 1; round <= rounds; round++) {
            for (const c of CERTIFICATES) {
                const before = cpuSeconds(pid!);
                const outs = await Promise.all(Array.from({ length: clients }, () => sTime(clientCpu, ports[c], seconds, CIPHER[c])));
                const used = cpuSeconds(pid!) - before;
                const n = outs.reduce((sum, out) => sum + Number(/^(\d+) connections in/m.exec(out)?.[1] ?? NaN), 0);
                if (!(n > 0) || !(used > 0)) throw new Error(`${c}: no handshakes measured (${outs.join("\n").slice(-300)})`);
                results[c] = [...(results[c] ?? []), n / used];
                console.log(
                    `round ${round} ${c.padEnd(10)} ${String(n).padStart(6)} handshakes, haproxy ${used.toFixed(2)} CPU s → ${(n / used).toFixed(0)}/s per core; load ${loadavg()[0].toFixed(2)}`,
                );
            }
        }
        const p99: Record<string, { p99_ms: number; success: number; requests: number }> = {};
        if (rate > 0) {
            for (const c of CERTIFICATES) {
                const r = vegetaP99(await fixedRate(clientCpu, ports[c], rate, rateSeconds, dir, c));
                p99[c] = { p99_ms: r.p99Ms, success: r.success, requests: r.requests };
                console.log(
                    `fixed rate ${rate}/s ${c.padEnd(10)} p99 ${r.p99Ms} ms, success ${(r.success * 100).toFixed(2)} % of ${r.requests}; load ${loadavg()[0].toFixed(2)}`,
                );
            }
        }
        console.log(
            JSON.stringify({
                image: values.image,
                haproxy: versions.haproxy,
                tls_library: versions.tlsLibrary,
                ...(rate > 0 ? { fixed_rate: rate, fixed_rate_s: rateSeconds, p99 } : {}),
                handshakes_per_core_s: Object.fromEntries(CERTIFICATES.map((c) => [c, Math.round(median(results[c]))])),
                rounds: Object.fromEntries(CERTIFICATES.map((c) => [c, results[c].map((x) => Math.round(x))])),
                tls: "1.2",
                seconds,
                clients,
                threads,
                load1_end: Math.round(loadavg()[0] * 100) / 100,
            }),
        );
    } finally {
        if (pid) process.kill(pid, "SIGTERM");
        rmSync(dir, { recursive: true, force: true });
    }
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
    main().catch((err: Error) => {
        console.error(`bench:tls-handshakes: ${err.message}`);
        process.exit(1);
    });
}
