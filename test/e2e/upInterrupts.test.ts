// `lab up` that does not finish, on a real local lab of its own (so it runs beside
// reliability.test.ts's lab): an up that half-fails (HAProxy's host cannot get the open files it
// was planned with), an up interrupted by SIGINT and an up killed outright (SIGKILL, as the OOM
// killer does). After each, `lab down` must leave zero residue and no lock.
// Every command is the operator's CLI (`node scripts/lab.ts …`) run as a child process.
// Stack rel2 on 198.18.81.0/24 ($C2M_REL_NET moves it with reliability's); runs go to a temporary directory.
// Needs root (network namespaces) and the toolchain (`npm run bootstrap`).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { paths, REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { stackConfigFile, writeGeneratedStack } from "../../scripts/lib/stackSettings.ts";
import { teardownStack } from "../../scripts/lib/pulumiStack.ts";
import { runBase } from "../../scripts/lib/sshConnection.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { localResidue } from "../../components/platform/local/residue.ts";
import { detectNofileCeiling } from "../../components/platform/local/limits.ts";
import { interrupt, startLab, waitForOutput } from "./labCli.ts";

const HALF = "rel2";
const NET = Number(process.env.C2M_REL_NET ?? 80) + 1;
const MINUTE = 60_000;
const runsDir = mkdtempSync(join(tmpdir(), "c2m-rel2-runs-"));
const stackFile = stackConfigFile(HALF); // generated: in the cache, never the checkout

function writeStackConfig(stack: string, edit: (config: Record<string, any>) => void = () => undefined): void {
    const doc = YAML.parse(readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"), "utf8"));
    doc.config["c2m:local"] = { subnet: `198.18.${NET}.0/24` };
    doc.config["c2m:hosts"] = { ...doc.config["c2m:hosts"], metrics: 0 };
    edit(doc.config);
    writeGeneratedStack(stack, YAML.stringify(doc));
}

const lab = (args: string[]) => startLab(args, runsDir);
/** This file's `pulumi up` among the machine's processes (the Automation API gives --stack after the operation's flags). */
const pulumiUp = `pulumi up .*--stack ${HALF} `;

async function labDone(args: string[]): Promise<{ code: number | null; out: string }> {
    const r = lab(args);
    const code = await r.done;
    return { code, out: r.output() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sh(command: string, args: string[]): string {
    const r = spawnSync(command, args, { encoding: "utf8" });
    assert.equal(r.status, 0, `${command} ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
}

async function assertNoResidue(stack: string): Promise<void> {
    const residue = await localResidue(stack);
    assert.equal(residueCount(residue), 0, describeResidue(residue));
}

before(async () => {
    await teardownStack(HALF, stackFile); // leftovers of an earlier, killed run of this file
});

after(async () => {
    const left = await teardownStack(HALF, stackFile);
    rmSync(runsDir, { recursive: true, force: true });
    assert.equal(residueCount(left), 0, describeResidue(left));
});

test("lab down after a half-failed lab up: zero residue", { timeout: 10 * MINUTE }, async (t) => {
    const ceiling = detectNofileCeiling();
    if (ceiling > 1_000_000) return t.skip(`no per-process open-file ceiling here (${ceiling})`);
    // Valid config that claims a higher open-file ceiling than the machine gives: HAProxy's host
    // fails its read-back (`ulimit -n`), the other hosts come up.
    const connections = Math.floor((ceiling - 256) / 2) + 1000;
    writeStackConfig(HALF, (c) => {
        c["c2m:local"].nofileCeiling = ceiling + 4000;
        c["c2m:plan"] = { connections };
        c["c2m:haproxy"] = { maxconn: connections };
    });
    const up = await labDone(["up", "--stack", HALF]);
    assert.notEqual(up.code, 0, up.out);
    assert.match(up.out, new RegExp(`nofile: wanted \\d+, host allows ${ceiling}`));
    assert.ok((await localResidue(HALF)).namespaces.length > 0, "the half-built lab exists");
    const down = await labDone(["down", "--stack", HALF]);
    assert.equal(down.code, 0, down.out);
    await assertNoResidue(HALF);
});

test("SIGINT during lab up: pulumi stops cleanly (no lock, no stray process), lab down leaves zero residue", { timeout: 10 * MINUTE }, async () => {
    writeStackConfig(HALF);
    const run = lab(["up", "--stack", HALF]);
    await waitForOutput(run, /command:local:Command lab-\w+-\d+ created/);
    interrupt(run);
    const code = await run.done;
    assert.notEqual(code, 0);
    assert.match(run.output(), /lab: pulumi up interrupted by SIGINT; it stopped .* `lab down --stack rel2` removes what exists/);
    assert.equal(spawnSync("pgrep", ["-f", pulumiUp]).status, 1, "pulumi exited");
    const locks = join(paths().state, ".pulumi", "locks");
    const held = existsSync(locks)
        ? readdirSync(locks, { recursive: true, encoding: "utf8" }).filter((f) => f.includes(`/${HALF}/`) && f.endsWith(".json"))
        : [];
    assert.deepEqual(held, [], "the stack's lock was released");
    assert.ok((await localResidue(HALF)).namespaces.length > 0, "it was interrupted midway");
    const down = await labDone(["down", "--stack", HALF]);
    assert.equal(down.code, 0, down.out);
    await assertNoResidue(HALF);
});

test("lab up killed outright (SIGKILL): lab down lifts the dead pulumi's lock and leaves zero residue", { timeout: 10 * MINUTE }, async () => {
    /** pid → [ppid, args] of every process now. */
    const processes = () =>
        new Map(
            sh("ps", ["-eo", "pid=,ppid=,args="])
                .split("\n")
                .map((l) => l.trim().split(/\s+/))
                .filter((f) => f.length > 2)
                .map((f) => [f[0], { ppid: f[1], args: f.slice(2).join(" ") }]),
        );
    writeStackConfig(HALF);
    const run = lab(["up", "--stack", HALF]);
    await waitForOutput(run, /command:local:Command lab-\w+-\d+ created/);
    // The lab and its pulumi die at once, as under the OOM killer (pulumi, in the lab's process group, is killed by pid too).
    const pulumiPids = spawnSync("pgrep", ["-f", pulumiUp], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    assert.equal(pulumiPids.length, 1, "pulumi runs");
    // This pulumi's own plugins (language host, program, providers): its descendants, so another
    // test file's pulumi running beside this one is never mistaken for them.
    const before = processes();
    const descendants = [pulumiPids[0]];
    for (let grew = true; grew; ) {
        grew = false;
        for (const [pid, p] of before)
            if (descendants.includes(p.ppid) && !descendants.includes(pid)) {
                descendants.push(pid);
                grew = true;
            }
    }
    const plugins = descendants.slice(1).filter((pid) => /pulumi-language-nodejs|commandProvider\.ts|@pulumi\/pulumi\/cmd\/run/.test(before.get(pid)!.args));
    assert.ok(
        plugins.some((pid) => before.get(pid)!.args.includes("commandProvider.ts")),
        "the rig's provider runs under pulumi",
    );
    process.kill(-run.child.pid!, "SIGKILL");
    try {
        process.kill(Number(pulumiPids[0]), "SIGKILL");
    } catch {
        /* it was in the lab's process group, and is gone already */
    }
    await run.done;
    // The rig's provider notices its engine is gone (it checks every 2 s): up to 5 s for it to exit,
    // looked at every 200 ms rather than a fixed 5 s sleep.
    const providerLeft = (now: ReturnType<typeof processes>) =>
        plugins.some((pid) => now.get(pid)?.args === before.get(pid)!.args && before.get(pid)!.args.includes("commandProvider.ts"));
    let after = processes();
    for (const end = Date.now() + 5000; providerLeft(after) && Date.now() < end; after = processes()) await sleep(200);
    const survivors = plugins.filter((pid) => after.get(pid)?.args === before.get(pid)!.args);
    assert.deepEqual(
        survivors.filter((pid) => after.get(pid)!.args.includes("commandProvider.ts")),
        [],
        "the rig's provider exited with its engine",
    );
    // Whatever of pulumi's own plugins (language host, program) is still there: ours, so stop them.
    for (const pid of survivors) {
        try {
            process.kill(Number(pid), "SIGKILL");
        } catch {
            /* gone */
        }
    }
    const down = await labDone(["down", "--stack", HALF]);
    assert.equal(down.code, 0, down.out);
    assert.match(down.out, /lifting the lock of pulumi pid \d+, which no longer runs/);
    await assertNoResidue(HALF);
    // No SSH session directory (the stack's key in it) of the killed processes is left.
    const killed = [String(run.child.pid), ...descendants];
    assert.deepEqual(
        readdirSync(runBase()).filter((d) => killed.includes(/^c2m-remote-(\d+)-/.exec(d)?.[1] ?? "")),
        [],
    );
});
