// A two-cell `lab sweep` on a real local lab: haproxy.tls.certificate = ecdsa-p256, rsa-2048 (a lab
// key: lab up in place between the cells) through the TLS frontend. Ctrl-C during the second cell
// leaves the first done and the second pending; `lab sweep --resume` runs only the second; the
// comparison page has a row per cell linking to each cell's own report; the stack file is as
// before. Stack sweep13 on 198.18.106.0/24; runs go to a temporary directory. Needs root.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { teardownStack } from "../../scripts/stack.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";

const STACK = "sweep13";
const MINUTE = 60_000;
const runsDir = mkdtempSync(join(tmpdir(), "c2m-sweep-runs-"));
const stackFile = join(REPO_ROOT, `Pulumi.${STACK}.yaml`);
let stackText = "";

interface Run { child: ChildProcess; output: () => string; done: Promise<number | null> }

function lab(args: string[]): Run {
    const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "lab.ts"), ...args], {
        cwd: REPO_ROOT, env: { ...process.env, C2M_RUNS_DIR: runsDir }, stdio: ["ignore", "pipe", "pipe"], detached: true,
    });
    let out = "";
    child.stdout!.on("data", (d) => { out += d; });
    child.stderr!.on("data", (d) => { out += d; });
    const done = new Promise<number | null>((resolve, reject) => { child.on("error", reject); child.on("close", resolve); });
    return { child, output: () => out, done };
}

async function waitFor(r: Run, pattern: RegExp, timeoutMs = 5 * MINUTE): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pattern.test(r.output())) {
        if (r.child.exitCode !== null || Date.now() > end) assert.fail(`never printed ${pattern}:\n${r.output()}`);
        await new Promise((res) => setTimeout(res, 100));
    }
}

const sweepJson = (id: string) => JSON.parse(readFileSync(join(runsDir, id, "sweep.json"), "utf8"));

before(async () => {
    await teardownStack(STACK);
    const doc = YAML.parse(readFileSync(join(REPO_ROOT, "Pulumi.local.yaml"), "utf8"));
    doc.config["c2m:local"] = { subnet: "198.18.106.0/24" };
    doc.config["c2m:hosts"] = { haproxy: 1, backends: 1, clients: 1, metrics: 0 };
    doc.config["c2m:backend"] = { serversPerHost: 1 };
    stackText = `# sweep e2e stack\n${YAML.stringify(doc)}`;
    writeFileSync(stackFile, stackText);
});

after(async () => {
    const left = await teardownStack(STACK, stackFile);
    rmSync(runsDir, { recursive: true, force: true });
    assert.equal(residueCount(left), 0, describeResidue(left));
});

let sweepId = "";

test("lab up, then a sweep stopped by Ctrl-C in its second cell: first done, second pending, stack file as before", { timeout: 10 * MINUTE }, async () => {
    const up = lab(["up", "--stack", STACK]);
    assert.equal(await up.done, 0, up.output());
    stackText = readFileSync(stackFile, "utf8"); // as the sweep finds it (lab up adds the stack's encryption salt)
    const run = lab(["sweep", "--stack", STACK, "--set", "haproxy.tls.certificate=ecdsa-p256,rsa-2048", "--frontends", "tls", "--rate", "20", "--duration", "3"]);
    await waitFor(run, /^cell 2\/2 \(haproxy\.tls\.certificate=rsa-2048\): lab up/m);
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(-run.child.pid!, "SIGINT"); // the whole group, as a terminal's Ctrl-C
    const code = await run.done;
    assert.equal(code, 130, run.output());
    sweepId = /^sweep (sweep-\S+): 2 cells/m.exec(run.output())?.[1] ?? "";
    assert.ok(sweepId, run.output());
    assert.match(run.output(), new RegExp(`lab sweep --resume ${sweepId}\` goes on`));
    const state = sweepJson(sweepId);
    assert.deepEqual(state.cells.map((c: { status: string }) => c.status), ["done", "pending"]);
    assert.equal(readFileSync(stackFile, "utf8"), stackText, "the stack file is restored");
});

test("lab sweep --resume runs only the pending cell; the comparison page links both cells' reports", { timeout: 10 * MINUTE }, async () => {
    const before = sweepJson(sweepId).cells[0].runId;
    const run = lab(["sweep", "--resume", sweepId]);
    const code = await run.done;
    assert.equal(code, 0, run.output());
    assert.match(run.output(), /resuming, 1 of 2 cells done/);
    assert.doesNotMatch(run.output(), /^cell 1\/2/m, "the done cell is not run again");
    const state = sweepJson(sweepId);
    assert.deepEqual(state.cells.map((c: { status: string }) => c.status), ["done", "done"]);
    assert.equal(state.cells[0].runId, before);
    const certificates = state.cells.map((c: { runId: string }) => JSON.parse(readFileSync(join(runsDir, c.runId, "run.json"), "utf8")).certificate);
    assert.deepEqual(certificates, ["ecdsa-p256", "rsa-2048"], "each cell ran on its own certificate");
    const html = readFileSync(join(runsDir, sweepId, "sweep.html"), "utf8");
    for (const c of state.cells) {
        assert.match(html, new RegExp(`<a href="\\.\\./${c.runId}/report\\.html">`));
        assert.ok(existsSync(join(runsDir, c.runId, "report.html")), `${c.runId}/report.html`);
    }
    assert.equal((html.match(/<figure /g) ?? []).length, 4);
    assert.equal(readFileSync(stackFile, "utf8"), stackText, "the stack file is restored");
});
