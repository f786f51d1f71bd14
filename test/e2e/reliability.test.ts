// Reliability on the local platform, with faults injected into real labs (real Pulumi engine,
// sshd, HAProxy, vegeta, pong): config changes, interrupted runs (SIGINT during `lab attack`,
// `lab tipping`, `lab up`), lost parts mid-attack (a pong server killed, a backend's network
// cut, a client lost), idempotent teardown (`lab down` twice) and secrets kept out of logs, run
// directories and outputs. (Interrupted and half-failed `lab up`s are upInterrupts.test.ts, on a
// lab of their own, so the two run side by side; `lab reap` without state runs on
// certificate.test.ts's small lab, which it ends.)
// Every command is the operator's CLI (`node scripts/lab.ts …`) run as a child process.
// Stack rel on 198.18.80.0/24 ($C2M_REL_NET moves it); runs go to a temporary directory.
// Needs root (network namespaces) and the toolchain (`npm run bootstrap`).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { labEnv, paths, REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { outputs, stackExists, teardownStack, type StackOutputs } from "../../scripts/lib/pulumiStack.ts";
import { stackConfigFile, writeGeneratedStack } from "../../scripts/lib/stackSettings.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { localResidue } from "../../components/platform/local/residue.ts";
import { quote, Remote } from "../../scripts/lib/remote.ts";
import { localNames } from "../../components/platform/local/scripts.ts";
import { haproxyPaths, haproxyStartScript, pidFile } from "../../components/render/haproxyScripts.ts";
import { PARTIAL_EXIT_CODE } from "../../scripts/lib/attackOutcome.ts";
import { interrupt as interruptGroup, startLab, waitForOutput, type LabRun } from "./labCli.ts";

const LAB = "rel"; // the shared lab: config changes, interrupts, lost parts, down twice
/** Third octet of the subnet (C2M_REL_NET moves it, e.g. away from another run of this file). */
const NET = Number(process.env.C2M_REL_NET ?? 80);
const MINUTE = 60_000;

const runsDir = mkdtempSync(join(tmpdir(), "c2m-rel-runs-"));
/** A stack's settings: the committed local's, or a generated one in the cache (never the checkout). */
const stackFile = (stack: string) => stackConfigFile(stack);
/** Everything every command printed: the secrets test greps it. */
const logs: string[] = [];
const counts = { commands: 0, faults: 0, residueFound: 0 };
/** How long each command took, for the summary at the end (where this file's time goes). */
const timings: { what: string; ms: number }[] = [];

function writeStackConfig(stack: string, edit: (config: Record<string, any>) => void = () => undefined): void {
    const doc = YAML.parse(readFileSync(stackFile("local"), "utf8"));
    doc.config["c2m:local"] = { subnet: `198.18.${NET}.0/24` };
    // Lean labs: the faults here are about the lab's own parts, not the metrics host.
    doc.config["c2m:hosts"] = { ...doc.config["c2m:hosts"], metrics: 0 };
    edit(doc.config);
    writeGeneratedStack(stack, YAML.stringify(doc));
}

/** `lab <args>` as the operator runs it; its output and time are kept for the secrets test and the summary. */
function lab(args: string[]): LabRun {
    counts.commands++;
    return startLab(args, runsDir, (output, ms) => {
        logs.push(`$ lab ${args.join(" ")}\n${output}`);
        timings.push({ what: `lab ${args.join(" ")}`, ms });
    });
}

async function labDone(args: string[]): Promise<{ code: number | null; out: string }> {
    const r = lab(args);
    const code = await r.done;
    return { code, out: r.output() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function interrupt(r: LabRun): void {
    counts.faults++;
    interruptGroup(r);
}

function sh(command: string, args: string[], env = process.env): string {
    const r = spawnSync(command, args, { encoding: "utf8", env });
    assert.equal(r.status, 0, `${command} ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
}

async function assertNoResidue(stack: string): Promise<void> {
    const residue = await localResidue(stack);
    counts.residueFound += residueCount(residue);
    assert.equal(residueCount(residue), 0, describeResidue(residue));
}

/** Names of the resources a `pulumi up` touched, and its "Resources:" summary. */
function changes(out: string): { touched: Set<string>; summary: string[] } {
    const touched = new Set(
        [...out.matchAll(/^\s*[-+~]+\s+\S+:\S+:\S+\s+(\S+)\s+(?:creating|created|updating|updated|deleting|deleted|replacing|replaced)/gm)].map((m) => m[1]),
    );
    const block = /^Resources:\n((?:[ \t]+\S.*\n)+)/m.exec(out)?.[1] ?? "";
    return {
        touched,
        summary: block
            .split("\n")
            .map((l) => l.trim())
            .filter(Boolean),
    };
}

function runDirOf(out: string): string {
    const m = /^run (\S+)(?: \(interrupted\))? → (\S+)$/m.exec(out);
    assert.ok(m, `no run directory printed:\n${out}`);
    return m[2];
}

let out: StackOutputs;

// ---- 6. secrets ------------------------------------------------------------------------------
/** Text forms a leaked secret would take: the key's PEM lines, its base64 (as key generation prints it), the passphrase. */
let secretForms: { name: string; text: string }[] = [];

function collectSecrets(privateKey: string): void {
    // The first line of every OpenSSH ed25519 key is the same header, the last one mostly padding: the middle ones are the key's own.
    const pemLines = privateKey
        .split("\n")
        .filter((l) => l.length >= 20 && !l.startsWith("-----"))
        .slice(1, -1);
    assert.ok(pemLines.length >= 2, "an OpenSSH private key has several base64 lines");
    const b64 = Buffer.from(privateKey).toString("base64");
    const passphrase = readFileSync(paths().passphraseFile, "utf8").trim();
    assert.ok(passphrase.length >= 16, "the generated passphrase is long enough to grep for");
    secretForms = [
        ...pemLines.map((text, i) => ({ name: `private key line ${i + 1}`, text })),
        { name: "private key as base64", text: b64.slice(40, 120) },
        { name: "state passphrase", text: passphrase },
    ];
}

function assertNoSecret(where: string, content: string | Buffer): void {
    for (const s of secretForms) assert.ok(!content.includes(s.text), `${s.name} found in ${where}`);
}

function filesUnder(dir: string): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { recursive: true, encoding: "utf8" })
        .map((f) => join(dir, f))
        .filter((f) => {
            try {
                const st = statSync(f);
                return st.isFile() && st.size < 64 * 2 ** 20;
            } catch {
                return false;
            }
        });
}

before(async () => {
    // Leftovers of an earlier, killed run of this file.
    await teardownStack(LAB, stackFile(LAB));
    writeStackConfig(LAB);
});

after(async () => {
    // Runs also when a test failed midway: nothing of any of these stacks may remain.
    const left = await teardownStack(LAB, stackFile(LAB));
    assert.equal(residueCount(left), 0, describeResidue(left));
    rmSync(runsDir, { recursive: true, force: true });
    process.stderr.write(`reliability: ${counts.commands} lab commands, ${counts.faults} faults injected, ${counts.residueFound} residue items found\n`);
    const slowest = [...timings].sort((a, b) => b.ms - a.ms).slice(0, 8);
    process.stderr.write(
        `reliability: slowest commands (of ${timings.length}, ${(timings.reduce((t, x) => t + x.ms, 0) / 1000).toFixed(1)} s in all):\n` +
            slowest.map((t) => `  ${(t.ms / 1000).toFixed(1).padStart(6)} s  ${t.what}`).join("\n") +
            "\n",
    );
});

test("lab up builds the shared lab", { timeout: 10 * MINUTE }, async () => {
    const r = await labDone(["up", "--stack", LAB]);
    assert.equal(r.code, 0, r.out);
    out = await outputs(LAB);
    assert.equal(out.inventory.length, 5);
    collectSecrets(out.sshPrivateKey);
});

test("secrets: plain stack outputs, the stack's state and the hosts' files hold no key or passphrase", { timeout: 5 * MINUTE }, async () => {
    const plain = sh("pulumi", ["stack", "output", "--json", "--stack", LAB, "--cwd", REPO_ROOT], labEnv());
    assert.equal(JSON.parse(plain).sshPrivateKey, "[secret]");
    assertNoSecret("pulumi stack output --json", plain);
    const stateFiles = filesUnder(join(paths().state, ".pulumi", "stacks")).filter((f) => f.endsWith(`/${LAB}.json`));
    assert.equal(stateFiles.length, 1, "the stack's checkpoint");
    assertNoSecret(stateFiles[0], readFileSync(stateFiles[0]));
    assertNoSecret(stackFile(LAB), readFileSync(stackFile(LAB)));
    const written = join(paths().stackSettings, `Pulumi.${LAB}.yaml`);
    assert.match(readFileSync(written, "utf8"), /^encryptionsalt: /m, "the settings file pulumi wrote its salt into");
    assertNoSecret(written, readFileSync(written));
    const hostFiles = filesUnder(localNames(LAB).runDir);
    assert.ok(
        hostFiles.some((f) => f.endsWith("/authorized_keys")),
        "the hosts' files were scanned",
    );
    for (const f of hostFiles) assertNoSecret(f, readFileSync(f));
});

// ---- 5. config changes -----------------------------------------------------------------------

test("a second lab up with no change changes nothing", { timeout: 10 * MINUTE }, async () => {
    const r = await labDone(["up", "--stack", LAB]);
    assert.equal(r.code, 0, r.out);
    const { touched, summary } = changes(r.out);
    assert.deepEqual([...touched], [], r.out);
    assert.equal(summary.length, 1, r.out);
    assert.match(summary[0], /^\d+ unchanged$/);
});

test("a HAProxy config that fails haproxy -c is refused and the running HAProxy keeps serving", { timeout: 5 * MINUTE }, async () => {
    const lb = out.inventory.find((h) => h.role === "haproxy")!;
    const p = haproxyPaths(lb.workDir);
    const pidsBefore = readFileSync(pidFile(p, 0), "utf8");
    const cfgBefore = readFileSync(p.cfg, "utf8");
    const raw = out as StackOutputs & { nofile: Record<string, number> };
    // Exactly what the role runs (haproxy-service's create), over SSH with the lab's key.
    const script = haproxyStartScript(p, {
        processes: out.capacityPlan.haproxy.processes,
        statsPort: out.labConfig.haproxy.statsPort,
        nofile: raw.nofile[lb.name],
    });
    const bad = `${cfgBefore}\nbackend broken\n    balance no-such-algorithm\n`;
    const remote = Remote.forLab(out, { env: labEnv() });
    try {
        counts.faults++;
        // Root's shell on the host is bash: zx's quoting reaches it unchanged.
        const r = await remote.run(lb.name, `printf '%s' ${quote(bad)} | bash -c ${quote(script)}`, { timeoutMs: MINUTE });
        assert.notEqual(r.code, 0, "the broken config was accepted");
        assert.match(r.stderr, /haproxy -c rejected the new config/);
        assert.match(r.stderr, /\[ALERT\].*haproxy\.cfg\.new:\d+\] : balance/, "haproxy's own complaint is shown");
    } finally {
        await remote.close();
    }
    assert.equal(readFileSync(p.cfg, "utf8"), cfgBefore, "the installed config is untouched");
    assert.equal(existsSync(`${p.cfg}.new`), false);
    assert.equal(readFileSync(pidFile(p, 0), "utf8"), pidsBefore, "HAProxy was not restarted");
    const response = await postFromClient(out, out.vips.plain);
    assert.equal(response.status, 200, "HAProxy still serves");
});

test("a changed c2m:haproxy.timeouts.queueMs updates only the HAProxy service, which reloads", { timeout: 10 * MINUTE }, async () => {
    const lb = out.inventory.find((h) => h.role === "haproxy")!;
    const p = haproxyPaths(lb.workDir);
    const pidBefore = readFileSync(pidFile(p, 0), "utf8").trim();
    writeStackConfig(LAB, (c) => {
        c["c2m:haproxy"] = { ...c["c2m:haproxy"], timeouts: { queueMs: 45_000 } };
    });
    const r = await labDone(["up", "--stack", LAB]);
    assert.equal(r.code, 0, r.out);
    const { touched, summary } = changes(r.out);
    assert.deepEqual([...touched], ["haproxy-service"], r.out);
    assert.ok(summary.includes("~ 1 updated"), summary.join("\n"));
    assert.match(readFileSync(p.cfg, "utf8"), /timeout queue 45000ms/);
    assert.notEqual(readFileSync(pidFile(p, 0), "utf8").trim(), pidBefore, "HAProxy reloaded (-sf): a new process");
    const response = await postFromClient(out, out.vips.plain);
    assert.equal(response.status, 200);
    out = await outputs(LAB);
});

// ---- 1. bad attack options against a live lab --------------------------------------------------

test("attack options that do not fit the lab are refused before a run directory exists", { timeout: 5 * MINUTE }, async () => {
    const before = readdirSync(runsDir).length;
    const timeout = await labDone(["attack", "--stack", LAB, "--timeout", "0.01"]);
    assert.notEqual(timeout.code, 0);
    assert.match(timeout.out, /--timeout 0\.01/);
    assert.match(timeout.out, /c2m:attack\.timeoutS: 0\.01 s is shorter than the longest response .* = 63 ms/);
    const rate = await labDone(["attack", "--stack", LAB, "--rate", "1000000"]);
    assert.notEqual(rate.code, 0);
    assert.match(rate.out, /--rate 1000000/);
    assert.match(rate.out, /c2m:plan\.connections: .* above the 2000 planned per client/);
    assert.equal(readdirSync(runsDir).length, before, "no run directory");
});

// ---- 2. interrupted runs ---------------------------------------------------------------------

test("SIGINT during lab attack: exit 130, the run directory keeps run.json and the partial results", { timeout: 5 * MINUTE }, async () => {
    const rate = 50;
    const durationS = 30;
    const run = lab(["attack", "--stack", LAB, "--rate", String(rate), "--duration", String(durationS), "--frontends", "plain"]);
    const [, runId] = await waitForOutput(run, /^attack (\S+): \d+ vegeta processes/m);
    await sleep(3000);
    interrupt(run);
    const code = await run.done;
    assert.equal(code, 130, run.output());
    assert.match(run.output(), /interrupted: stopping vegeta on every client/);
    const dir = runDirOf(run.output());
    const json = JSON.parse(readFileSync(join(dir, "run.json"), "utf8"));
    assert.equal(json.interrupted, true);
    assert.ok(json.summary.requests > 0 && json.summary.requests < rate * durationS * 2, `partial: ${json.summary.requests} requests`);
    const bins = readdirSync(join(dir, "results"));
    assert.equal(bins.length, 2, "one result file per client");
    for (const b of bins) assert.ok(statSync(join(dir, "results", b)).size > 0, `${b} is empty`);
    assert.ok(existsSync(join(dir, "report.txt")));
    assert.equal(spawnSync("pgrep", ["-f", runId]).status, 1, "no vegeta of the run still runs");
});

test("SIGINT during lab tipping: non-zero exit with a message, the search keeps what it measured", { timeout: 5 * MINUTE }, async () => {
    const run = lab(["tipping", "--stack", LAB, "--start", "40", "--duration", "20", "--max-steps", "3", "--frontend", "plain"]);
    const [, runId] = await waitForOutput(run, /^attack (\S+): \d+ vegeta processes/m);
    await sleep(3000);
    interrupt(run);
    const code = await run.done;
    assert.notEqual(code, 0, run.output());
    assert.match(run.output(), /lab: interrupted during step 1 \(run \S+\); 0 steps measured so far: \S+tipping\.txt/);
    const searchDir = readdirSync(runsDir).find((d) => d.startsWith("tipping-"));
    assert.ok(searchDir, "the search's directory");
    const search = JSON.parse(readFileSync(join(runsDir, searchDir, "tipping.json"), "utf8"));
    assert.equal(search.interrupted, true);
    assert.deepEqual(search.steps, []);
    assert.ok(existsSync(join(runsDir, searchDir, "args.json")));
    const step = JSON.parse(readFileSync(join(runsDir, runId, "run.json"), "utf8"));
    assert.equal(step.interrupted, true, "the step's run is kept, marked interrupted");
    assert.ok(step.summary.requests > 0);
    assert.equal(spawnSync("pgrep", ["-f", runId]).status, 1, "no vegeta of the step still runs");
});

// ---- 3. lost parts mid-attack ----------------------------------------------------------------

test("a pong server killed, a backend's network cut, a client lost: the attack completes, attributes them, records the run and exits non-zero", {
    timeout: 5 * MINUTE,
}, async () => {
    const names = localNames(LAB);
    const pongPid = readFileSync(`${names.runDir}/backend-0/pong/pids`, "utf8").split("\n")[0].trim();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: /proc/<pid>/cmdline separates arguments with NUL
    assert.match(readFileSync(`/proc/${pongPid}/cmdline`, "utf8"), /pong\.ts\x008282/, "the first pid is pong on 8282");
    const rate = 100;
    const durationS = 10;
    const run = lab(["attack", "--stack", LAB, "--rate", String(rate), "--duration", String(durationS), "--timeout", "4"]);
    await waitForOutput(run, /^attack (\S+): \d+ vegeta processes/m);
    await sleep(2000);
    counts.faults += 3;
    process.kill(Number(pongPid), "SIGKILL");
    sh("ip", ["netns", "exec", names.namespace("backend-1"), "ip", "link", "set", "eth0", "down"]);
    // The whole client host: its sshd and vegeta processes.
    const clientPids = sh("ip", ["netns", "pids", names.namespace("client-1")])
        .split("\n")
        .filter(Boolean);
    assert.ok(clientPids.length > 0);
    spawnSync("kill", ["-KILL", ...clientPids]);
    const code = await run.done;
    const text = run.output();
    // Part of the attack was lost and --allow-partial was not given: recorded, but not a success.
    assert.equal(code, PARTIAL_EXIT_CODE, text);
    assert.match(
        text,
        /^lab attack: part of the attack failed: 2 of \d+ vegeta processes failed or lost their results \(client-1\/plain\/\S+, client-1\/tls\/\S+\); the run is recorded in \S+; --allow-partial accepts a partial run$/m,
    );

    const dir = runDirOf(text);
    const json = JSON.parse(readFileSync(join(dir, "run.json"), "utf8"));
    // The survivor's results are merged: client-0 sent rate × duration on each frontend.
    assert.deepEqual(
        readdirSync(join(dir, "results"))
            .map((f) => f.split("-").slice(0, 2).join("-"))
            .sort(),
        ["client-0", "client-0"],
    );
    assert.equal(json.summary.requests, rate * durationS, JSON.stringify(json.summary));
    // Errors are counted…
    assert.ok(json.summary.success < 1, `success ${json.summary.success}`);
    assert.ok((json.summary.errors ?? []).length > 0);
    // …and attributed: the lost client's processes, the servers HAProxy took out.
    assert.deepEqual(json.failedProcesses.map((f: { client: string; frontend: string }) => `${f.client}/${f.frontend}`).sort(), [
        "client-1/plain",
        "client-1/tls",
    ]);
    for (const server of ["backend-0-8282", "backend-1-8282", "backend-1-8283", "backend-1-8284", "backend-1-8285"]) {
        assert.ok(json.serversDown.includes(server), `${server} taken out: ${json.serversDown}`);
    }
    assert.ok(json.backend.serversUp <= 3);
    assert.match(text, /FAILED vegeta on client-1 \(plain, /);
    assert.match(text, /DOWN in HAProxy at the end: backend-0-8282, backend-1-8282/);
    const row = readFileSync(join(runsDir, "ledger.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .find((r) => r.id === json.runId);
    assert.equal(row?.verdict, "fail", "the ledger keeps the partial run, as failed");
    // The cause first; the LB's memory follows it in every verdict (01db2ab).
    assert.match(row.why, /^2 vegeta processes failed(; |$)/);
    const stats = readFileSync(join(dir, "haproxy-stats-after.csv"), "utf8");
    assert.match(stats, /^pong,backend-0-8282,.*,DOWN,/m, "HAProxy's health checks marked the killed server DOWN");
    // The run's HTML report names the failed part too.
    const report = await labDone(["report", dir]);
    assert.equal(report.code, 0, report.out);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    assert.match(html, /Failed vegeta processes/);
    assert.match(html, /client-1/);
});

// ---- 4. idempotent teardown ------------------------------------------------------------------

test("lab down of the damaged lab, then lab down again: zero residue both times", { timeout: 10 * MINUTE }, async () => {
    for (const round of [1, 2]) {
        const r = await labDone(["down", "--stack", LAB]);
        assert.equal(r.code, 0, `round ${round}:\n${r.out}`);
        assert.match(r.out, /residue check: none/);
        await assertNoResidue(LAB);
    }
    assert.equal(await stackExists(LAB), false);
});

test("secrets: no log, run directory, report or left-over key file holds the key or the passphrase", async () => {
    assert.ok(secretForms.length > 0);
    assert.ok(logs.length >= 10, `${logs.length} command logs`);
    for (const log of logs) assertNoSecret(`the output of ${log.split("\n")[0]}`, log);
    const runFiles = filesUnder(runsDir);
    for (const kind of ["run.json", "report.txt", "report.html", "tipping.json", "ledger.jsonl"])
        assert.ok(
            runFiles.some((f) => f.endsWith(kind)),
            `a ${kind} was scanned`,
        );
    for (const f of runFiles) assertNoSecret(f, readFileSync(f));
    // SSH key files live in 0600 directories (under /run, else the temp dir) only while a command runs.
    const keyFiles = ["/run", tmpdir()]
        .filter((base) => existsSync(base))
        .flatMap((base) => readdirSync(base, { withFileTypes: true }).filter((d) => d.isDirectory() && /^c2m-(ssh|remote)-/.test(d.name)))
        .map((d) => join(d.parentPath, d.name))
        .flatMap((d) => filesUnder(d));
    for (const f of keyFiles) assertNoSecret(`left-over ${f}`, readFileSync(f));
});

/** A request to the lab's VIP as lab traffic makes it: from a client host (the operator reaches hosts over SSH only). */
async function postFromClient(lab: StackOutputs, url: string): Promise<{ status: number; body: string }> {
    const remote = Remote.forLab(lab, { env: labEnv() });
    try {
        return await remote.request(url, { from: lab.inventory.find((h) => h.role === "client")!.name, method: "POST", body: "x", timeoutMs: 10_000 });
    } finally {
        await remote.close();
    }
}
