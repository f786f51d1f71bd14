// End to end on the local platform: a lab whose c2m:haproxy.tls.certificate is rsa-2048 serves an
// RSA-2048 certificate (seen by openssl s_client on a client host, over the lab's SSH channel, as
// lab traffic goes), a TLS attack records the key in run.json and the ledger, and switching the
// key in place (lab up) makes HAProxy serve ECDSA P-256 without rebuilding the lab.
// Stack cert13 on 198.18.100.0/24; runs go to a temporary directory. Needs root and the toolchain.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { labEnv, REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { outputs, teardownStack, type StackOutputs } from "../../scripts/stack.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { SshSession } from "../../scripts/lib/ssh.ts";
import { readLedger } from "../../scripts/ledger.ts";
import { formatRuns } from "../../scripts/lib/ledger.ts";

const STACK = "cert13";
const MINUTE = 60_000;
const runsDir = mkdtempSync(join(tmpdir(), "c2m-cert-runs-"));
const stackFile = join(REPO_ROOT, `Pulumi.${STACK}.yaml`);

/** A small lab: one host per role, one pong server, no metrics host. */
function writeStackConfig(certificate: string): void {
    const doc = YAML.parse(readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"), "utf8"));
    doc.config["c2m:local"] = { subnet: "198.18.100.0/24" };
    doc.config["c2m:hosts"] = { haproxy: 1, backends: 1, clients: 1, metrics: 0 };
    doc.config["c2m:backend"] = { serversPerHost: 1 };
    doc.config["c2m:haproxy"] = { ...doc.config["c2m:haproxy"], tls: { certificate } };
    writeFileSync(stackFile, YAML.stringify(doc));
}

function lab(args: string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "lab.ts"), ...args], {
            cwd: REPO_ROOT, env: { ...process.env, C2M_RUNS_DIR: runsDir }, stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d) => { out += d; });
        child.stderr.on("data", (d) => { out += d; });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, out }));
    });
}

/** The TLS VIP's certificate as `openssl x509 -text` prints it, fetched with s_client on the client host. */
async function servedCertificate(out: StackOutputs): Promise<string> {
    const client = out.inventory.find((h) => h.role === "client")!;
    const vip = new URL(out.vips.tls!);
    const ssh = new SshSession(out.sshPrivateKey, labEnv(), out.inventory.map((h) => h.ssh.host));
    try {
        return await ssh.check(client.ssh, `openssl s_client -connect ${vip.hostname}:${vip.port || 443} -servername lab </dev/null 2>/dev/null | openssl x509 -noout -text`, 30_000);
    } finally {
        ssh.close();
    }
}

before(async () => {
    await teardownStack(STACK); // leftovers of an earlier, killed run
    writeStackConfig("rsa-2048");
});

after(async () => {
    const left = await teardownStack(STACK, stackFile);
    rmSync(runsDir, { recursive: true, force: true });
    assert.equal(residueCount(left), 0, describeResidue(left));
});

test("an rsa-2048 lab serves an RSA 2048-bit certificate on its TLS VIP", { timeout: 10 * MINUTE }, async () => {
    const up = await lab(["up", "--stack", STACK]);
    assert.equal(up.code, 0, up.out);
    const out = await outputs(STACK);
    assert.equal(out.labConfig.haproxy.tls.certificate, "rsa-2048");
    const text = await servedCertificate(out);
    assert.match(text, /Public Key Algorithm: rsaEncryption/);
    assert.match(text, /Public-Key: \(2048 bit\)/);
});

test("a TLS attack records the certificate in run.json and the ledger", { timeout: 5 * MINUTE }, async () => {
    const r = await lab(["attack", "--stack", STACK, "--rate", "20", "--duration", "2", "--frontends", "tls"]);
    assert.equal(r.code, 0, r.out);
    const dir = /^run \S+ → (\S+)$/m.exec(r.out)?.[1];
    assert.ok(dir, r.out);
    const run = JSON.parse(readFileSync(join(dir, "run.json"), "utf8"));
    assert.equal(run.certificate, "rsa-2048");
    assert.equal(run.summary.success, 1, JSON.stringify(run.summary));
    const row = JSON.parse(readFileSync(join(runsDir, "ledger.jsonl"), "utf8").trim().split("\n").at(-1)!);
    assert.equal(row.id, run.runId);
    assert.equal(row.certificate, "rsa-2048");
    // The list as `lab runs` prints it (lab runs reads runs/, not $C2M_RUNS_DIR).
    assert.match(formatRuns(readLedger(runsDir)), /\btls\(rsa-2048\)/);
});

test("switched to ecdsa-p256 in place: lab up updates the certificate and HAProxy, which then serves ECDSA P-256", { timeout: 10 * MINUTE }, async () => {
    writeStackConfig("ecdsa-p256");
    const up = await lab(["up", "--stack", STACK]);
    assert.equal(up.code, 0, up.out);
    assert.doesNotMatch(up.out, /namespace\S* +(deleting|deleted|replacing|replaced)/, "the lab's hosts were kept");
    const text = await servedCertificate(await outputs(STACK));
    assert.match(text, /Public Key Algorithm: id-ecPublicKey/);
    assert.match(text, /prime256v1|P-256/);
});
