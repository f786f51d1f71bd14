// scripts/lib/remote.ts against a real sshd on loopback (in a mount namespace of its own whose
// /root is empty, so root's shell start-up files of this machine are not read), as a lab host
// runs it: commands, time limits, retries, quoting, streaming, HTTP through the connection, and
// what close() leaves behind. Needs root, sshd and unshare; skipped otherwise.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Remote, RemoteError, knownHosts, quote, type LabHost } from "../../scripts/lib/remote.ts";
import { HOST_BASE_PATH, remotePathPrefix } from "../../components/render/hostPath.ts";
import { freeLoopbackPort, runBash, which } from "./helpers.ts";

const missing = ["sshd", "ssh-keygen", "unshare"].filter((b) => !which(b));
const skip = process.getuid?.() !== 0 ? "needs root (sshd, a mount namespace)" : missing.length ? `missing ${missing.join(", ")}` : false;

/** Strings a renderer or a caller may hand to a command: each must reach the host unchanged. */
const AWKWARD = [
    "plain",
    "",
    "two words",
    "it's",
    `"double" and 'single'`,
    "$HOME $(id -u) `id` ${PATH}",
    "line one\nline two\n",
    "tab\there\r\n",
    "back\\slash\\",
    "glob * ? [a-z] ~ ; & | < > ( ) { } # !",
    "-starts-with-dash",
    "unicode: été ✓",
    "'",
    "\\'",
];

describe("remote", { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), "c2m-remote-test-"));
    let sshd: ChildProcess | undefined;
    let port = 0;
    let server: http.Server;
    let httpPort = 0;
    let privateKey = "";
    let hostKey = "";
    let inventory: LabHost[] = [];
    const seen: { method: string; url: string; body: string; host: string }[] = [];

    before(async () => {
        const keygen = (name: string) => spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, name)]);
        keygen("host");
        keygen("user");
        privateKey = readFileSync(join(dir, "user"), "utf8");
        hostKey = readFileSync(join(dir, "host.pub"), "utf8").trim();
        writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "user.pub")));
        mkdirSync(join(dir, "home"));
        mkdirSync("/run/sshd", { recursive: true });
        port = await freeLoopbackPort();
        const options = [
            ...["-D", "-e", "-f", "/dev/null", "-h", join(dir, "host"), "-p", String(port), "-o", "ListenAddress=127.0.0.1"],
            ...["-o", `AuthorizedKeysFile=${join(dir, "authorized_keys")}`, "-o", "UsePAM=no", "-o", "StrictModes=no", "-o", `PidFile=${join(dir, "pid")}`],
            ...["-o", "PermitRootLogin=prohibit-password", "-o", "MaxSessions=100"],
        ];
        // Each step execs the next: the child is sshd itself, and killing it ends the namespace.
        const script = `mount --bind "$1" /root && shift && exec /usr/sbin/sshd "$@"`;
        sshd = spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", join(dir, "home"), ...options], { stdio: "ignore" });
        for (let i = 0; i < 100 && !(await connects(port)); i++) await new Promise((r) => setTimeout(r, 50));
        server = http.createServer((req, res) => {
            let body = "";
            req.on("data", (d) => {
                body += d;
            });
            req.on("end", () => {
                seen.push({ method: req.method!, url: req.url!, body, host: req.headers.host ?? "" });
                if (req.url === "/missing") {
                    res.statusCode = 404;
                    return void res.end("no such page");
                }
                if (req.url === "/big") return void res.end("line\n".repeat(100_000));
                if (req.url === "/slow") return; // never answers
                res.end(`${req.method} ${req.url} ${body}`);
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        httpPort = (server.address() as AddressInfo).port;
        inventory = [{ name: "h", address: "127.0.0.1", ssh: { host: "127.0.0.1", port, user: "root" } }];
    });

    after(async () => {
        sshd?.kill("SIGKILL");
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
        rmSync(dir, { recursive: true, force: true });
    });

    const session = () => new Remote({ privateKey, hosts: [{ host: "127.0.0.1", port, hostKey }], inventory, dir });

    test("a command runs on the host; its output and exit status come back; the stack's host key is required", async () => {
        const r = session();
        try {
            const ok = await r.run("h", "echo out; echo err >&2; exit 3", { timeoutMs: 20_000 });
            assert.deepEqual(
                { code: ok.code, stdout: ok.stdout, stderr: ok.stderr, timedOut: ok.timedOut },
                { code: 3, stdout: "out\n", stderr: "err\n", timedOut: false },
            );
            // PATH is the host's own, never a login shell's.
            assert.equal((await r.check("h", 'echo "$PATH"')).trim(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
            await assert.rejects(r.check("h", "exit 4"), /exited 4/);
            await assert.rejects(r.run({ host: "192.0.2.1", port: 22, user: "root" }, "true"), /not a host of this lab/);
        } finally {
            await r.close();
        }
        const other = readFileSync(join(dir, "user.pub"), "utf8").trim(); // not the host's key
        const wrong = new Remote({ privateKey, hosts: [{ host: "127.0.0.1", port, hostKey: other }], inventory, dir });
        try {
            const r2 = await wrong.run("h", "true", { timeoutMs: 20_000 });
            assert.equal(r2.code, 255);
            assert.match(r2.stderr, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|SSH to/);
        } finally {
            await wrong.close();
        }
    });

    test("quote: every awkward string reaches the host's shell unchanged", async () => {
        const r = session();
        try {
            const line = AWKWARD.map((s) => `printf '%s\\0' ${quote(s)}`).join("; ");
            const out = await r.check("h", line, { timeoutMs: 20_000 });
            assert.deepEqual(out.split("\0").slice(0, -1), AWKWARD);
            // On stdin, and back byte for byte.
            const input = AWKWARD.join("\n");
            assert.equal(await r.check("h", "cat", { input, timeoutMs: 20_000 }), input);
            // Without input, stdin is empty: a command that reads it ends.
            assert.equal(await r.check("h", "cat; echo end", { timeoutMs: 20_000 }), "end\n");
        } finally {
            await r.close();
        }
    });

    test("a host that does not answer: its calls fail with 255 and ssh's words after connectAttempts tries, then at once without dialling", async () => {
        const closed = await freeLoopbackPort(); // nothing listens there
        // ssh through a stand-in that counts the dials.
        const dials = join(dir, "dials");
        const counting = join(dir, "counting-ssh");
        writeFileSync(counting, `#!/bin/sh\necho x >> ${quote(dials)}\nexec ssh "$@"\n`, { mode: 0o755 });
        const r = new Remote({ privateKey, hosts: ["127.0.0.1"], dir, connectAttempts: 2, connectTimeoutS: 2, ssh: counting });
        const dialled = () => (existsSync(dials) ? readFileSync(dials, "utf8").split("\n").filter(Boolean).length : 0);
        try {
            const t0 = Date.now();
            const target = { host: "127.0.0.1", port: closed, user: "root" };
            const res = await r.run(target, "true", { timeoutMs: 20_000 });
            assert.equal(res.code, 255);
            assert.match(res.stderr, /Connection refused/);
            assert.ok(Date.now() - t0 < 15_000, `gave up after ${Date.now() - t0} ms`);
            assert.equal(dialled(), 2, "connectAttempts dials");
            const again = await r.run(target, "true", { timeoutMs: 20_000 });
            assert.equal(again.code, 255);
            assert.match(again.stderr, /Connection refused/, "the same words");
            assert.equal(dialled(), 2, "not dialled again within REDIAL_AFTER_MS");
        } finally {
            await r.close();
        }
        assert.equal(existsSync(r.dir), false);
    });

    test("a connection whose master has gone is dialled again once: a host still there answers, a host gone fails at once after", async () => {
        // The host's SSH through a relay this test can cut: its connections closed (the master ends),
        // then its port closed too (the host is gone).
        const links = new Set<net.Socket>();
        const relay = net.createServer((inbound) => {
            const outbound = net.connect(port, "127.0.0.1");
            for (const s of [inbound, outbound]) {
                links.add(s);
                s.on("error", () => undefined);
                s.on("close", () => links.delete(s));
            }
            inbound.pipe(outbound).pipe(inbound);
        });
        await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
        const relayPort = (relay.address() as AddressInfo).port;
        const masters = join(dir, "masters");
        const counting = join(dir, "counting-masters-ssh");
        writeFileSync(counting, `#!/bin/bash\n[[ " $* " == *" ControlMaster=yes "* ]] && echo x >> ${quote(masters)}\nexec ssh "$@"\n`, { mode: 0o755 });
        const dialled = () => (existsSync(masters) ? readFileSync(masters, "utf8").split("\n").filter(Boolean).length : 0);
        const host = { name: "r", address: "127.0.0.1", ssh: { host: "127.0.0.1", port: relayPort, user: "root" } };
        const r = new Remote({ privateKey, hosts: [{ host: "127.0.0.1", port: relayPort, hostKey }], inventory: [host], dir, ssh: counting });
        const cut = async () => {
            for (const s of links) s.destroy();
            for (let i = 0; i < 100 && existsSync(join(r.dir, "c0")); i++) await new Promise((res) => setTimeout(res, 50));
            assert.equal(existsSync(join(r.dir, "c0")), false, "the master ended with its connection");
        };
        try {
            const url = `http://127.0.0.1:${httpPort}/x`;
            assert.equal(await r.check("r", "echo one"), "one\n");
            assert.equal((await r.request(url)).status, 200);
            assert.equal(dialled(), 1);
            await cut();
            assert.equal(await r.check("r", "echo two"), "two\n", "a host still there: dialled again");
            assert.equal((await r.request(url)).status, 200, "its forward opened again over the new master");
            assert.equal(dialled(), 2);
            relay.close(); // no new connection; the open one ends at cut()
            await cut();
            const t0 = Date.now();
            const gone = await r.run("r", "true", { timeoutMs: 20_000 });
            assert.equal(gone.code, 255);
            assert.match(gone.stderr, /Connection refused/);
            assert.equal(dialled(), 3, "a host gone is dialled once, not connectAttempts times");
            assert.ok(Date.now() - t0 < 5_000, `gave up after ${Date.now() - t0} ms`);
            const t1 = Date.now();
            assert.equal((await r.run("r", "true", { timeoutMs: 20_000, idempotent: true })).code, 255);
            assert.equal(dialled(), 3, "and not again within REDIAL_AFTER_MS");
            // An idempotent call is not retried when the host was not reached: its two retries would wait
            // 500 ms and 1 s (zx's expBackoff from 500 ms); 1 s leaves a busy machine its scheduling.
            assert.ok(Date.now() - t1 < 1000, `an unreachable host's call took ${Date.now() - t1} ms`);
        } finally {
            relay.close();
            await r.close();
        }
    });

    test("every call of a session goes over one SSH connection per host", async () => {
        const r = session();
        try {
            const clients = await Promise.all(Array.from({ length: 12 }, () => r.check("h", 'echo "$SSH_CLIENT"', { timeoutMs: 20_000 })));
            assert.equal(new Set(clients.map((c) => c.trim())).size, 1, `one client port: ${[...new Set(clients)].join(", ")}`);
        } finally {
            await r.close();
        }
    });

    test("the time limit kills the call", async () => {
        const r = session();
        try {
            const t0 = Date.now();
            const res = await r.run("h", "sleep 30", { timeoutMs: 1000 });
            assert.equal(res.timedOut, true);
            assert.ok(Date.now() - t0 < 10_000, `ended after ${Date.now() - t0} ms`);
            await assert.rejects(r.check("h", "sleep 30", { timeoutMs: 500 }), /no end within/);
            // The connection still serves the next call.
            assert.equal((await r.check("h", "echo again", { timeoutMs: 20_000 })).trim(), "again");
        } finally {
            await r.close();
        }
    });

    test("a call is retried only when idempotent, and only when SSH failed or time ran out", async () => {
        const r = session();
        const count = join(dir, "count");
        const attempts = () => readFileSync(count, "utf8").trim().split("\n").length;
        try {
            writeFileSync(count, "");
            // exit 255 is what ssh says when it failed.
            assert.equal((await r.run("h", `echo x >> ${quote(count)}; exit 255`, { timeoutMs: 20_000 })).code, 255);
            assert.equal(attempts(), 1, "not idempotent: once");
            writeFileSync(count, "");
            assert.equal((await r.run("h", `echo x >> ${quote(count)}; exit 255`, { timeoutMs: 20_000, idempotent: true, attempts: 3 })).code, 255);
            assert.equal(attempts(), 3, "idempotent: retried");
            writeFileSync(count, "");
            assert.equal((await r.run("h", `echo x >> ${quote(count)}; exit 1`, { timeoutMs: 20_000, idempotent: true })).code, 1);
            assert.equal(attempts(), 1, "the command's own failure is not retried");
            writeFileSync(count, "");
            const late = await r.run("h", `echo x >> ${quote(count)}; [ $(wc -l < ${quote(count)}) -ge 2 ] || sleep 30; echo done`, {
                timeoutMs: 1500,
                idempotent: true,
            });
            assert.deepEqual([late.code, late.stdout, attempts()], [0, "done\n", 2], "timed out once, then answered");
        } finally {
            await r.close();
        }
    });

    test("stream: lines are read as the host writes them; stdoutFile: output goes to a file", async () => {
        const r = session();
        try {
            const s = r.stream("h", "echo one; sleep 2; echo two", { timeoutMs: 20_000 });
            const t0 = Date.now();
            const seenAt: [string, number][] = [];
            for await (const line of s.lines()) seenAt.push([line, Date.now() - t0]);
            const end = await s.done;
            assert.deepEqual(
                seenAt.map(([l]) => l),
                ["one", "two"],
            );
            assert.ok(seenAt[0][1] < 1500 && seenAt[1][1] >= 1500, `lines at ${seenAt.map(([, t]) => t).join(", ")} ms`);
            assert.equal(end.code, 0);
            const killed = r.stream("h", "sleep 30", { timeoutMs: 20_000 });
            setTimeout(() => void killed.kill(), 300);
            assert.notEqual((await killed.done).code, 0);
            const file = join(dir, "seq.txt");
            const res = await r.run("h", "seq 1 100000", { stdoutFile: file, timeoutMs: 20_000 });
            assert.deepEqual([res.code, res.stdout], [0, ""]);
            assert.equal(readFileSync(file, "utf8").split("\n").length, 100_001);
        } finally {
            await r.close();
        }
    });

    test("HTTP goes through the host's connection; statuses come back, transport failures throw", async () => {
        const r = session();
        const url = `http://127.0.0.1:${httpPort}`;
        try {
            assert.equal(await r.get(`${url}/a?b=c d`), "GET /a?b=c%20d ");
            assert.deepEqual(await r.request(`${url}/post`, { method: "POST", body: "it's $x" }), { status: 200, body: "POST /post it's $x", host: "h" });
            assert.equal(seen.at(-1)!.host, `127.0.0.1:${httpPort}`);
            assert.equal((await r.request(`${url}/missing`)).status, 404);
            await assert.rejects(r.get(`${url}/missing`), (e: RemoteError) => e.status === 404 && /HTTP 404: no such page/.test(e.message));
            const file = join(dir, "big.txt");
            await r.getToFile(`${url}/big`, file);
            assert.equal(readFileSync(file, "utf8").length, 500_000);
            assert.throws(() => r.hostFor("http://192.0.2.1/"), /not an address of this lab's hosts/);
            await assert.rejects(r.get("file:///etc/passwd"), /not an http\(s\) URL|not an address/);
            await assert.rejects(r.get(`http://127.0.0.1:${await freeLoopbackPort()}/`, { timeoutMs: 5000 }), RemoteError);
            await assert.rejects(r.get(`${url}/slow`, { timeoutMs: 1000, idempotent: false }), /GET .*\/slow via h: no answer within 1 s/);
            // PromQL in a query string (quotes, braces, brackets, a shell's $() and backquotes) arrives intact: no shell reads it.
            const expr = `sum by (host) (rate(x{mode!="idle",host=~'lb.*'}[5s])) $(touch /tmp/PWNED) \`id\``;
            const q = new URL(`${url}/api/v1/query`);
            q.search = new URLSearchParams({ query: expr }).toString();
            const asked = (await r.get(q.toString())).replace(/^GET /, "").trim();
            assert.equal(new URL(asked, "http://x").searchParams.get("query"), expr);
            // One connection carried the commands and the exchanges.
            const before = seen.length;
            await Promise.all(Array.from({ length: 20 }, (_, i) => r.get(`${url}/n${i}`)));
            assert.equal(seen.length - before, 20);
        } finally {
            await r.close();
        }
    });

    test("a session's directory left by a process killed outright (its key in it) is removed by the next session; a live process's is kept", async () => {
        const base = mkdtempSync(join(tmpdir(), "c2m-orphans-"));
        try {
            const dead = spawnSync("true").pid!; // ended: its pid names no process (until the kernel hands it out again)
            for (const owner of [dead, process.pid]) {
                mkdirSync(join(base, `c2m-remote-${owner}-abcdef`));
                writeFileSync(join(base, `c2m-remote-${owner}-abcdef`, "id"), "key\n");
            }
            mkdirSync(join(base, "c2m-remote-test-kept")); // not a session's name: never touched
            const r = new Remote({ privateKey, hosts: ["127.0.0.1"], dir: base });
            assert.deepEqual(readdirSync(base).sort(), [basename(r.dir), `c2m-remote-${process.pid}-abcdef`, "c2m-remote-test-kept"].sort());
            assert.match(basename(r.dir), new RegExp(`^c2m-remote-${process.pid}-`), "named after its process");
            await r.close();
        } finally {
            rmSync(base, { recursive: true, force: true });
        }
    });

    test("close() ends the connection and removes the control socket, the key and the directory", async () => {
        const r = session();
        await r.check("h", "true", { timeoutMs: 20_000 });
        await r.get(`http://127.0.0.1:${httpPort}/x`);
        const socket = join(r.dir, "c0");
        assert.ok(existsSync(socket), "the control socket while open");
        const master = spawnSync("ssh", ["-O", "check", "-o", `ControlPath=${socket}`, "x"], { encoding: "utf8" });
        assert.equal(master.status, 0, master.stderr);
        const pid = /pid=(\d+)/.exec(master.stderr)![1];
        await r.close();
        assert.equal(existsSync(r.dir), false);
        for (let i = 0; i < 50 && alive(Number(pid)); i++) await new Promise((res) => setTimeout(res, 50));
        assert.equal(alive(Number(pid)), false, "the master ended");
        await assert.rejects(r.run("h", "true"), /closed/);
    });
});

test("every remote command sets PATH itself: the host's tools, then a fresh root's PATH", () => {
    assert.equal(remotePathPrefix("/c/bin:/w/node_modules/.bin"), `export PATH=/c/bin:/w/node_modules/.bin:${HOST_BASE_PATH}; `);
    assert.equal(remotePathPrefix(undefined), `export PATH=${HOST_BASE_PATH}; `);
    const r = runBash(`PATH=/nowhere; ${remotePathPrefix("/odd'dir")}echo "$PATH"`);
    assert.equal(r.stdout.trim(), `/odd'dir:${HOST_BASE_PATH}`);
});

test("HTTP reaches only the lab's addresses (a client's extra source addresses are its own), from its hosts only", async () => {
    const r = new Remote({
        privateKey: "PRIVATE",
        hosts: [],
        inventory: [
            { name: "haproxy-0", address: "198.18.0.2", ssh: { host: "198.18.0.2", port: 22, user: "root" } },
            { name: "client-0", address: "198.18.0.4", sourceAddresses: ["198.18.0.9"], ssh: { host: "198.18.0.4", port: 22, user: "root" } },
        ],
    });
    try {
        assert.equal(r.hostFor("http://198.18.0.9:80/").name, "client-0");
        assert.equal(r.hostFor("http://198.18.0.2:8404/stats").name, "haproxy-0");
        await assert.rejects(
            r.get("http://10.0.0.1:9090/"),
            /refusing to query http:\/\/10\.0\.0\.1:9090\/: 10\.0\.0\.1 is not an address of this lab's hosts/,
        );
        await assert.rejects(r.request("http://198.18.0.2/", { from: "nobody" }), /no host nobody in this lab/);
    } finally {
        await r.close();
    }
});

test("knownHosts: [host]:port off port 22", () => {
    assert.equal(
        knownHosts([
            { host: "a", hostKey: "k1 " },
            { host: "b", port: 2222, hostKey: "k2" },
        ]),
        "a k1\n[b]:2222 k2\n",
    );
});

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

function connects(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port });
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("error", () => resolve(false));
    });
}
