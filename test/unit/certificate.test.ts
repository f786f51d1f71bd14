// The TLS frontend's certificate key: c2m:haproxy.tls.certificate (ecdsa-p256 by default,
// ecdsa-p384, rsa-2048), the rendered script that makes it, the path haproxy.cfg names, a real
// HAProxy serving it (and reloading onto another), and where a run records it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import tls from "node:tls";
import { CERTIFICATES, labCertificate, parseSchema, type Certificate } from "../../components/config.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { certificatePaths, certificateScript, haproxyPaths, haproxyStartScript, haproxyStopScript, pidFile } from "../../components/render/haproxyScripts.ts";
import { renderHaproxyConfig } from "../../components/render/haproxyConfig.ts";
import { RunRecordSchema } from "../../components/records/runRecord.ts";
import { LedgerRowSchema } from "../../components/records/ledgerRow.ts";
import { formatRuns, ledgerRow } from "../../scripts/analysis/ledgerRows.ts";
import { PRESET_SETTINGS } from "../../components/render/attack.ts";
import { bashSyntax, freeLoopbackPort, runBash, tempDir, which } from "./helpers.ts";

const p = haproxyPaths("/run/c2m/local/haproxy-0");

describe("c2m:haproxy.tls.certificate", () => {
    test("absent: ECDSA P-256, or ECDSA on the older curve key", () => {
        assert.equal(labCertificate(parseSchema({}).haproxy.tls), "ecdsa-p256");
        assert.equal(labCertificate(parseSchema({ haproxy: { tls: { curve: "P-384" } } }).haproxy.tls), "ecdsa-p384");
    });

    test("each key is taken as given", () => {
        for (const certificate of CERTIFICATES) {
            assert.equal(labCertificate(parseSchema({ haproxy: { tls: { certificate } } }).haproxy.tls), certificate);
        }
        assert.equal(labCertificate(parseSchema({ haproxy: { tls: { certificate: "ecdsa-p384", curve: "P-384" } } }).haproxy.tls), "ecdsa-p384");
    });

    test("an unknown key is refused naming the key and the choices; P-384 with another certificate is a contradiction", () => {
        assert.throws(
            () => parseSchema({ haproxy: { tls: { certificate: "rsa-4096" } } }),
            (err: Error) => /c2m:haproxy\.tls\.certificate: .*ecdsa-p256.*ecdsa-p384.*rsa-2048/.test(err.message),
        );
        for (const certificate of ["ecdsa-p256", "rsa-2048"]) {
            assert.throws(
                () => parseSchema({ haproxy: { tls: { certificate, curve: "P-384" } } }),
                (err: Error) => err.message.includes(`c2m:haproxy.tls.certificate: ${certificate} contradicts c2m:haproxy.tls.curve P-384`),
            );
        }
    });
});

describe("certificateScript", () => {
    test("the default key keeps lab.pem; every other key has files of its own", () => {
        assert.equal(certificatePaths(p, "ecdsa-p256").pem, p.pem);
        const pems = CERTIFICATES.map((c) => certificatePaths(p, c).pem);
        assert.equal(new Set(pems).size, CERTIFICATES.length);
        assert.equal(certificatePaths(p, "rsa-2048").pem, `${p.dir}/lab-rsa-2048.pem`);
    });

    test("renders openssl's key argument for each key, and parses", () => {
        const expected: Record<Certificate, RegExp> = {
            "ecdsa-p256": / -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 /,
            "ecdsa-p384": / -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 /,
            "rsa-2048": / -newkey rsa:2048 /,
        };
        for (const cert of CERTIFICATES) {
            const script = certificateScript(p, cert, "haproxy-0");
            assert.match(script, expected[cert]);
            assert.ok(script.includes(`-keyout ${certificatePaths(p, cert).key} -out ${certificatePaths(p, cert).crt}`), cert);
            assert.equal(bashSyntax(script).status, 0, cert);
        }
        assert.doesNotMatch(certificateScript(p, "rsa-2048", "x"), /ec_paramgen/);
    });

    test("rsa-2048 makes a self-signed RSA 2048-bit PEM bundle readable only by its owner, key and certificate together", {
        skip: !which("openssl") && "no openssl",
    }, (t) => {
        const paths = haproxyPaths(tempDir(t));
        const f = certificatePaths(paths, "rsa-2048");
        const r = runBash(certificateScript(paths, "rsa-2048", "haproxy-test"));
        assert.equal(r.status, 0, r.stderr);
        assert.equal(statSync(f.pem).mode & 0o777, 0o600);
        assert.equal(statSync(f.key).mode & 0o777, 0o600);
        const text = spawnSync("openssl", ["x509", "-noout", "-text", "-in", f.pem], { encoding: "utf8" }).stdout;
        assert.match(text, /Public Key Algorithm: rsaEncryption/);
        assert.match(text, /Public-Key: \(2048 bit\)/);
        assert.match(text, /Subject: CN ?= ?haproxy-test/);
        const pubFromCert = spawnSync("openssl", ["x509", "-noout", "-pubkey", "-in", f.pem], { encoding: "utf8" }).stdout;
        const pubFromKey = spawnSync("openssl", ["pkey", "-pubout", "-in", f.key], { encoding: "utf8" }).stdout;
        assert.equal(pubFromCert, pubFromKey);
        assert.match(readFileSync(f.pem, "utf8"), /-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN PRIVATE KEY-----/);
    });
});

/** The certificate a TLS server presents (a handshake, no request). */
function peerCertificate(port: number): Promise<tls.PeerCertificate> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, servername: "lab.test" }, () => {
            const cert = socket.getPeerCertificate();
            socket.end();
            resolve(cert);
        });
        socket.setTimeout(5000, () => socket.destroy(new Error("TLS handshake timed out")));
        socket.once("error", reject);
    });
}

describe("a real HAProxy serves the configured key, and reloads onto another", {
    skip: (!which("haproxy") || !which("openssl")) && "no haproxy/openssl",
}, () => {
    let dir = "";
    let paths = haproxyPaths("/nonexistent");
    let ports = { plain: 0, tls: 0, stats: 0 };
    const render = (certificate: Certificate) => {
        const cfg = parseLabConfig({
            plan: { connections: 100 },
            haproxy: { plainPort: ports.plain, tlsPort: ports.tls, statsPort: ports.stats, processes: 1, tls: { certificate } },
        });
        return renderHaproxyConfig({
            haproxy: cfg.haproxy,
            maxconnPerProcess: 100,
            bindAddress: "127.0.0.1",
            // The role's wiring: the pem of the lab's certificate.
            certPath: certificatePaths(paths, labCertificate(cfg.haproxy.tls)).pem,
            servers: [{ name: "pong-0", address: "127.0.0.1", port: 9 }],
        });
    };
    const start = (cfg: string) => runBash(haproxyStartScript(paths, { processes: 1, statsPort: ports.stats, nofile: 4096 }), { input: cfg });

    before(async () => {
        dir = tempDirManual();
        paths = haproxyPaths(dir);
        ports = { plain: await freeLoopbackPort(), tls: await freeLoopbackPort(), stats: await freeLoopbackPort() };
        for (const cert of ["rsa-2048", "ecdsa-p256"] as const) {
            const r = runBash(certificateScript(paths, cert, "lab.test"));
            assert.equal(r.status, 0, r.stderr);
        }
    });

    after(() => {
        if (dir) runBash(haproxyStopScript(paths));
        if (dir) runBash(`rm -rf '${dir}'`);
    });

    test("rsa-2048: the TLS frontend presents an RSA 2048-bit certificate", async () => {
        const rsa = render("rsa-2048");
        assert.match(rsa, /ssl crt \S+\/lab-rsa-2048\.pem /);
        const r = start(rsa);
        assert.equal(r.status, 0, r.stderr);
        const cert = await peerCertificate(ports.tls);
        assert.equal(cert.bits, 2048);
        assert.ok(cert.modulus, "an RSA modulus");
        assert.equal(cert.asn1Curve, undefined);
    });

    test("switched to ecdsa-p256: the config changes (another crt), HAProxy reloads and presents ECDSA P-256", async () => {
        const before = readFileSync(pidFile(paths, 0), "utf8").trim();
        const ecdsa = render("ecdsa-p256");
        assert.notEqual(ecdsa, render("rsa-2048"), "a different key is a different haproxy.cfg");
        const r = start(ecdsa);
        assert.equal(r.status, 0, r.stderr);
        assert.notEqual(readFileSync(pidFile(paths, 0), "utf8").trim(), before, "a new process (reload -sf)");
        const cert = await peerCertificate(ports.tls);
        assert.equal(cert.asn1Curve, "prime256v1");
        assert.equal(cert.bits, 256);
    });
});

function tempDirManual(): string {
    return spawnSync("mktemp", ["-d", "/tmp/c2m-unit-cert-XXXXXX"], { encoding: "utf8" }).stdout.trim();
}

describe("runs record the certificate", () => {
    const run = (over: Record<string, unknown> = {}) =>
        RunRecordSchema.parse({
            runId: "20261201-120000-local",
            stack: "local",
            startedAt: "2026-12-01T12:00:00.000Z",
            finishedAt: "2026-12-01T12:00:10.000Z",
            interrupted: false,
            settings: { ...PRESET_SETTINGS.smoke, frontends: ["plain", "tls"] },
            processes: [],
            versions: { pulumi: "3", node: "22", vegeta: "12", haproxy: "2.6" },
            summary: {
                requests: 10,
                success: 1,
                rate: 1,
                throughput: 1,
                latencies: { mean: 1e6, "50th": 1e6, "90th": 1e6, "95th": 1e6, "99th": 1e6, max: 1e6 },
                status_codes: { "200": 10 },
                errors: [],
            },
            perFrontend: {},
            haproxy: {},
            serversDown: [],
            failedProcesses: [],
            ...over,
        });

    test("run.json: optional (older runs have none), one of the keys when present", () => {
        assert.equal(run().certificate, undefined);
        assert.equal(run({ certificate: "rsa-2048" }).certificate, "rsa-2048");
        assert.throws(() => run({ certificate: "dsa-1024" }));
    });

    test("the ledger row carries it and the list shows it beside the TLS frontend", () => {
        const row = ledgerRow(run({ certificate: "rsa-2048" }), { preset: "smoke", platform: "local" });
        assert.equal(LedgerRowSchema.parse(row).certificate, "rsa-2048");
        assert.match(formatRuns([row]), /plain\+tls\(rsa-2048\)/);
        const older = ledgerRow(run(), { preset: "smoke", platform: "local" });
        assert.equal("certificate" in older, false);
        assert.match(formatRuns([older]), /plain\+tls\s/);
    });
});
