// bench:tls-memory: HAProxy's own memory per held TLS connection, across the knobs that may
// matter (issue 12 item 5). Small and fast, on loopback only: one HAProxy process with the lab's
// rendered haproxy.cfg (components/render/haproxyConfig.ts, plus the variant's extra lines), one
// pong backend, N TLS connections opened by this process (node:tls, keep-alive), each with one
// request sent and held by pong (`hold` header; requests go out 100 at a time, as a ramp sends them:
// all 4000 at once add ~1–3 KB/conn of transient buffers that look like held memory). HAProxy's RSS and Private_Dirty (smaps_rollup)
// are read before any connection, after the handshakes (idle, established) and with every request
// in flight; the figure is the delta over N. `show pools` (admin socket) splits HAProxy's pools
// from what OpenSSL/libc malloc hold.
// `--image debian-13` runs HAProxy from a host image (components/images.ts; built by `lab image
// build`), so TLS stacks are compared on one machine; the default `machine` runs this machine's.
//   npm run bench:tls-memory -- [--n 4000] [--runs 2] [--variants default,bufsize-8192,…] [--addr 127.0.91] [--image machine|debian-12|debian-13]
// Prints a table; the last line is one JSON object.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir, loadavg } from "node:os";
import net from "node:net";
import tls from "node:tls";
import http from "node:http";
import { parseArgs } from "node:util";
import { renderHaproxyConfig } from "../components/render/haproxyConfig.ts";
import { certificateScript, certificatePaths, type HaproxyPaths } from "../components/render/haproxyScripts.ts";
import { PER_PROCESS_ENV } from "../components/render/haproxyConfig.ts";
import type { LabConfig } from "../components/config.ts";
import { IMAGES, type ImageName } from "../components/images.ts";
import { imageArgv, imageRoot, imagesDir, parseHaproxyVersions } from "../components/platform/local/image.ts";
import { imageProblems } from "../components/platform/local/imageChoice.ts";
import { VARIANTS, variantNamed, withVariant, type Variant } from "./tlsMemoryVariants.ts";

/** How HAProxy is started: from this machine, or from an image (its root, a layer and the bench's dir bound in). */
export type HaproxyRunner = (argv: string[]) => string[];

/** The runner for `--image` (checked before anything starts: an unknown or unbuilt image is refused). */
export function haproxyRunner(image: string, dir: string): HaproxyRunner {
    if (!(IMAGES as readonly string[]).includes(image)) throw new Error(`--image: unknown image "${image}"; known: ${IMAGES.join(", ")}`);
    const problems = imageProblems({ image: image as ImageName });
    if (problems.length > 0) throw new Error(`--image: ${problems.join("; ")}`);
    if (image === "machine") return (argv) => argv;
    const spec = { root: imageRoot(imagesDir(), image as ImageName), layer: join(dir, "image-layer"), binds: [dir] };
    return (argv) => imageArgv(argv, spec);
}

/** HAProxy's version and TLS library as the runner runs it (`haproxy -vv`). */
export function haproxyVersions(run: HaproxyRunner): { haproxy: string; tlsLibrary: string } {
    const [file, ...args] = run(["haproxy", "-vv"]);
    const r = spawnSync(file, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`haproxy -vv failed: ${r.stderr}`);
    return parseHaproxyVersions(r.stdout);
}

const REPO = new URL("..", import.meta.url).pathname;

interface Mem {
    rssKB: number;
    privateDirtyKB: number;
    shmemKB: number;
}

function readMem(pid: number): Mem {
    const roll = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const f = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
    return { rssKB: f(roll, "Rss"), privateDirtyKB: f(roll, "Private_Dirty"), shmemKB: f(status, "RssShmem") };
}

function adminCommand(socket: string, command: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const s = net.connect(socket);
        let out = "";
        s.on("connect", () => s.write(command + "\n"));
        s.on("data", (d) => {
            out += d;
        });
        s.on("end", () => resolve(out));
        s.on("error", reject);
    });
}

/** Bytes HAProxy's pools have allocated (`show pools`): the total and each pool's. */
async function poolBytes(socket: string): Promise<{ total: number; byPool: Record<string, number> }> {
    const out = await adminCommand(socket, "show pools");
    const byPool: Record<string, number> = {};
    for (const m of out.matchAll(/Pool (\S+) \((\d+) bytes\) : \d+ allocated \((\d+) bytes\)/g)) byPool[`${m[1]}(${m[2]})`] = Number(m[3]);
    return { total: Number(/Total:.*?(\d+) bytes allocated/.exec(out)?.[1] ?? NaN), byPool };
}

function get(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
        http.get(url, (res) => {
            let b = "";
            res.on("data", (d) => {
                b += d;
            });
            res.on("end", () => resolve(b));
        }).on("error", reject);
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        try {
            if (await check()) return;
        } catch {
            /* not yet */
        }
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(200);
    }
}

/** Opens `n` TLS (or plain TCP) connections, at most `parallel` handshakes at once. */
async function openConnections(n: number, host: string, port: number, parallel: number, plain: boolean): Promise<net.Socket[]> {
    const sockets: net.Socket[] = [];
    let next = 0;
    let failed = 0;
    const worker = async () => {
        while (next < n) {
            next++;
            try {
                sockets.push(
                    await new Promise<net.Socket>((resolve, reject) => {
                        const s = plain
                            ? net.connect({ host, port })
                            : tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"], servername: undefined });
                        s.once(plain ? "connect" : "secureConnect", () => {
                            s.removeListener("error", reject);
                            s.on("error", () => {
                                failed++;
                            });
                            resolve(s);
                        });
                        s.once("error", reject);
                        s.setKeepAlive(true, 60_000);
                    }),
                );
            } catch {
                failed++;
            }
        }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    if (failed > 0) throw new Error(`${failed} of ${n} TLS connections failed`);
    return sockets;
}

export interface RunFigures {
    variant: string;
    n: number;
    protocol: string;
    base: Mem;
    idle: Mem;
    held: Mem;
    idleKB: number;
    heldKB: number;
    heldPrivateDirtyKB: number;
    poolsKBPerConn: number;
    otherKBPerConn: number;
    /** Bytes per connection by HAProxy pool (those ≥ 1 byte/conn). */
    poolsDelta: Record<string, number>;
    load1: number;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
/** Requests sent at once before waiting for pong to hold them. */
const REQUEST_BATCH = 100;

async function runOnce(v: Variant, n: number, addr: string, dir: string, pongPort: number, holdMs: number, run: HaproxyRunner): Promise<RunFigures> {
    const lbAddr = `${addr}.2`,
        pongAddr = `${addr}.3`;
    const certificate = v.certificate ?? "ecdsa-p256";
    const paths: HaproxyPaths = { dir, cfg: join(dir, `${v.name}.cfg`), pem: join(dir, "lab.pem") };
    const pem = certificatePaths(paths, certificate).pem;
    const haproxy: LabConfig["haproxy"] = {
        maxconn: n + 200,
        processes: 1,
        plainPort: 21080,
        tlsPort: 21443,
        statsPort: 21404,
        threads: v.threads ?? 1,
        tls: { enabled: true, curve: "P-256", certificate, maxVersion: "TLSv1.2" },
        timeouts: { connectMs: 5_000, clientMs: 7_200_000, serverMs: 7_200_000, queueMs: 60_000 },
    };
    const cfg = renderHaproxyConfig({
        haproxy,
        maxconnPerProcess: n + 200,
        bindAddress: lbAddr,
        certPath: pem,
        servers: [{ name: "pong-0", address: pongAddr, port: pongPort }],
    });
    writeFileSync(paths.cfg, withVariant(cfg, v));
    const adminSock = join(dir, `admin-${v.name}.sock`);
    const env = { ...process.env, [PER_PROCESS_ENV.statsPort]: "21404", [PER_PROCESS_ENV.adminSocket]: adminSock };
    const [checkFile, ...checkArgs] = run(["haproxy", "-c", "-q", "-f", paths.cfg]);
    const check = spawnSync(checkFile, checkArgs, { env, encoding: "utf8" });
    if (check.status !== 0) throw new Error(`haproxy -c rejected ${v.name}: ${check.stderr}${check.stdout}`);
    const [hapFile, ...hapArgs] = run(["haproxy", "-db", "-f", paths.cfg]);
    const hap = spawn(hapFile, hapArgs, { env, stdio: ["ignore", "ignore", "pipe"] });
    let hapErr = "";
    hap.stderr!.on("data", (d) => {
        hapErr += d;
    });
    let sockets: net.Socket[] = [];
    try {
        await waitFor(
            "HAProxy's admin socket and a healthy pong",
            async () => /pong-0,.*?UP/.test((await adminCommand(adminSock, "show stat")).split("\n").find((l) => l.startsWith("pong,pong-0")) ?? ""),
            15_000,
        );
        await sleep(1000);
        const base = readMem(hap.pid!);
        const pools0 = await poolBytes(adminSock);
        sockets = await openConnections(n, lbAddr, v.plain ? 21080 : 21443, 64, v.plain ?? false);
        const protocol = v.plain ? "plain" : ((sockets[0] as tls.TLSSocket).getProtocol() ?? "?");
        await sleep(1500);
        const idle = readMem(hap.pid!);
        const inFlight0 = Number(/^pong_in_flight (\d+)/m.exec(await get(`http://${pongAddr}:${pongPort}/metrics`))?.[1] ?? 0);
        const body = "x".repeat(512); // the seed's post_smaller.txt size (components/render/attack.ts bodyBytes)
        const request = `POST / HTTP/1.1\r\nHost: lab\r\nhold: ${holdMs}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
        // Paced, as a ramp sends them: all at once would count the burst's transient buffers as held memory.
        const inFlight = async () => Number(/^pong_in_flight (\d+)/m.exec(await get(`http://${pongAddr}:${pongPort}/metrics`))?.[1] ?? 0);
        for (let i = 0; i < n; i += REQUEST_BATCH) {
            for (const s of sockets.slice(i, i + REQUEST_BATCH)) s.write(request);
            const want = inFlight0 + Math.min(n, i + REQUEST_BATCH);
            await waitFor(`${want - inFlight0} requests in flight at pong`, async () => (await inFlight()) >= want, 60_000);
        }
        await sleep(1500);
        const held = readMem(hap.pid!);
        const pools1 = await poolBytes(adminSock);
        const heldKB = (held.rssKB - base.rssKB) / n;
        const poolsKB = (pools1.total - pools0.total) / 1024 / n;
        const poolsDelta = Object.fromEntries(
            Object.entries(pools1.byPool)
                .map(([k, b]) => [k, r1((b - (pools0.byPool[k] ?? 0)) / n)] as const)
                .filter(([, b]) => b >= 1),
        );
        return {
            variant: v.name,
            n,
            protocol,
            base,
            idle,
            held,
            idleKB: r1((idle.rssKB - base.rssKB) / n),
            heldKB: r1(heldKB),
            heldPrivateDirtyKB: r1((held.privateDirtyKB - base.privateDirtyKB) / n),
            poolsKBPerConn: r1(poolsKB),
            poolsDelta,
            otherKBPerConn: r1(heldKB - poolsKB),
            load1: r1(loadavg()[0]),
        };
    } catch (e) {
        throw new Error(`${v.name}: ${(e as Error).message}\n${hapErr.slice(-2000)}`);
    } finally {
        for (const s of sockets) s.destroy();
        await stop(hap);
    }
}

function stop(p: ChildProcess): Promise<void> {
    if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        const t = setTimeout(() => p.kill("SIGKILL"), 5000);
        p.once("exit", () => {
            clearTimeout(t);
            resolve();
        });
        p.kill("SIGTERM");
    });
}

async function main() {
    const { values } = parseArgs({
        options: {
            n: { type: "string", default: "4000" },
            runs: { type: "string", default: "2" },
            variants: { type: "string" },
            addr: { type: "string", default: "127.0.91" },
            "pong-port": { type: "string", default: "21282" },
            "hold-ms": { type: "string", default: "600000" },
            image: { type: "string", default: "machine" },
        },
    });
    const n = Number(values.n),
        runs = Number(values.runs),
        pongPort = Number(values["pong-port"]);
    if (!(n >= 1 && n <= 9000)) throw new Error("--n must be 1..9000 (fds: HAProxy takes 2 per connection under the 20000 cap)");
    if (!/^127\.\d+\.\d+$/.test(values.addr)) throw new Error("--addr must be a loopback /24 prefix such as 127.0.91");
    const wanted = values.variants?.split(",");
    const variants = wanted ? wanted.map(variantNamed) : VARIANTS;
    const image = values.image;
    haproxyRunner(image, "/nonexistent"); // refuses an unknown or unbuilt image before anything starts
    const dir = mkdtempSync(join(tmpdir(), "c2m-tls-memory-"));
    const runner = haproxyRunner(image, dir);
    const versions = haproxyVersions(runner);
    const pong = spawn(join(REPO, "node_modules/.bin/node"), [join(REPO, "backend/pong.ts"), String(pongPort), "--host", `${values.addr}.3`], {
        stdio: ["ignore", "ignore", "inherit"],
    });
    const cleanup = async () => {
        await stop(pong);
        rmSync(dir, { recursive: true, force: true });
    };
    process.on("SIGINT", () => {
        void cleanup().then(() => process.exit(130));
    });
    const results: RunFigures[] = [];
    try {
        const certs = new Set(variants.map((v) => v.certificate ?? "ecdsa-p256"));
        for (const c of certs) {
            const r = spawnSync("bash", ["-c", certificateScript({ dir, cfg: "", pem: "" }, c, "lab")], { encoding: "utf8" });
            if (r.status !== 0) throw new Error(`certificate ${c}: ${r.stderr}`);
        }
        await waitFor("pong", async () => (await get(`http://${values.addr}.3:${pongPort}/health`)) === "pong", 15_000);
        // Interleave variants across runs so a change of machine load hits all of them alike.
        for (let run = 0; run < runs; run++) {
            for (const v of variants) {
                const r = await runOnce(v, n, values.addr, dir, pongPort, Number(values["hold-ms"]), runner);
                results.push(r);
                console.error(
                    `  ${v.name} run ${run + 1}: ${r.heldKB} KB/conn held (idle ${r.idleKB}), pools ${r.poolsKBPerConn}, ${r.protocol}, load ${r.load1}`,
                );
                await sleep(1000);
            }
        }
    } finally {
        await cleanup();
    }
    const summary = variants.map((v) => {
        const rs = results.filter((r) => r.variant === v.name);
        const mean = (f: (r: RunFigures) => number) => r1(rs.reduce((s, r) => s + f(r), 0) / rs.length);
        return {
            variant: v.name,
            protocol: rs[0]?.protocol,
            runs: rs.length,
            kb_per_conn: mean((r) => r.heldKB),
            kb_min: Math.min(...rs.map((r) => r.heldKB)),
            kb_max: Math.max(...rs.map((r) => r.heldKB)),
            idle_kb_per_conn: mean((r) => r.idleKB),
            private_dirty_kb: mean((r) => r.heldPrivateDirtyKB),
            pools_kb: mean((r) => r.poolsKBPerConn),
            other_kb: mean((r) => r.otherKBPerConn),
            load: rs.map((r) => r.load1).join("/"),
        };
    });
    const pad = (s: unknown, w: number) => String(s).padEnd(w);
    console.log(
        `image ${image}: HAProxy ${versions.haproxy}, ${versions.tlsLibrary}; ${n} held TLS connections, request in flight (hold ${values["hold-ms"]} ms)`,
    );
    console.log(
        [
            pad("variant", 16),
            pad("proto", 8),
            pad("KB/conn", 8),
            pad("min-max", 12),
            pad("idle", 6),
            pad("PrivDirty", 10),
            pad("pools", 6),
            pad("other", 6),
            pad("runs", 5),
            "load1",
        ].join(" "),
    );
    for (const s of summary) {
        console.log(
            [
                pad(s.variant, 16),
                pad(s.protocol, 8),
                pad(s.kb_per_conn, 8),
                pad(`${s.kb_min}-${s.kb_max}`, 12),
                pad(s.idle_kb_per_conn, 6),
                pad(s.private_dirty_kb, 10),
                pad(s.pools_kb, 6),
                pad(s.other_kb, 6),
                pad(s.runs, 5),
                s.load,
            ].join(" "),
        );
    }
    for (const v of variants) {
        const r = results.find((x) => x.variant === v.name);
        if (r)
            console.log(
                `HAProxy pools, bytes per held connection (${r.variant}): ${Object.entries(r.poolsDelta)
                    .map(([k, b]) => `${k} ${b}`)
                    .join(", ")}`,
            );
    }
    console.log(JSON.stringify({ image, haproxy: versions.haproxy, tls_library: versions.tlsLibrary, n, variants: summary }));
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
    main().catch((e) => {
        console.error(e);
        process.exit(1);
    });
}
