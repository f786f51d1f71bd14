// End to end on the local platform, one small lab's whole life (one lab for all of it, so CI
// builds no other for these checks):
// - plain Pulumi builds it, as a Pulumi user runs it: in a clean shell (`env -i bash --noprofile
//   --norc`: no profile, no npm, no Go on PATH) after the one documented line
//   `eval "$(npm run -s lab -- env)"`: pulumi stack select --create, preview, up, stack output, destroy preview;
// - its c2m:haproxy.tls.certificate is rsa-2048: it serves an RSA-2048 certificate (seen by
//   openssl s_client on a client host, over the lab's SSH channel, as lab traffic goes), a TLS
//   attack records the key in run.json and the ledger, and switching the key in place (lab up)
//   makes HAProxy serve ECDSA P-256 without rebuilding the lab;
// - a two-cell `lab sweep` over haproxy.tls.certificate = ecdsa-p256, rsa-2048 on that same lab (a
//   lab key: lab up in place between the cells), through the TLS frontend: Ctrl-C during the
//   second cell leaves the first done and the second pending; `lab sweep --resume` runs only the
//   second, after which HAProxy serves RSA again; the comparison page has a row per cell linking
//   to each cell's own report; the stack file is as before;
// - its state is then deleted while its namespaces remain, and `lab reap` removes them by name:
//   zero residue.
// Stack cert13 on 198.18.100.0/24; runs go to a temporary directory. Needs root and the toolchain.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { labEnv, paths, REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { outputs, stackExists, teardownStack, type StackOutputs } from "../../scripts/lib/pulumiStack.ts";
import { stackConfigFile, stackSettingsFile, writeGeneratedStack } from "../../scripts/lib/stackSettings.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { localResidue } from "../../components/platform/local/residue.ts";
import { Remote } from "../../scripts/lib/remote.ts";
import { readLedger } from "../../scripts/lib/ledgerFile.ts";
import { formatRuns } from "../../scripts/analysis/ledgerRows.ts";
import { runLab } from "../unit/helpers.ts";
import { interrupt, startLab, waitForOutput } from "./labCli.ts";

const STACK = "cert13";
const MINUTE = 60_000;
const runsDir = mkdtempSync(join(tmpdir(), "c2m-cert-runs-"));
const stackFile = stackConfigFile(STACK); // generated: in the cache, never the checkout

/** A small lab: one host per role, one pong server, no metrics host. */
function writeStackConfig(certificate: string): void {
    const doc = YAML.parse(readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"), "utf8"));
    doc.config["c2m:local"] = { subnet: "198.18.100.0/24" };
    doc.config["c2m:hosts"] = { haproxy: 1, backends: 1, clients: 1, metrics: 0 };
    doc.config["c2m:backend"] = { serversPerHost: 1 };
    doc.config["c2m:haproxy"] = { ...doc.config["c2m:haproxy"], tls: { certificate } };
    writeGeneratedStack(STACK, YAML.stringify(doc));
}

const lab = (args: string[]) => runLab(args, { runsDir });

/**
 * Runs commands in a shell with an empty environment, as a fresh terminal without start-up files
 * would be (bash does not export the PATH it defaults to; a login shell does, so this one does
 * too), after the documented line. Each `step NAME command…` prints its output between markers;
 * the first failing step ends the shell. Returns each step's output and exit code.
 */
function cleanShell(steps: string): { code: number | null; out: string; step: (name: string) => { code: number; out: string } } {
    const env = process.env.C2M_CACHE ? [`C2M_CACHE=${process.env.C2M_CACHE}`] : [];
    const script = `export PATH; set -e; cd ${JSON.stringify(REPO_ROOT)}; eval "$(npm run -s lab -- env)"
step() { name=$1; shift; printf '\\n@@@ %s\\n' "$name"; set +e; "$@" 2>&1; rc=$?; set -e; printf '\\n@@@ %s exit %d\\n' "$name" "$rc"; return $rc; }
${steps}`;
    const r = spawnSync("env", ["-i", ...env, "bash", "--noprofile", "--norc", "-c", script], { encoding: "utf8", timeout: 10 * MINUTE });
    if (r.error) throw r.error;
    const out = `${r.stdout}${r.stderr}`;
    return {
        code: r.status,
        out,
        step: (name) => {
            const m = new RegExp(`\\n@@@ ${name}\\n([\\s\\S]*?)\\n@@@ ${name} exit (\\d+)\\n`).exec(out);
            assert.ok(m, `step ${name} did not run:\n${out}`);
            return { code: Number(m[2]), out: m[1] };
        },
    };
}

/** The TLS VIP's certificate as `openssl x509 -text` prints it, fetched with s_client on the client host. */
async function servedCertificate(out: StackOutputs): Promise<string> {
    const client = out.inventory.find((h) => h.role === "client")!;
    const vip = new URL(out.vips.tls!);
    const remote = Remote.forLab(out, { env: labEnv() });
    try {
        return await remote.check(
            client.name,
            `openssl s_client -connect ${vip.hostname}:${vip.port || 443} -servername lab </dev/null 2>/dev/null | openssl x509 -noout -text`,
            { timeoutMs: 30_000 },
        );
    } finally {
        await remote.close();
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

test('plain pulumi in a clean shell after eval "$(npm run -s lab -- env)": stack select --create, preview, up, stack output, destroy preview', {
    timeout: 10 * MINUTE,
}, async () => {
    stackSettingsFile(STACK); // `lab env` copies the committed stacks' settings; a generated stack's copy is the lab's to write
    const r = cleanShell(`eval "$(npm run -s lab -- env)"   # twice: the same PATH
step env bash --noprofile --norc -c 'command -v pulumi; command -v node; node --version; pulumi version; echo "$PATH"; env | cut -d= -f1 | sort | tr "\\n" " "'
settings="$C2M_STACK_SETTINGS/Pulumi.${STACK}.yaml"
step init pulumi stack select --create ${STACK} --cwd "$C2M_STACK_SETTINGS"
step preview pulumi preview --stack ${STACK} --config-file "$settings" --non-interactive
step up pulumi up --stack ${STACK} --config-file "$settings" --yes --non-interactive --skip-preview
step outputs pulumi stack output --stack ${STACK} --json
step destroy-preview pulumi destroy --stack ${STACK} --config-file "$settings" --preview-only --non-interactive`);
    assert.equal(r.code, 0, r.out);

    const [pulumi, node, nodeVersion, pulumiVersion, path, names] = r.step("env").out.trim().split("\n");
    assert.equal(pulumi, join(paths().bin, "pulumi"), "the cache's pulumi first");
    assert.equal(node, join(REPO_ROOT, "node_modules", ".bin", "node"), "the checkout's Node");
    assert.match(nodeVersion, /^v2[2-9]\./);
    assert.match(pulumiVersion, /^v3\./);
    assert.equal(path.split(":").filter((d) => d === paths().bin).length, 1, `the cache's bin once in ${path}`);
    assert.ok(path.endsWith(`:${join(REPO_ROOT, "scripts", "bin")}`), "the rig's plugins last");
    const exported = names.trim().split(" ");
    for (const key of ["PATH", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE_FILE", "C2M_BIN_PATH", "PULUMI_SKIP_UPDATE_CHECK", "C2M_STACK_SETTINGS"]) {
        assert.ok(exported.includes(key), `${key} exported: ${names}`);
    }
    assert.deepEqual(
        exported.filter((k) => /^(npm_|PYENV|GO)/.test(k)),
        [],
        "nothing of npm, pyenv or Go leaks into the shell",
    );

    const toCreate = Number(/\+ (\d+) to create/.exec(r.step("preview").out)?.[1]);
    assert.ok(toCreate >= 10, `preview plans the lab's resources:\n${r.step("preview").out}`);
    assert.match(r.step("up").out, new RegExp(`\\+ ${toCreate} created`), "up creates what preview planned");
    const out = JSON.parse(r.step("outputs").out);
    assert.equal(out.inventory.length, 3, "1 haproxy + 1 backend + 1 client");
    assert.equal(out.sshPrivateKey, "[secret]", "the key stays a secret in plain output");
    assert.match(r.step("destroy-preview").out, new RegExp(`- ${toCreate} to delete`), "destroy would remove all of it");
    assert.equal((await localResidue(STACK)).namespaces.length, 3, "one namespace per host");
});

test("the rsa-2048 lab serves an RSA 2048-bit certificate on its TLS VIP", { timeout: 10 * MINUTE }, async () => {
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
    // The list as `lab runs` prints it.
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

// ---- lab sweep on this lab ----------------------------------------------------------------------
const sweepJson = (id: string) => JSON.parse(readFileSync(join(runsDir, id, "sweep.json"), "utf8"));
let sweepId = "";
let stackText = "";

test("a sweep over the certificate stopped by Ctrl-C in its second cell: first done, second pending, stack file as before", {
    timeout: 10 * MINUTE,
}, async () => {
    stackText = readFileSync(stackFile, "utf8"); // as the sweep finds it
    const run = startLab(
        ["sweep", "--stack", STACK, "--set", "haproxy.tls.certificate=ecdsa-p256,rsa-2048", "--frontends", "tls", "--rate", "20", "--duration", "3"],
        runsDir,
    );
    await waitForOutput(run, /^cell 2\/2 \(haproxy\.tls\.certificate=rsa-2048\): lab up/m);
    await new Promise((r) => setTimeout(r, 1500));
    interrupt(run);
    const code = await run.done;
    assert.equal(code, 130, run.output());
    sweepId = /^sweep (sweep-\S+): 2 cells/m.exec(run.output())?.[1] ?? "";
    assert.ok(sweepId, run.output());
    assert.match(run.output(), new RegExp(`lab sweep --resume ${sweepId}\` goes on`));
    const state = sweepJson(sweepId);
    assert.deepEqual(
        state.cells.map((c: { status: string }) => c.status),
        ["done", "pending"],
    );
    assert.equal(readFileSync(stackFile, "utf8"), stackText, "the stack file is restored");
});

test("lab sweep --resume runs only the pending cell, in place; the comparison page links both cells' reports", { timeout: 10 * MINUTE }, async () => {
    const before = sweepJson(sweepId).cells[0].runId;
    const r = await lab(["sweep", "--resume", sweepId]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /resuming, 1 of 2 cells done/);
    assert.doesNotMatch(r.out, /^cell 1\/2/m, "the done cell is not run again");
    assert.doesNotMatch(r.out, /namespace\S* +(deleting|deleted|replacing|replaced)/, "the lab's hosts were kept");
    const state = sweepJson(sweepId);
    assert.deepEqual(
        state.cells.map((c: { status: string }) => c.status),
        ["done", "done"],
    );
    assert.equal(state.cells[0].runId, before);
    const certificates = state.cells.map((c: { runId: string }) => JSON.parse(readFileSync(join(runsDir, c.runId, "run.json"), "utf8")).certificate);
    assert.deepEqual(certificates, ["ecdsa-p256", "rsa-2048"], "each cell ran on its own certificate");
    assert.match(await servedCertificate(await outputs(STACK)), /Public Key Algorithm: rsaEncryption/, "the second cell's lab up switched HAProxy back to RSA");
    const html = readFileSync(join(runsDir, sweepId, "sweep.html"), "utf8");
    for (const c of state.cells) {
        assert.match(html, new RegExp(`<a href="\\.\\./${c.runId}/report\\.html">`));
        assert.ok(existsSync(join(runsDir, c.runId, "report.html")), `${c.runId}/report.html`);
    }
    assert.equal((html.match(/<figure /g) ?? []).length, 4);
    assert.equal(readFileSync(stackFile, "utf8"), stackText, "the stack file is restored");
});

test("lab reap of a stack whose state was deleted but whose namespaces remain: zero residue", { timeout: 10 * MINUTE }, async () => {
    const rm = spawnSync("pulumi", ["stack", "rm", STACK, "--yes", "--force", "--preserve-config", "--cwd", REPO_ROOT], { env: labEnv(), encoding: "utf8" });
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal(await stackExists(STACK), false);
    assert.equal((await localResidue(STACK)).namespaces.length, 3, "orphaned namespaces");
    assert.ok((await localResidue(STACK)).processes.length > 0, "orphaned processes");
    const reap = await lab(["reap", "--stack", STACK]);
    assert.equal(reap.code, 0, reap.out);
    assert.match(reap.out, /residue check: none/);
    const residue = await localResidue(STACK);
    assert.equal(residueCount(residue), 0, describeResidue(residue));
});
