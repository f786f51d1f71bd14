// The committed `local` stack through the operator's two paths, on a real lab: `lab up` / `lab down`,
// then, after that lab down, the README's plain Pulumi in a clean shell:
//   eval "$(npm run -s lab -- env)"
//   pulumi stack select --create local --cwd "$C2M_STACK_SETTINGS"
//   pulumi up --stack local --config-file "$C2M_STACK_SETTINGS/Pulumi.local.yaml"
// (as `pulumi preview`, to build one lab only: certificate.test.ts runs the same commands' `up` on a
// stack of its own). Neither path writes into the checkout's top level nor changes a committed
// stack file by one byte. A destroy never reaches a host: with every host's SSH key revoked first,
// `lab down` still removes everything (remote commands go with their host: deletedWith).
// Stack `local` on its committed subnet; skipped when a `local` lab exists already (someone's).
// Needs root (network namespaces) and the toolchain (`npm run bootstrap`).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { outputs, stackExists, teardownStack } from "../../scripts/lib/pulumiStack.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { localResidue } from "../../components/platform/local/residue.ts";
import { localNames } from "../../components/platform/local/scripts.ts";
import { startLab } from "./labCli.ts";

const STACK = "local";
const MINUTE = 60_000;
const runsDir = mkdtempSync(join(tmpdir(), "c2m-plain-runs-"));
let ours = false;

/**
 * The checkout's top level as far as Pulumi could touch it: each Pulumi*.yaml with its hash, and
 * whether .pulumi exists. (runs/ is the runs directory, ignored by git: other test files may write it meanwhile.)
 */
function topLevel(): Record<string, string> {
    const entries = readdirSync(REPO_ROOT).filter((f) => /^Pulumi\..*yaml$/.test(f) || f === ".pulumi");
    return Object.fromEntries(
        entries.sort().map((f) => [
            f,
            /\.yaml$/.test(f)
                ? createHash("sha256")
                      .update(readFileSync(join(REPO_ROOT, f)))
                      .digest("hex")
                : "present",
        ]),
    );
}

/** git's view of the committed stack files (modified, added, removed, ignored). */
const gitStatus = () => spawnSync("git", ["status", "--porcelain", "--ignored", "--", "Pulumi.*", ".pulumi"], { cwd: REPO_ROOT, encoding: "utf8" }).stdout;

async function lab(args: string[]): Promise<{ code: number | null; out: string }> {
    const r = startLab(args, runsDir);
    const code = await r.done;
    return { code, out: r.output() };
}

/** Commands in a shell with an empty environment (a fresh terminal), in the checkout, after the README's eval line. */
function cleanShell(commands: string): { code: number | null; out: string } {
    const env = process.env.C2M_CACHE ? [`C2M_CACHE=${process.env.C2M_CACHE}`] : [];
    const script = `export PATH; set -ex; cd ${JSON.stringify(REPO_ROOT)}; eval "$(npm run -s lab -- env)"\n${commands}`;
    const r = spawnSync("env", ["-i", ...env, "bash", "--noprofile", "--norc", "-c", script], { encoding: "utf8", timeout: 10 * MINUTE });
    if (r.error) throw r.error;
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** `true` over SSH on a host with the lab's key; its exit code and stderr. */
function sshTrue(keyFile: string, address: string): { code: number | null; stderr: string } {
    const r = spawnSync(
        "ssh",
        [
            "-F",
            "/dev/null",
            "-i",
            keyFile,
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=5",
            `root@${address}`,
            "true",
        ],
        { encoding: "utf8", timeout: 30_000 },
    );
    return { code: r.status, stderr: r.stderr };
}

after(async () => {
    rmSync(runsDir, { recursive: true, force: true });
    if (!ours) return;
    const left = await teardownStack(STACK);
    assert.equal(residueCount(left), 0, describeResidue(left));
});

test("lab up / lab down of local, then the README's plain pulumi after that lab down: the checkout unchanged; destroy never reaches a host", {
    timeout: 30 * MINUTE,
}, async (t) => {
    if (await stackExists(STACK)) return t.skip(`a ${STACK} lab exists already: not this test's to tear down`);
    ours = true;
    const before = topLevel();
    const gitBefore = gitStatus();
    assert.ok(before["Pulumi.local.yaml"], "the committed local stack file");

    const up = await lab(["up", "--stack", STACK]);
    assert.equal(up.code, 0, up.out);
    assert.deepEqual(topLevel(), before, "lab up wrote nothing into the checkout");

    // Every host's key revoked: a destroy that ran a remote command's delete step would now fail on it.
    const out = await outputs(STACK);
    const keyDir = mkdtempSync(join(tmpdir(), "c2m-ssh-"));
    try {
        const keyFile = join(keyDir, "id");
        writeFileSync(keyFile, out.sshPrivateKey);
        chmodSync(keyFile, 0o600);
        const lb = out.inventory.find((h) => h.role === "haproxy")!;
        assert.equal(sshTrue(keyFile, lb.address).code, 0, "the lab's key opens the LB host");
        const keys = readdirSync(localNames(STACK).runDir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith("/authorized_keys"));
        assert.equal(keys.length, out.inventory.length, `one authorized_keys per host: ${keys.join(", ")}`);
        for (const f of keys) writeFileSync(join(localNames(STACK).runDir, f), "");
        const refused = sshTrue(keyFile, lb.address);
        assert.notEqual(refused.code, 0, "the key no longer opens it");
        assert.match(refused.stderr, /Permission denied/);
    } finally {
        rmSync(keyDir, { recursive: true, force: true });
    }
    const down = await lab(["down", "--stack", STACK]);
    assert.equal(down.code, 0, down.out);
    assert.match(down.out, /residue check: none/);
    assert.equal(await stackExists(STACK), false);
    assert.deepEqual(topLevel(), before, "lab down wrote nothing into the checkout");
    assert.equal(gitStatus(), gitBefore, "git sees no change to the stack files");

    // The README's path, after that lab down (the stack is gone, as on a fresh machine).
    const plain = cleanShell(`pulumi stack select --create ${STACK} --cwd "$C2M_STACK_SETTINGS"
pulumi preview --stack ${STACK} --config-file "$C2M_STACK_SETTINGS/Pulumi.local.yaml" --non-interactive
pulumi stack rm ${STACK} --yes --cwd "$C2M_STACK_SETTINGS"`);
    assert.equal(plain.code, 0, plain.out);
    const toCreate = Number(/\+ (\d+) to create/.exec(plain.out)?.[1]);
    const created = Number(/\+ (\d+) created/.exec(up.out)?.[1]);
    assert.equal(toCreate, created, `plain pulumi plans the lab lab up built, from the committed settings:\n${plain.out}`);
    assert.equal(await stackExists(STACK), false);
    assert.deepEqual(topLevel(), before, "plain pulumi wrote nothing into the checkout");
    assert.equal(gitStatus(), gitBefore, "git sees no change to the stack files");
    assert.ok(existsSync(join(REPO_ROOT, "Pulumi.local.yaml")), "the committed file is still there");
});
