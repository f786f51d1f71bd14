// bench/tlsHandshakes: HAProxy's full TLS handshakes per second of its own CPU, per certificate
// key (the planner's TLS ramp pace, components/plan/tlsHandshakes.ts). Loopback only: one
// HAProxy (one thread, pinned to the first CPU) with one TLS frontend per key, certificates made
// as the lab makes them (certificateScript), TLS 1.2 as the lab serves it; `openssl s_time -new`
// (a full handshake per connection, no resumption; several at once, so HAProxy handles more than
// one handshake per wake-up as under load) pinned to another CPU drives it. The figure
// is handshakes / HAProxy's CPU seconds (utime + stime from /proc) over each round: what one core
// of HAProxy does, whatever the client or the machine's other load leave it.
//   node_modules/.bin/node bench/tlsHandshakes.ts [--seconds 8] [--rounds 3] [--clients 4] [--port 18443]
// Prints one line per round and key; the last line is one JSON object (median per key).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { certificatePaths, certificateScript, type HaproxyPaths } from "../components/render/haproxyScripts.ts";
import { CERTIFICATES, type Certificate } from "../components/config.ts";
import { onlineCpus } from "../components/platform/local/limits.ts";

/** The cipher suite the lab's clients (Go's vegeta) negotiate with each key under TLS 1.2. */
const CIPHER: Record<Certificate, string> = {
    "ecdsa-p256": "ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa-p384": "ECDHE-ECDSA-AES128-GCM-SHA256", "rsa-2048": "ECDHE-RSA-AES128-GCM-SHA256",
};

function cpuSeconds(pid: number): number {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    const ticks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
    return (Number(fields[11]) + Number(fields[12])) / ticks; // utime, stime (fields 14 and 15 of stat)
}

/** One `openssl s_time -new` client (a full handshake per connection) for `seconds`; its output. */
function sTime(cpu: number, port: number, seconds: number, cipher: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn("taskset", ["-c", String(cpu), "openssl", "s_time", "-connect", `127.0.0.1:${port}`, "-new", "-time", String(seconds), "-cipher", cipher], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d) => { out += d; });
        child.stderr.on("data", (d) => { out += d; });
        child.on("error", reject);
        child.on("close", () => resolve(out));
    });
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        seconds: { type: "string", default: "8" }, rounds: { type: "string", default: "3" }, port: { type: "string", default: "18443" }, clients: { type: "string", default: "4" },
    } });
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
    const paths: HaproxyPaths = { dir, cfg: join(dir, "haproxy.cfg"), pem: join(dir, "lab.pem") };
    const ports = Object.fromEntries(CERTIFICATES.map((c, i) => [c, port + i])) as Record<Certificate, number>;
    let pid: number | undefined;
    try {
        for (const c of CERTIFICATES) {
            const r = spawnSync("sh", ["-c", certificateScript(paths, c, "bench.lab")], { encoding: "utf8" });
            if (r.status !== 0) throw new Error(`certificate ${c}: ${r.stderr}`);
        }
        writeFileSync(paths.cfg, [
            "global", "    nbthread 1", "    ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2", "    tune.ssl.default-dh-param 2048",
            "defaults", "    mode http", "    timeout client 10s", "    timeout connect 5s", "    timeout server 10s",
            ...CERTIFICATES.flatMap((c) => [`frontend tls-${c}`, `    bind 127.0.0.1:${ports[c]} ssl crt ${certificatePaths(paths, c).pem} alpn http/1.1`, "    http-request return status 200"]),
        ].join("\n") + "\n");
        const child = spawn("taskset", ["-c", String(lbCpu), "haproxy", "-db", "-f", paths.cfg], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        child.stderr.on("data", (d) => { err += d; });
        pid = child.pid;
        await new Promise((r) => setTimeout(r, 500));
        if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${err}`);
        const results: Record<string, number[]> = {};
        console.log(`haproxy on CPU ${lbCpu}, ${clients} × openssl s_time on CPU ${clientCpu}${lbCpu === clientCpu ? " (one CPU: shared)" : ""}; ${rounds} rounds of ${seconds} s per key; load ${loadavg()[0].toFixed(2)}`);
        for (let round = 1; round <= rounds; round++) {
            for (const c of CERTIFICATES) {
                const before = cpuSeconds(pid!);
                const outs = await Promise.all(Array.from({ length: clients }, () => sTime(clientCpu, ports[c], seconds, CIPHER[c])));
                const used = cpuSeconds(pid!) - before;
                const n = outs.reduce((sum, out) => sum + Number(/^(\d+) connections in/m.exec(out)?.[1] ?? NaN), 0);
                if (!(n > 0) || !(used > 0)) throw new Error(`${c}: no handshakes measured (${outs.join("\n").slice(-300)})`);
                (results[c] ??= []).push(n / used);
                console.log(`round ${round} ${c.padEnd(10)} ${String(n).padStart(6)} handshakes, haproxy ${used.toFixed(2)} CPU s → ${(n / used).toFixed(0)}/s per core; load ${loadavg()[0].toFixed(2)}`);
            }
        }
        console.log(JSON.stringify({
            handshakes_per_core_s: Object.fromEntries(CERTIFICATES.map((c) => [c, Math.round(median(results[c]))])),
            rounds: Object.fromEntries(CERTIFICATES.map((c) => [c, results[c].map((x) => Math.round(x))])),
            tls: "1.2", seconds, clients, load1_end: Math.round(loadavg()[0] * 100) / 100,
        }));
    } finally {
        if (pid) process.kill(pid, "SIGTERM");
        rmSync(dir, { recursive: true, force: true });
    }
}

main().catch((err: Error) => { console.error(`bench:tls-handshakes: ${err.message}`); process.exit(1); });
