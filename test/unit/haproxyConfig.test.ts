import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PER_PROCESS_ENV, renderHaproxyConfig, type HaproxyRenderInput } from "../../components/render/haproxyConfig.ts";
import { adminSocket, certificateScript, haproxyPaths } from "../../components/render/haproxyScripts.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { GOLDEN_HAPROXY, GOLDEN_INPUT } from "./haproxyFixture.ts";
import { runBash, tempDir, which } from "./helpers.ts";

const GOLDEN_FILE = fileURLToPath(new URL("./golden/haproxy.cfg", import.meta.url));

/** Section name ("global", "defaults", "frontend api_tls", …) → its indented lines, trimmed. */
function sections(cfg: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    let current: string[] | undefined;
    for (const line of cfg.split("\n")) {
        if (line.trim() === "") continue;
        if (!/^\s/.test(line)) {
            assert.ok(!out.has(line), `section ${line} appears twice`);
            current = [];
            out.set(line, current);
        } else {
            assert.ok(current, `indented line before any section: ${line}`);
            current.push(line.trim());
        }
    }
    return out;
}

const withHaproxy = (over: Partial<HaproxyRenderInput["haproxy"]>): HaproxyRenderInput => ({ ...GOLDEN_INPUT, haproxy: { ...GOLDEN_HAPROXY, ...over } });

describe("renderHaproxyConfig", () => {
    test("matches the golden file (UPDATE_GOLDEN=1 rewrites it; read the diff before committing it)", () => {
        const text = renderHaproxyConfig(GOLDEN_INPUT);
        if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN_FILE, text);
        assert.equal(text, readFileSync(GOLDEN_FILE, "utf8"));
    });

    test("is pure: the same input renders the same text, and the input is not modified", () => {
        const copy = structuredClone(GOLDEN_INPUT);
        assert.equal(renderHaproxyConfig(GOLDEN_INPUT), renderHaproxyConfig(GOLDEN_INPUT));
        assert.deepEqual(GOLDEN_INPUT, copy);
    });

    test("every server appears once in backend pong with its address:port and a health check", () => {
        const backend = sections(renderHaproxyConfig(GOLDEN_INPUT)).get("backend pong");
        assert.ok(backend);
        const serverLines = backend.filter((l) => l.startsWith("server "));
        assert.equal(serverLines.length, GOLDEN_INPUT.servers.length);
        for (const s of GOLDEN_INPUT.servers) {
            const mine = serverLines.filter((l) => l.split(/\s+/)[1] === s.name);
            assert.equal(mine.length, 1, s.name);
            assert.equal(mine[0].split(/\s+/)[2], `${s.address}:${s.port}`);
            assert.ok(mine[0].includes(" check"), "health-checked");
        }
    });

    test("maxconn is set in global (process limit) and in defaults (per frontend), per process", () => {
        const s = sections(renderHaproxyConfig(GOLDEN_INPUT));
        // Each process reads the same file: the per-process share, not the total, is its limit.
        assert.ok(s.get("global")?.includes(`maxconn ${GOLDEN_INPUT.maxconnPerProcess}`));
        assert.ok(s.get("defaults")?.includes(`maxconn ${GOLDEN_INPUT.maxconnPerProcess}`));
        assert.ok(!renderHaproxyConfig(GOLDEN_INPUT).includes(`maxconn ${GOLDEN_HAPROXY.maxconn}`), "the total is never a process's limit");
        assert.ok(s.get("global")?.includes(`nbthread ${GOLDEN_HAPROXY.threads}`));
    });

    test("the stats port and admin socket come from each process's environment", () => {
        const s = sections(renderHaproxyConfig(GOLDEN_INPUT));
        assert.ok(s.get("frontend stats")?.includes(`bind ${GOLDEN_INPUT.bindAddress}:"\${${PER_PROCESS_ENV.statsPort}}"`));
        assert.ok(s.get("global")?.some((l) => l.startsWith(`stats socket "\${${PER_PROCESS_ENV.adminSocket}}"`)));
    });

    test("the TLS frontend exists only when tls.enabled, binding the TLS port with the certificate", () => {
        const on = sections(renderHaproxyConfig(GOLDEN_INPUT));
        const tls = on.get("frontend api_tls");
        assert.ok(tls);
        const bind = tls.find((l) => l.startsWith("bind "));
        assert.equal(bind?.split(/\s+/)[1], `${GOLDEN_INPUT.bindAddress}:${GOLDEN_HAPROXY.tlsPort}`);
        assert.match(bind ?? "", new RegExp(` ssl crt ${GOLDEN_INPUT.certPath}( |$)`));

        const offText = renderHaproxyConfig(withHaproxy({ tls: { enabled: false, curve: "P-256", maxVersion: "TLSv1.2" } }));
        const off = sections(offText);
        assert.equal(off.has("frontend api_tls"), false);
        assert.ok(!offText.includes(" ssl "), "no TLS bind anywhere");
        assert.ok(!offText.includes(GOLDEN_INPUT.certPath), "no certificate needed");
        assert.ok(off.has("frontend api_plain") && off.has("backend pong"));
    });

    test("TLS is served up to c2m:haproxy.tls.maxVersion: TLSv1.2 by default, 1.3 when asked", () => {
        assert.match(renderHaproxyConfig(GOLDEN_INPUT), /ssl-min-ver TLSv1\.2 ssl-max-ver TLSv1\.2$/m);
        const tls13 = withHaproxy({ tls: { enabled: true, curve: "P-256", maxVersion: "TLSv1.3" } });
        assert.match(renderHaproxyConfig(tls13), /ssl-min-ver TLSv1\.2 ssl-max-ver TLSv1\.3$/m);
    });

    test("the plain frontend binds its port on the bind address", () => {
        const s = sections(renderHaproxyConfig(GOLDEN_INPUT));
        assert.ok(s.get("frontend api_plain")?.includes(`bind ${GOLDEN_INPUT.bindAddress}:${GOLDEN_HAPROXY.plainPort}`));
        assert.ok(s.get("frontend api_plain")?.includes("default_backend pong"));
    });

    test("timeouts are written with an explicit ms unit and the configured values", () => {
        const defaults = sections(renderHaproxyConfig(GOLDEN_INPUT)).get("defaults") ?? [];
        const timeouts = new Map(
            defaults
                .filter((l) => l.startsWith("timeout "))
                .map((l) => {
                    const [, name, value] = l.split(/\s+/);
                    assert.match(value, /^\d+ms$/, l);
                    return [name, Number(value.slice(0, -2))];
                }),
        );
        const t = GOLDEN_HAPROXY.timeouts;
        assert.equal(timeouts.get("connect"), t.connectMs);
        assert.equal(timeouts.get("client"), t.clientMs);
        assert.equal(timeouts.get("server"), t.serverMs);
        assert.equal(timeouts.get("queue"), t.queueMs);
        // Idle and header waits must not cut a long pong response earlier than the client timeout.
        assert.ok((timeouts.get("http-request") ?? 0) >= t.clientMs);
        assert.ok((timeouts.get("http-keep-alive") ?? 0) >= t.clientMs);
    });

    test("refuses to render without backend servers", () => {
        assert.throws(() => renderHaproxyConfig({ ...GOLDEN_INPUT, servers: [] }), /at least one backend server/);
    });
});

// Real validation with the machine's HAProxy: `haproxy -c` parses the file (it does not bind).
const haproxy = which("haproxy");
const openssl = which("openssl");
const skipReal = !haproxy || !openssl ? "haproxy or openssl is not installed" : false;

/** `haproxy -c` with the per-process environment the start script gives process 0. */
function haproxyCheck(cfgFile: string, dir: string) {
    return spawnSync(haproxy!, ["-c", "-f", cfgFile], {
        encoding: "utf8",
        env: {
            ...process.env,
            [PER_PROCESS_ENV.statsPort]: "38404",
            [PER_PROCESS_ENV.adminSocket]: adminSocket(haproxyPaths(dir), 0),
        },
    });
}

/** Renders a config for 127.0.0.1 with a self-signed certificate made by the rig's own script. */
function realConfig(dir: string, over: Partial<HaproxyRenderInput["haproxy"]> = {}): string {
    const paths = haproxyPaths(dir);
    const made = runBash(certificateScript(paths, "ecdsa-p256", "lab.test"));
    assert.equal(made.status, 0, made.stderr);
    const cfg = parseLabConfig({ plan: { connections: 1000 }, haproxy: { plainPort: 38080, tlsPort: 38443, statsPort: 38404 } });
    return renderHaproxyConfig({
        haproxy: { ...cfg.haproxy, ...over },
        maxconnPerProcess: 1000,
        servers: [
            { name: "pong-0", address: "127.0.0.1", port: 38282 },
            { name: "pong-1", address: "127.0.0.1", port: 38283 },
        ],
        bindAddress: "127.0.0.1",
        certPath: paths.pem,
    });
}

describe("haproxy -c accepts what the renderer writes", { skip: skipReal }, () => {
    test("TLS config with a self-signed ECDSA certificate is valid", (t) => {
        const dir = tempDir(t);
        const file = join(dir, "haproxy.cfg");
        writeFileSync(file, realConfig(dir));
        const r = haproxyCheck(file, dir);
        assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    });

    test("plain-only config is valid", (t) => {
        const dir = tempDir(t);
        const file = join(dir, "haproxy.cfg");
        writeFileSync(file, realConfig(dir, { tls: { enabled: false, curve: "P-256", maxVersion: "TLSv1.2" } }));
        const r = haproxyCheck(file, dir);
        assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    });

    test("a broken config (unknown keyword in global) is refused", (t) => {
        const dir = tempDir(t);
        const file = join(dir, "haproxy.cfg");
        writeFileSync(file, realConfig(dir).replace(/^global\n/, "global\n    bogus_keyword 1\n"));
        assert.ok(readFileSync(file, "utf8").includes("bogus_keyword"));
        const r = haproxyCheck(file, dir);
        assert.notEqual(r.status, 0);
        assert.match(r.stdout + r.stderr, /bogus_keyword/);
    });

    test("a TLS config whose certificate is missing is refused (so the check really reads the bind line)", (t) => {
        const dir = tempDir(t);
        const file = join(dir, "haproxy.cfg");
        writeFileSync(file, realConfig(dir).replace(/lab\.pem/g, "missing.pem"));
        assert.notEqual(haproxyCheck(file, dir).status, 0);
    });

    test("without the per-process environment the stats bind has no port, and haproxy -c says so", (t) => {
        // Guards the contract with haproxyStartScript: the file alone is not a complete config.
        const dir = tempDir(t);
        const file = join(dir, "haproxy.cfg");
        writeFileSync(file, realConfig(dir));
        const env = { ...process.env };
        delete env[PER_PROCESS_ENV.statsPort];
        delete env[PER_PROCESS_ENV.adminSocket];
        const r = spawnSync(haproxy!, ["-c", "-f", file], { encoding: "utf8", env });
        assert.notEqual(r.status, 0);
        assert.match(r.stdout + r.stderr, /missing port/);
    });

    test("the longest HAProxy timeouts the config schema accepts pass haproxy -c; one more ms is refused by both", (t) => {
        const longest = 2 ** 31 - 1;
        const timeouts = { connectMs: 5000, clientMs: longest, serverMs: longest, queueMs: 60_000 };
        // the schema's side of the contract
        assert.doesNotThrow(() => parseLabConfig({ haproxy: { timeouts } }));
        assert.throws(() => parseLabConfig({ haproxy: { timeouts: { ...timeouts, clientMs: longest + 1 } } }), /c2m:haproxy\.timeouts\.clientMs/);
        // HAProxy's side
        const dir = tempDir(t);
        const ok = join(dir, "ok.cfg");
        writeFileSync(ok, realConfig(dir, { timeouts }));
        const r = haproxyCheck(ok, dir);
        assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
        const over = join(dir, "over.cfg");
        writeFileSync(over, realConfig(dir, { timeouts: { ...timeouts, clientMs: longest + 1 } }));
        const refused = haproxyCheck(over, dir);
        assert.notEqual(refused.status, 0);
        assert.match(refused.stdout + refused.stderr, /timer overflow/);
    });
});
