// scripts/lib/hostHttp.ts: the operator's one HTTP channel to lab hosts (curl run on the host
// over SSH). Here the "SSH session" runs the command in a local bash and the "lab host" serves
// on 127.0.0.1, so the real curl command line meets a real HTTP server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HostHttp, HostHttpError, curlCommand, splitStatus, type LabHost, type SshRunner } from "../../scripts/lib/hostHttp.ts";
import { remotePathPrefix, HOST_BASE_PATH, type SshResult, type SshTarget } from "../../scripts/lib/ssh.ts";
import { runBash, tempDir, which } from "./helpers.ts";

/** Runs each command in a local bash, as if on the host; records what ran where. */
class LocalRunner implements SshRunner {
    readonly ran: { host: string; command: string }[] = [];
    closed = false;
    async run(t: SshTarget, command: string, options: { stdoutFile?: string; timeoutMs?: number } = {}): Promise<SshResult> {
        this.ran.push({ host: t.host, command });
        const script = options.stdoutFile ? `(${command}) > '${options.stdoutFile}'` : command;
        const r = await new Promise<SshResult>((resolve) => {
            import("node:child_process").then(({ spawn }) => {
                const child = spawn("bash", ["--noprofile", "--norc", "-c", script], { stdio: ["ignore", "pipe", "pipe"] });
                let stdout = "",
                    stderr = "",
                    timedOut = false;
                const timer = options.timeoutMs
                    ? setTimeout(() => {
                          timedOut = true;
                          child.kill("SIGKILL");
                      }, options.timeoutMs)
                    : undefined;
                child.stdout.on("data", (d) => {
                    stdout += d;
                });
                child.stderr.on("data", (d) => {
                    stderr += d;
                });
                child.on("close", (code) => {
                    if (timer) clearTimeout(timer);
                    resolve({ code: code ?? 255, stdout, stderr, ...(timedOut ? { timedOut } : {}) });
                });
            });
        });
        return r;
    }
    close(): void {
        this.closed = true;
    }
}

const haveCurl = !!which("curl");

describe("hostHttp", { skip: !haveCurl && "no curl" }, () => {
    let server: http.Server;
    let port = 0;
    const seen: { method: string; url: string; body: string }[] = [];
    before(async () => {
        server = http.createServer((req, res) => {
            let body = "";
            req.on("data", (d) => {
                body += d;
            });
            req.on("end", () => {
                seen.push({ method: req.method!, url: req.url!, body });
                if (req.url!.startsWith("/stats;csv")) return void res.end("# pxname,svname\nstats,FRONTEND\n");
                if (req.url!.startsWith("/missing")) {
                    res.statusCode = 404;
                    return void res.end("no such page");
                }
                if (req.url!.startsWith("/slow")) return void setTimeout(() => res.end("late"), 5000);
                if (req.url!.startsWith("/big")) return void res.end("line\n".repeat(100_000));
                res.end(`echo ${req.url}`);
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        port = (server.address() as AddressInfo).port;
    });
    after(
        () =>
            new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            }),
    );

    const inventory: LabHost[] = [
        { name: "haproxy-0", address: "127.0.0.1", ssh: { host: "198.18.0.2", port: 22, user: "root" } },
        { name: "client-0", address: "198.18.0.4", sourceAddresses: ["198.18.0.4", "198.18.0.9"], ssh: { host: "198.18.0.4", port: 22, user: "root" } },
    ];

    test("GET runs curl on the host whose address the URL names, and returns the body", async () => {
        const ssh = new LocalRunner();
        const h = new HostHttp(ssh, inventory);
        assert.equal(await h.get(`http://127.0.0.1:${port}/stats;csv`), "# pxname,svname\nstats,FRONTEND\n");
        assert.equal(ssh.ran.length, 1);
        assert.equal(ssh.ran[0].host, "198.18.0.2", "over the LB's SSH address");
        assert.match(ssh.ran[0].command, /^curl -sS -g /);
    });

    test("PromQL in the query string (quotes, braces, brackets, spaces) arrives intact, nothing is run", async (t) => {
        const dir = tempDir(t);
        const h = new HostHttp(new LocalRunner(), inventory);
        const expr = `sum by (host) (rate(node_cpu_seconds_total{mode!="idle",host=~'lb.*'}[5s])) * 100 $(touch ${dir}/PWNED) \`touch ${dir}/PWNED2\``;
        const url = new URL(`http://127.0.0.1:${port}/api/v1/query_range`);
        url.search = new URLSearchParams({ query: expr, step: "1" }).toString();
        const body = await h.get(url.toString());
        const got = new URL(body.replace(/^echo /, ""), "http://x").searchParams.get("query");
        assert.equal(got, expr);
        assert.deepEqual(readdirSync(dir), []);
    });

    test("POST with a body from a chosen host; any HTTP status is returned by request()", async () => {
        const ssh = new LocalRunner();
        const h = new HostHttp(ssh, inventory);
        const r = await h.request(`http://127.0.0.1:${port}/ping`, { from: "client-0", method: "POST", body: "it's x" });
        assert.equal(r.status, 200);
        assert.equal(r.host, "client-0");
        assert.equal(ssh.ran[0].host, "198.18.0.4", "curl ran on the client");
        assert.deepEqual(seen.at(-1), { method: "POST", url: "/ping", body: "it's x" });
        assert.equal((await h.request(`http://127.0.0.1:${port}/missing`)).status, 404);
    });

    test("get() refuses a non-2xx answer, naming the URL, the host and the status", async () => {
        const h = new HostHttp(new LocalRunner(), inventory);
        await assert.rejects(h.get(`http://127.0.0.1:${port}/missing`), (err: unknown) => {
            assert.ok(err instanceof HostHttpError);
            assert.equal(err.status, 404);
            assert.match(err.message, /GET http:\/\/127\.0\.0\.1:\d+\/missing via haproxy-0: HTTP 404: no such page/);
            return true;
        });
    });

    test("an address that is no lab host's is refused before anything runs", async () => {
        const ssh = new LocalRunner();
        const h = new HostHttp(ssh, inventory);
        await assert.rejects(
            h.get("http://10.0.0.1:9090/"),
            /refusing to query http:\/\/10\.0\.0\.1:9090\/: 10\.0\.0\.1 is not an address of this lab's hosts/,
        );
        await assert.rejects(h.request(`http://127.0.0.1:${port}/`, { from: "nobody" }), /no host nobody in this lab/);
        assert.equal(ssh.ran.length, 0);
        // A client's extra source address is one of its addresses.
        assert.equal(h.hostFor("http://198.18.0.9:80/").name, "client-0");
    });

    test("a closed port, a timeout and a failed SSH each say what happened", async () => {
        const runner = new LocalRunner();
        const h = new HostHttp(runner, inventory);
        const closed = await new Promise<number>((resolve) => {
            const s = http.createServer().listen(0, "127.0.0.1", () => {
                const p = (s.address() as AddressInfo).port;
                s.close(() => resolve(p));
            });
        });
        await assert.rejects(h.get(`http://127.0.0.1:${closed}/`), /GET http:\/\/127\.0\.0\.1:\d+\/ via haproxy-0: connection refused or no route/);
        // curl's own --max-time ends it (its exit 28, "timed out"), not the SSH channel's limit ("no answer over SSH"):
        // what ran carries the limit, and the error is curl's. No wall-clock bound: another file can hold this process.
        await assert.rejects(h.get(`http://127.0.0.1:${port}/slow`, { timeoutMs: 1000 }), (err: Error) => {
            assert.match(err.message, /via haproxy-0: timed out/);
            assert.doesNotMatch(err.message, /over SSH/);
            return true;
        });
        assert.match(runner.ran.at(-1)!.command, /curl -sS -g --connect-timeout 1 --max-time 1 /);
        const sshDown: SshRunner = {
            run: async () => ({ code: 255, stdout: "", stderr: "ssh: connect to host 198.18.0.2 port 22: Connection timed out" }),
            close() {},
        };
        await assert.rejects(
            new HostHttp(sshDown, inventory).get(`http://127.0.0.1:${port}/`),
            /SSH to haproxy-0 \(198\.18\.0\.2\) failed: ssh: connect to host/,
        );
        const hung: SshRunner = { run: async () => ({ code: 255, stdout: "", stderr: "", timedOut: true }), close() {} };
        await assert.rejects(new HostHttp(hung, inventory).get(`http://127.0.0.1:${port}/`, { timeoutMs: 2000 }), /no answer over SSH within 17 s/);
    });

    test("getToFile streams a large body to a file; an error status fails", async (t) => {
        const dir = tempDir(t);
        const h = new HostHttp(new LocalRunner(), inventory);
        await h.getToFile(`http://127.0.0.1:${port}/big`, join(dir, "big"));
        assert.equal(readFileSync(join(dir, "big"), "utf8"), "line\n".repeat(100_000));
        await assert.rejects(h.getToFile(`http://127.0.0.1:${port}/missing`, join(dir, "m")), /via haproxy-0: HTTP error status .*404/);
    });

    test("at most 6 exchanges at once over one channel; the rest wait their turn", async () => {
        let now = 0,
            peak = 0;
        const slow: SshRunner = {
            run: async () => {
                peak = Math.max(peak, ++now);
                await new Promise((r) => setTimeout(r, 20));
                now--;
                return { code: 0, stdout: "ok\n200", stderr: "" };
            },
            close() {},
        };
        const h = new HostHttp(slow, inventory);
        const bodies = await Promise.all(Array.from({ length: 20 }, () => h.get(`http://127.0.0.1:${port}/`)));
        assert.deepEqual(new Set(bodies), new Set(["ok"]));
        assert.equal(peak, 6);
    });

    test("close() ends only a session the channel opened itself", () => {
        const ssh = new LocalRunner();
        new HostHttp(ssh, inventory).close();
        assert.equal(ssh.closed, false);
        new HostHttp(ssh, inventory, true).close();
        assert.equal(ssh.closed, true);
    });
});

describe("hostHttp pieces", () => {
    test("curlCommand: -k for https only, -f when streaming, timeouts in whole seconds", () => {
        assert.match(
            curlCommand("https://198.18.0.2:443/ping", { timeoutMs: 2500 }),
            /^curl -sS -g --connect-timeout 3 --max-time 3 -k -w '\\n%\{http_code\}' 'https:\/\/198\.18\.0\.2\/ping'$/,
        );
        const streamed = curlCommand("http://198.18.0.2/lines", { timeoutMs: 300_000, failOnStatus: true });
        assert.match(streamed, /--connect-timeout 5 --max-time 300 -f 'http/);
        assert.doesNotMatch(streamed, / -k /);
        assert.throws(() => curlCommand("file:///etc/passwd", { timeoutMs: 1000 }), /not an http\(s\) URL/);
    });

    test("splitStatus takes the status from the last line only", () => {
        assert.deepEqual(splitStatus("a\nb\n\n200"), { status: 200, body: "a\nb\n" });
        assert.deepEqual(splitStatus("\n404"), { status: 404, body: "" });
        assert.throws(() => splitStatus("body without status"), /no HTTP status/);
        assert.throws(() => splitStatus("x\n"), /no HTTP status/);
    });

    test("every remote command sets PATH itself: the host's tools, then a fresh root's PATH", () => {
        assert.equal(remotePathPrefix("/c/bin:/w/node_modules/.bin"), `export PATH=/c/bin:/w/node_modules/.bin:${HOST_BASE_PATH}; `);
        assert.equal(remotePathPrefix(undefined), `export PATH=${HOST_BASE_PATH}; `);
        const r = runBash(`PATH=/nowhere; ${remotePathPrefix("/odd'dir")}echo "$PATH"`);
        assert.equal(r.stdout.trim(), `/odd'dir:${HOST_BASE_PATH}`);
    });
});
