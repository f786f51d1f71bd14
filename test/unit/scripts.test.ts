// The bash the renderers produce: haproxyScripts.ts, backendScripts.ts, localPlatform.ts.
// Every script is parsed by `bash -n`; the ones that are safe to run here (openssl, ssh-keygen,
// HAProxy and pong on 127.0.0.1) are also run for real. Nothing here touches namespaces or links.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
    adminSocket,
    certificatePaths,
    certificateScript,
    haproxyPaths,
    haproxyStartScript,
    haproxyStopScript,
    pidFile,
} from "../../components/render/haproxyScripts.ts";
import { pongPorts, pongStartScript, pongStopScript } from "../../components/render/backendScripts.ts";
import {
    KEYGEN_SCRIPT,
    bridgeCreateScript,
    bridgeDeleteScript,
    hostCreateScript,
    hostDeleteScript,
    localNames,
    parseKeygenOutput,
} from "../../components/platform/local/scripts.ts";
import { renderHaproxyConfig } from "../../components/render/haproxyConfig.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { CERTIFICATES } from "../../components/config.ts";
import { createPongServer } from "../../backend/pong.ts";
import { backendCounters, frontendCounters, parseStatsCsv } from "../../scripts/analysis/haproxyStats.ts";
import { bashSyntax, freeLoopbackPort, runBash, tempDir, which } from "./helpers.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

function assertBashParses(name: string, script: string) {
    const r = bashSyntax(script);
    assert.equal(r.status, 0, `${name} does not parse:\n${r.stderr}\n---\n${script}`);
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
        if (cond()) return true;
        await new Promise((r) => setTimeout(r, 50));
    }
    return cond();
}

async function portFree(port: number): Promise<boolean> {
    const srv = net.createServer();
    return new Promise((resolve) => {
        srv.once("error", () => resolve(false));
        srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
}

function get(url: string, options: https.RequestOptions = {}): Promise<{ status: number; body: string; socket: net.Socket }> {
    const mod = url.startsWith("https:") ? https : http;
    return new Promise((resolve, reject) => {
        const req = mod.request(url, { method: "GET", agent: false, ...options }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => {
                body += c;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body, socket: res.socket }));
        });
        req.on("error", reject);
        req.setTimeout(5000, () => req.destroy(new Error(`timeout on ${url}`)));
        req.end();
    });
}

describe("haproxyScripts", () => {
    const p = haproxyPaths("/run/c2m/local/haproxy-0");

    test("haproxyPaths, pid files and admin sockets all live in the host's haproxy dir, one per process", () => {
        assert.equal(p.dir, "/run/c2m/local/haproxy-0/haproxy");
        const files = [p.cfg, p.pem, pidFile(p, 0), pidFile(p, 1), adminSocket(p, 0), adminSocket(p, 1)];
        for (const path of files) assert.equal(dirname(path), p.dir);
        assert.equal(new Set(files).size, files.length);
    });

    test("bash parses the certificate, start and stop scripts", () => {
        for (const cert of CERTIFICATES) assertBashParses(`certificateScript ${cert}`, certificateScript(p, cert, "haproxy-0"));
        assertBashParses("haproxyStartScript 1", haproxyStartScript(p, { processes: 1, statsPort: 8404, nofile: 10_000 }));
        assertBashParses("haproxyStartScript 8", haproxyStartScript(p, { processes: 8, statsPort: 8404, nofile: 10_000 }));
        assertBashParses("haproxyStopScript", haproxyStopScript(p));
    });

    test("the start script checks the config with haproxy -c before installing it, and starts after", () => {
        const script = haproxyStartScript(p, { processes: 2, statsPort: 8404, nofile: 10_000 });
        const check = script.indexOf("haproxy -c");
        const install = script.indexOf(`mv ${p.cfg}.new ${p.cfg}`);
        const start = script.indexOf("haproxy -D");
        assert.ok(check >= 0 && install > check && start > install);
        assert.ok(script.includes("ulimit -n 10000"));
    });

    for (const [cert, curve, opensslName] of [
        ["ecdsa-p256", "P-256", "prime256v1"],
        ["ecdsa-p384", "P-384", "secp384r1"],
    ] as const) {
        test(`certificateScript makes a self-signed ECDSA ${curve} PEM bundle readable only by its owner`, { skip: !which("openssl") && "no openssl" }, (t) => {
            const dir = tempDir(t);
            const paths = { ...haproxyPaths(dir), ...certificatePaths(haproxyPaths(dir), cert) };
            const r = runBash(certificateScript(paths, cert, "haproxy-test"));
            assert.equal(r.status, 0, r.stderr);
            const pem = readFileSync(paths.pem, "utf8");
            assert.match(pem, /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/);
            assert.match(pem, /-----BEGIN PRIVATE KEY-----/);
            assert.equal(statSync(paths.pem).mode & 0o777, 0o600);
            const text = spawnSync("openssl", ["x509", "-noout", "-text", "-in", paths.pem], { encoding: "utf8" }).stdout;
            assert.match(text, /Public Key Algorithm: id-ecPublicKey/);
            assert.ok(text.includes(opensslName), `certificate is not on ${opensslName}`);
            assert.match(text, /Subject: CN ?= ?haproxy-test/);
            // Key and certificate belong together.
            const pubFromCert = spawnSync("openssl", ["x509", "-noout", "-pubkey", "-in", paths.pem], { encoding: "utf8" }).stdout;
            const pubFromKey = spawnSync("openssl", ["pkey", "-pubout", "-in", paths.key], { encoding: "utf8" }).stdout;
            assert.equal(pubFromCert, pubFromKey);
        });
    }
});

// HAProxy for real, on 127.0.0.1 only, started and stopped by the rig's own scripts.
const haproxyMissing = !which("haproxy") || !which("openssl") ? "haproxy or openssl is not installed" : false;

describe("haproxy start / reload / scale-down / stop scripts, run for real on 127.0.0.1", { skip: haproxyMissing }, () => {
    let dir = "";
    let paths = haproxyPaths("/nonexistent");
    let ports = { plain: 0, tls: 0, stats: 0, pong: 0 };
    const seenPids = new Set<number>();
    const pong = createPongServer();
    const nofile = 8192;
    let config = "";

    const start = (cfg: string, processes: number) => runBash(haproxyStartScript(paths, { processes, statsPort: ports.stats, nofile }), { input: cfg });
    const startedPids = (out: string) => {
        const pids = out.trim().split(/\s+/).map(Number);
        for (const pid of pids) {
            assert.ok(Number.isInteger(pid) && pid > 1, `bad pid list ${JSON.stringify(out)}`);
            seenPids.add(pid);
        }
        return pids;
    };
    const pidOf = (i: number) => Number(readFileSync(pidFile(paths, i), "utf8").trim());

    before(async () => {
        dir = mkdtempSync(join(tmpdir(), "c2m-unit-haproxy-"));
        paths = haproxyPaths(dir);
        // Two stats ports are needed (one per process): take two adjacent free ones.
        let stats = await freeLoopbackPort();
        while (!(await portFree(stats + 1))) stats = await freeLoopbackPort();
        ports = { plain: await freeLoopbackPort(), tls: await freeLoopbackPort(), stats, pong: await freeLoopbackPort() };
        await new Promise<void>((resolve) => pong.server.listen(ports.pong, "127.0.0.1", resolve));
        const cert = runBash(certificateScript(paths, "ecdsa-p256", "lab.test"));
        assert.equal(cert.status, 0, cert.stderr);
        const cfg = parseLabConfig({
            plan: { connections: 1000 },
            haproxy: { plainPort: ports.plain, tlsPort: ports.tls, statsPort: ports.stats, processes: 2 },
        });
        config = renderHaproxyConfig({
            haproxy: cfg.haproxy,
            maxconnPerProcess: 500,
            servers: [{ name: "pong-0", address: "127.0.0.1", port: ports.pong }],
            bindAddress: "127.0.0.1",
            certPath: paths.pem,
        });
    });

    after(async () => {
        if (dir) runBash(haproxyStopScript(paths));
        for (const pid of seenPids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
        pong.server.closeAllConnections();
        await new Promise<void>((resolve) => pong.server.close(() => resolve()));
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    let first: number[] = [];

    test("start: installs the config, runs 2 processes with the wanted nofile and prints their pids", () => {
        const r = start(config, 2);
        assert.equal(r.status, 0, r.stderr);
        first = startedPids(r.stdout);
        assert.equal(first.length, 2);
        assert.deepEqual(first, [pidOf(0), pidOf(1)]);
        for (const pid of first) {
            assert.ok(isAlive(pid));
            assert.match(readFileSync(`/proc/${pid}/limits`, "utf8"), new RegExp(`Max open files\\s+${nofile}\\s`));
        }
        assert.equal(readFileSync(paths.cfg, "utf8"), config);
        assert.equal(existsSync(`${paths.cfg}.new`), false);
        assert.ok(existsSync(adminSocket(paths, 0)) && existsSync(adminSocket(paths, 1)), "one admin socket per process");
    });

    test("plain and TLS frontends proxy to pong; TLS presents the ECDSA P-256 certificate", async () => {
        const plain = await get(`http://127.0.0.1:${ports.plain}/ping`);
        assert.deepEqual([plain.status, plain.body], [200, "pong"]);
        const tls = await get(`https://127.0.0.1:${ports.tls}/ping`, { rejectUnauthorized: false });
        assert.deepEqual([tls.status, tls.body], [200, "pong"]);
        const cert = (tls.socket as import("node:tls").TLSSocket).getPeerCertificate();
        assert.equal(cert.asn1Curve, "prime256v1");
        assert.ok(pong.counters.responses >= 2);
    });

    test("each process serves its own stats port; the counters sum over both", async () => {
        for (let i = 0; i < 8; i++) assert.equal((await get(`http://127.0.0.1:${ports.plain}/ping`)).body, "pong");
        const csvs = await Promise.all([0, 1].map((i) => get(`http://127.0.0.1:${ports.stats + i}/stats;csv`)));
        const perProcess = csvs.map((c) => {
            assert.equal(c.status, 200);
            return parseStatsCsv(c.body);
        });
        const pids = perProcess.map((rows) => rows.find((r) => r.svname === "FRONTEND")?.pid);
        assert.notEqual(pids[0], undefined);
        const total = frontendCounters(perProcess.flat(), "api_plain");
        assert.ok(total, "api_plain frontend rows");
        const each = perProcess.map((rows) => frontendCounters(rows, "api_plain")?.requestsTotal ?? 0);
        assert.equal(total.requestsTotal, each[0] + each[1]);
        assert.ok(total.requestsTotal >= 9, JSON.stringify(total));
        const backend = backendCounters(perProcess.flat(), "pong");
        assert.ok(backend);
        assert.equal(backend.servers, 1, "the same server seen by two processes is one server");
    });

    test("a config haproxy -c rejects is not installed and the running processes keep serving", async () => {
        const r = start(config.replace(/^global\n/, "global\n    bogus_keyword 1\n"), 2);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /haproxy -c rejected the new config/);
        assert.equal(readFileSync(paths.cfg, "utf8"), config, "the installed config is untouched");
        assert.equal(existsSync(`${paths.cfg}.new`), false);
        for (const pid of first) assert.ok(isAlive(pid));
        assert.equal((await get(`http://127.0.0.1:${ports.plain}/ping`)).body, "pong");
    });

    test("the rejection tells the operator why (HAProxy's own message)", {}, () => {
        const r = start(config.replace(/^global\n/, "global\n    bogus_keyword 1\n"), 2);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /bogus_keyword/);
    });

    let second: number[] = [];

    test("a second start reloads: new processes take over and the old ones leave", async () => {
        const r = start(config, 2);
        assert.equal(r.status, 0, r.stderr);
        second = startedPids(r.stdout);
        assert.equal(second.length, 2);
        for (const pid of second) assert.ok(!first.includes(pid));
        assert.ok(await waitFor(() => first.every((pid) => !isAlive(pid))), "old HAProxy still running after reload");
        assert.equal((await get(`http://127.0.0.1:${ports.plain}/ping`)).body, "pong");
    });

    test("scaling down to 1 process stops process 1 and removes its pid file", async () => {
        const r = start(config, 1);
        assert.equal(r.status, 0, r.stderr);
        const third = startedPids(r.stdout);
        assert.equal(third.length, 1);
        assert.equal(existsSync(pidFile(paths, 1)), false);
        assert.ok(await waitFor(() => second.every((pid) => !isAlive(pid))), "process 1 (or the reloaded 0) still running");
        assert.ok(isAlive(third[0]));
        assert.equal((await get(`http://127.0.0.1:${ports.plain}/ping`)).body, "pong");
    });

    test("stop kills HAProxy and removes pid files and sockets; stopping again is harmless", async () => {
        const r = runBash(haproxyStopScript(paths));
        assert.equal(r.status, 0, r.stderr);
        assert.ok(await waitFor(() => [...seenPids].every((pid) => !isAlive(pid))), "HAProxy still running");
        assert.equal(existsSync(pidFile(paths, 0)), false);
        assert.equal(existsSync(adminSocket(paths, 0)), false);
        await assert.rejects(get(`http://127.0.0.1:${ports.plain}/ping`));
        assert.equal(runBash(haproxyStopScript(paths)).status, 0);
    });
});

describe("backendScripts", () => {
    test("pongPorts are consecutive from the base port", () => {
        assert.deepEqual(pongPorts(8282, 10), [8282, 8283, 8284, 8285, 8286, 8287, 8288, 8289, 8290, 8291]);
        assert.deepEqual(pongPorts(9000, 1), [9000]);
        assert.deepEqual(pongPorts(9000, 0), []);
    });

    test("bash parses the start and stop scripts", () => {
        assertBashParses(
            "pongStartScript",
            pongStartScript({ workDir: "/run/c2m/local/backend-0", address: "198.18.0.3", ports: pongPorts(8282, 10), nofile: 4096, requestTimeoutMs: 0 }),
        );
        assertBashParses("pongStopScript", pongStopScript("/run/c2m/local/backend-0"));
    });

    test("the start script passes address, request timeout and nofile to every pong", () => {
        const script = pongStartScript({ workDir: "/w", address: "198.18.0.3", ports: [8282, 8283], nofile: 5000, requestTimeoutMs: 1234 });
        assert.ok(script.includes("ulimit -n 5000"));
        assert.ok(script.includes("--host 198.18.0.3"));
        assert.ok(script.includes("--request-timeout-ms 1234"));
        assert.ok(script.includes("for port in 8282 8283; do"));
    });

    test("start runs one pong per port on 127.0.0.1 and waits until each answers; stop removes them", { skip: !which("curl") && "no curl" }, async (t) => {
        const workDir = tempDir(t);
        const ports = [await freeLoopbackPort(), await freeLoopbackPort()];
        const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` };
        let pids: number[] = [];
        t.after(() => {
            runBash(pongStopScript(workDir), { env });
            for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
        });
        const r = runBash(pongStartScript({ workDir, address: "127.0.0.1", ports, nofile: 4096, requestTimeoutMs: 0 }), {
            input: readFileSync(join(REPO, "backend/pong.ts"), "utf8"),
            env,
        });
        pids = existsSync(join(workDir, "pong/pids")) ? readFileSync(join(workDir, "pong/pids"), "utf8").trim().split("\n").map(Number) : [];
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), String(ports.length), "prints how many pongs it started");
        assert.equal(pids.length, ports.length);
        for (const port of ports) {
            const res = await get(`http://127.0.0.1:${port}/ping`, { headers: { times: "1" } });
            assert.deepEqual([res.status, res.body], [200, "pongpong"]);
        }
        for (const pid of pids) {
            const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
            assert.match(limits, /Max open files\s+4096\s/);
        }

        const stop = runBash(pongStopScript(workDir), { env });
        assert.equal(stop.status, 0, stop.stderr);
        assert.ok(await waitFor(() => pids.every((pid) => !isAlive(pid))), "pong still running after stop");
        assert.equal(existsSync(join(workDir, "pong")), false);
        for (const port of ports) await assert.rejects(get(`http://127.0.0.1:${port}/ping`));
    });

    test("start fails, showing the log, when a pong cannot come up", { skip: !which("curl") && "no curl" }, async (t) => {
        const workDir = tempDir(t);
        const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` };
        t.after(() => {
            runBash(pongStopScript(workDir), { env });
        });
        // A "pong.ts" that exits at once: the health wait must give up at once (not after its 10 s) and show its log.
        const t0 = Date.now();
        const r = runBash(pongStartScript({ workDir, address: "127.0.0.1", ports: [await freeLoopbackPort()], nofile: 4096, requestTimeoutMs: 0 }), {
            input: "console.error('pong refuses to start'); process.exit(3);\n",
            env,
        });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /did not answer/);
        assert.match(r.stderr, /pong refuses to start/);
        assert.ok(Date.now() - t0 < 5000, `gave up after ${Date.now() - t0} ms`);
    });
});

describe("localPlatform names", () => {
    // Most hosts a stack can have: 1 haproxy + 64 backends + 64 clients (the config's limits).
    const maxHosts = (() => {
        const cfg = parseLabConfig({ hosts: { backends: 64, clients: 64 } });
        return cfg.hosts.haproxy + cfg.hosts.backends + cfg.hosts.clients;
    })();
    const IFNAMSIZ = 15; // Linux interface names: at most 15 characters

    test("bridge and veth names (both ends) fit in 15 characters, even for the longest stack name", () => {
        for (const stack of ["local", "a", "x".repeat(40), "my-very.long_stack-name-for-ci-runs-1234"]) {
            const n = localNames(stack);
            assert.ok(n.bridge.length <= IFNAMSIZ, n.bridge);
            for (let i = 0; i < maxHosts; i++) {
                const veth = n.veth(i);
                assert.ok(veth.length <= IFNAMSIZ, veth);
                assert.ok(`${veth}n`.length <= IFNAMSIZ, `${veth}n (namespace end)`);
            }
        }
    });

    test("names are valid interface names: no slash, space or colon", () => {
        const n = localNames("x".repeat(40));
        for (const name of [n.bridge, n.veth(0), n.veth(maxHosts - 1)]) assert.match(name, /^[A-Za-z0-9._-]+$/);
    });

    test("same stack, same names (deterministic)", () => {
        const [a, b] = [localNames("ci-1"), localNames("ci-1")];
        assert.equal(a.bridge, b.bridge);
        assert.equal(a.veth(3), b.veth(3));
        assert.equal(a.namespace("haproxy-0"), b.namespace("haproxy-0"));
    });

    test("different stacks get different bridges, veths, namespaces and run dirs", () => {
        const stacks = ["local", "local2", "Local", "ci-1", "ci-2", "x".repeat(40), `${"x".repeat(39)}y`];
        const all = stacks.map(localNames);
        for (const key of ["bridge", "runDir", "namespacePrefix"] as const) {
            assert.equal(new Set(all.map((n) => n[key])).size, stacks.length, key);
        }
        assert.equal(new Set(all.map((n) => n.veth(0))).size, stacks.length);
        assert.equal(new Set(all.map((n) => n.namespace("backend-0"))).size, stacks.length);
    });

    test("within a stack, veths and namespaces are distinct per host and never the bridge's name", () => {
        const n = localNames("local");
        const veths = Array.from({ length: maxHosts }, (_, i) => n.veth(i));
        assert.equal(new Set(veths).size, maxHosts);
        assert.ok(!veths.includes(n.bridge));
        assert.ok(n.namespace("backend-1").startsWith(n.namespacePrefix));
        assert.ok(n.runDir.startsWith("/run/c2m/"));
    });

    for (const bad of ["", "-lead", ".hidden", "has space", "a/b", "../etc", "semi;colon", "$(id)", "ünï", "x".repeat(41)]) {
        test(`refuses stack name ${JSON.stringify(bad)}`, () => {
            assert.throws(() => localNames(bad), /cannot name local resources/);
        });
    }

    test("one stack's namespace prefix matches no namespace of another stack", {}, () => {
        const lab = localNames("lab");
        const lab2 = localNames("lab-2");
        assert.equal(lab2.namespace("haproxy-0").startsWith(lab.namespacePrefix), false);
    });
});

describe("localPlatform scripts", () => {
    const n = localNames("local");
    const host = {
        namespace: n.namespace("client-0"),
        veth: n.veth(1),
        bridge: n.bridge,
        address: "198.18.0.3",
        extraAddresses: ["198.18.0.10", "198.18.0.11"],
        prefix: 24,
        workDir: "/run/c2m/local/client-0",
    };

    test("bash parses every script (they are only parsed here: they would create namespaces)", () => {
        assertBashParses("bridgeCreateScript", bridgeCreateScript(n.bridge, "198.18.0.1", 24));
        assertBashParses("bridgeDeleteScript", bridgeDeleteScript(n.bridge, n.runDir));
        assertBashParses("hostCreateScript", hostCreateScript(host));
        assertBashParses("hostDeleteScript", hostDeleteScript(host));
        assertBashParses("KEYGEN_SCRIPT", KEYGEN_SCRIPT);
    });

    test("the host script puts the address on the namespace end and starts sshd inside the namespace", () => {
        const script = hostCreateScript(host);
        assert.ok(script.includes(`ip netns exec ${host.namespace} ip addr add 198.18.0.3/24 dev eth0`));
        assert.match(script, new RegExp(`ip netns exec ${host.namespace} unshare --mount [\\s\\S]*/usr/sbin/sshd .*-o ListenAddress=198\\.18\\.0\\.3`));
        assert.ok(script.includes(`ip link set ${host.veth} master ${host.bridge} up`));
    });

    test("a client's extra source addresses go on the same interface, before it comes up", () => {
        const script = hostCreateScript(host);
        const up = script.indexOf(`ip netns exec ${host.namespace} ip link set eth0 up`);
        for (const a of host.extraAddresses) {
            const line = `ip netns exec ${host.namespace} ip addr add ${a}/24 dev eth0`;
            assert.ok(script.includes(line), line);
            assert.ok(script.indexOf(line) < up);
        }
        assert.ok(!hostCreateScript({ ...host, extraAddresses: [] }).includes("198.18.0.10"));
    });

    test("delete scripts tolerate missing pieces (idempotent teardown)", () => {
        assert.match(bridgeDeleteScript(n.bridge, n.runDir), /ip link del \S+ 2>\/dev\/null \|\| true/);
        const del = hostDeleteScript(host);
        assert.ok(del.includes(`ip link del ${host.veth} 2>/dev/null || true`));
        assert.ok(del.includes(`rm -rf ${host.workDir}`));
    });

    test("KEYGEN_SCRIPT prints a matching ed25519 key pair that parseKeygenOutput decodes", { skip: !which("ssh-keygen") && "no ssh-keygen" }, (t) => {
        const r = runBash(KEYGEN_SCRIPT);
        assert.equal(r.status, 0, r.stderr);
        const { privateKey, publicKey } = parseKeygenOutput(r.stdout);
        assert.match(privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+-----END OPENSSH PRIVATE KEY-----\n$/);
        assert.match(publicKey, /^ssh-ed25519 \S+ c2m-lab$/);
        // The public key is the private key's.
        const dir = tempDir(t);
        const keyFile = join(dir, "id");
        writeFileSync(keyFile, privateKey, { mode: 0o600 });
        const derived = spawnSync("ssh-keygen", ["-y", "-f", keyFile], { encoding: "utf8" });
        assert.equal(derived.status, 0, derived.stderr);
        assert.equal(derived.stdout.trim().split(" ").slice(0, 2).join(" "), publicKey.split(" ").slice(0, 2).join(" "));
        // Two runs give two different keys.
        assert.notEqual(parseKeygenOutput(runBash(KEYGEN_SCRIPT).stdout).privateKey, privateKey);
    });

    test("parseKeygenOutput refuses output without a key pair", () => {
        assert.throws(() => parseKeygenOutput(""), /no key pair/);
        assert.throws(() => parseKeygenOutput("onlyone\n"), /no key pair/);
    });

    test("parseKeygenOutput decodes base64 and trims the public key", () => {
        const b64 = (s: string) => Buffer.from(s).toString("base64");
        assert.deepEqual(parseKeygenOutput(` ${b64("PRIV\n")} ${b64("ssh-ed25519 AAAA c\n")}\n`), { privateKey: "PRIV\n", publicKey: "ssh-ed25519 AAAA c" });
    });
});
