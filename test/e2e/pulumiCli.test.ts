// Plain Pulumi, as a Pulumi user runs it: in a clean shell (`env -i bash --noprofile --norc`,
// no profile, no npm, no Go on PATH), the one documented line
//     eval "$(npm run -s lab -- env)"
// then `pulumi stack init`, `pulumi preview`, `pulumi up`, `pulumi stack output`, `pulumi destroy`
// and `pulumi stack rm` on a generated copy of the local stack on its own subnet. Nothing may
// be left: no stack, no stack file, no namespace, process or firewall table.
// Needs root (network namespaces) and the toolchain (`npm run bootstrap`).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { paths, REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { stackExists, teardownStack } from "../../scripts/stack.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { localResidue } from "../../components/platform/local/residue.ts";

const STACK = "plaincli";
const SUBNET = "198.18.90.0/24";
const stackFile = join(REPO_ROOT, `Pulumi.${STACK}.yaml`);
const MINUTE = 60_000;

/**
 * Runs a script in a shell with an empty environment, as a fresh terminal without start-up files
 * would be (bash does not export the PATH it defaults to: a login shell does, so this one does too).
 * Only C2M_CACHE is handed over when the test itself runs with a cache of its own.
 */
function cleanShell(script: string, timeoutMs = 5 * MINUTE): { code: number | null; out: string } {
    const env: NodeJS.ProcessEnv = process.env.C2M_CACHE ? { C2M_CACHE: process.env.C2M_CACHE } : {};
    const r = spawnSync("env", ["-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), "bash", "--noprofile", "--norc", "-c",
        `export PATH; set -e; cd ${JSON.stringify(REPO_ROOT)}; eval "$(npm run -s lab -- env)"\n${script}`],
    { encoding: "utf8", timeout: timeoutMs });
    if (r.error) throw r.error;
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
    await teardownStack(STACK, stackFile); // leftovers of a killed earlier run
    const doc = YAML.parse(readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"), "utf8"));
    doc.config["c2m:local"] = { subnet: SUBNET };
    doc.config["c2m:ttlHours"] = 1;
    writeFileSync(stackFile, YAML.stringify(doc));
});

after(async () => {
    // Also when a step failed midway: nothing of the stack may remain.
    const left = await teardownStack(STACK, stackFile);
    assert.equal(residueCount(left), 0, describeResidue(left));
    assert.equal(await stackExists(STACK), false);
    assert.equal(existsSync(stackFile), false, "the generated stack file is gone");
});

test("the env line gives a clean shell the cache's pulumi, Node 22, the lab's backend and passphrase, and nothing else", () => {
    const r = cleanShell(`eval "$(npm run -s lab -- env)"   # twice: the same PATH
command -v pulumi; command -v node; node --version; pulumi version; echo "PATH=$PATH"; env | cut -d= -f1 | sort | tr '\\n' ' '`, MINUTE);
    assert.equal(r.code, 0, r.out);
    const [pulumi, node, nodeVersion, pulumiVersion, pathLine, names] = r.out.trim().split("\n");
    const path = pathLine.replace(/^PATH=/, "");
    assert.equal(pulumi, join(paths().bin, "pulumi"), "the cache's pulumi first");
    assert.equal(node, join(REPO_ROOT, "node_modules", ".bin", "node"), "the checkout's Node");
    assert.match(nodeVersion, /^v2[2-9]\./);
    assert.match(pulumiVersion, /^v3\./);
    assert.equal(path.split(":").filter((d) => d === paths().bin).length, 1, `cache bin once in ${path}`);
    assert.ok(path.endsWith(`:${join(REPO_ROOT, "scripts", "bin")}`), "the rig's plugins last");
    const exported = names.trim().split(" ");
    for (const key of ["PATH", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE_FILE", "C2M_BIN_PATH", "PULUMI_SKIP_UPDATE_CHECK"]) {
        assert.ok(exported.includes(key), `${key} exported: ${names}`);
    }
    assert.deepEqual(exported.filter((k) => /^(npm_|PYENV|GO)/.test(k)), [], "nothing of npm, pyenv or Go leaks into the shell");
});

test("plain pulumi stack init / preview / up / stack output / destroy / stack rm on a local stack", { timeout: 15 * MINUTE }, async () => {
    const init = cleanShell(`pulumi stack init ${STACK}`, MINUTE);
    assert.equal(init.code, 0, init.out);

    const preview = cleanShell(`pulumi preview --stack ${STACK} --non-interactive`);
    assert.equal(preview.code, 0, preview.out);
    const toCreate = Number(/\+ (\d+) to create/.exec(preview.out)?.[1]);
    assert.ok(toCreate >= 20, `preview plans the lab's resources:\n${preview.out}`);
    assert.equal((await localResidue(STACK)).namespaces.length, 0, "preview creates nothing");

    const up = cleanShell(`pulumi up --stack ${STACK} --yes --non-interactive --skip-preview`, 10 * MINUTE);
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, new RegExp(`\\+ ${toCreate} created`), "up creates what preview planned");
    const outputs = cleanShell(`pulumi stack output --stack ${STACK} --json`, MINUTE);
    assert.equal(outputs.code, 0, outputs.out);
    const out = JSON.parse(outputs.out);
    assert.equal(out.inventory.length, 6, "1 haproxy + 2 backends + 2 clients + 1 metrics");
    assert.equal(out.sshPrivateKey, "[secret]", "the key stays a secret in plain output");
    assert.equal((await localResidue(STACK)).namespaces.length, 6, "one namespace per host");

    const destroy = cleanShell(`pulumi destroy --stack ${STACK} --yes --non-interactive --skip-preview && pulumi stack rm ${STACK} --yes`);
    assert.equal(destroy.code, 0, destroy.out);
    assert.match(destroy.out, new RegExp(`- ${toCreate} deleted`));
    assert.equal(await stackExists(STACK), false);
    const residue = await localResidue(STACK);
    assert.equal(residueCount(residue), 0, describeResidue(residue));
});
