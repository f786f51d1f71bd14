// `npm test` after the toolchain check: the type check and every test file, side by side where
// that is safe, so CI takes minutes rather than the sum of everything:
//   types — TypeScript 7's native tsc --noEmit (~3 s where tsc 5.9 took 98-178 s over the
//           @pulumi/aws types; 5.9 stays installed only for the policy pack, see TYPE_CHECKER);
//   unit  — test/unit in ONE node process (no per-file process: loading the SDKs once, not 50
//           times, is most of what this lane saves), one file after another, imported by
//           test/unitLane.ts so a file that throws or hangs at import fails the lane; the lane is
//           ended after UNIT_LANE_LIMIT_S, naming the tests still running;
//   mocks — test/mocks, a process per file (each sets Pulumi's global mocks), one at a time;
//   labs  — each lab-building file (test/e2e) in a node --test of its own, LAB_SLOTS at a time,
//           the slowest first (LAB_FILE_ORDER), so the longest do not end up last together;
//           every file has its own stack names and subnet, so two never touch the same lab;
//   solo  — files that time real processes (SOLO_FILES, e.g. a pong's knee on loopback), SOLO_SLOTS
//           at a time, once the unit and mocks lanes are done and every lab file has started: beside
//           the last lab files, not beside the first ones, the unit lane and the type check.
// Each lab file's TAP is printed whole when it ends (two files never interleave), with a line
// when it starts, so a long file is visible in CI's log. The unit and mocks lanes' TAP is printed
// when each ends. The last thing printed is one duration table for every file. Exit code: non-zero when
// any part failed. Ctrl-C reaches every child (same process group); each test file's after()
// tears its lab down, and this runner waits for them before it exits.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { durationTable, type FileTally, type Skip } from "./durations.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Lab files running at once. A lab file waits more than it computes (reliability: 234 s alone for
 * 133 s of CPU), so three keep 2 cores busy where two left them idle in the waits.
 */
const LAB_SLOTS = 3;

/** Solo files running at once: each uses well under a core, and none of them builds a lab. */
const SOLO_SLOTS = 2;

/**
 * Longest first, by each file's wall time alone on an idle 2-core machine (CPU-seconds in brackets):
 * reliability 77 s (51), tippingHaproxy 53 (32), certificate 48 (42), image 38 (32), reproduce 35 (19),
 * upInterrupts 28 (28), localLab 27 (28), plainPulumi 18 (22). The knee search (its steps time a pong
 * through HAProxy) is not among the first three, which start beside the unit and mocks lanes. A long
 * file named nowhere here starts last and ends after everything else (image and reproduce did, 45-56 s
 * each). Files not named run after these, by name.
 */
export const LAB_FILE_ORDER = [
    "test/e2e/reliability.test.ts",
    "test/e2e/certificate.test.ts",
    "test/e2e/image.test.ts",
    "test/e2e/tippingHaproxy.test.ts",
    "test/e2e/reproduce.test.ts",
    "test/e2e/upInterrupts.test.ts",
    "test/e2e/localLab.test.ts",
    "test/e2e/plainPulumi.test.ts",
    "test/e2e/oom.test.ts",
    "test/e2e/policyPack.test.ts",
];

/**
 * Files that time real processes on loopback (a pong's knee and its waves, HAProxy's health
 * checks against a pong in the test's own process, a CLI's start-up within a time limit), two at a
 * time, once the rest is winding down (see main). Their old forms (tippingPong: 3 s steps of a
 * 50 ms pong) failed on time beside two lab builds, so they ran after everything, 34 s alone at the
 * end of CI; as they are (1.5 s steps of a 20 ms pong, a dead pong reported at once) they passed
 * beside the certificate and image lab files together. Longest first (tippingPong 17 s, scripts
 * 10 s, pongLimit 3 s, pong 3 s alone): the two slots end together.
 */
export const SOLO_FILES = ["test/unit/tippingPong.test.ts", "test/unit/scripts.test.ts", "test/unit/pongLimit.test.ts", "test/unit/pong.test.ts"];

/**
 * Longest the unit lane may run: 121 s on an idle machine of this kind, so 600 s leaves room for a
 * machine ~4x busier, and a hung unit test costs CI ten minutes, not its 90.
 */
export const UNIT_LANE_LIMIT_S = 600;

/**
 * The type checker: TypeScript 7 (npm `typescript@7`, the native compiler, installed as
 * `typescript7`). `typescript` 5.9 stays a dependency because @pulumi/pulumi's run-policy-pack
 * compiles the policy pack with ts-node, which needs TypeScript's JavaScript API (its
 * peerDependency is typescript < 7); TypeScript 7 has none.
 */
export const TYPE_CHECKER = "node_modules/typescript7/bin/tsc";

/** The linter and formatter (Biome): `biome ci` fails on a lint error or a file not formatted as biome.json says. */
export const LINTER = "node_modules/@biomejs/biome/bin/biome";

const testFiles = (dir: string) =>
    readdirSync(join(ROOT, dir))
        .filter((f) => f.endsWith(".test.ts"))
        .sort()
        .map((f) => `${dir}/${f}`);

export function lanes(): { labs: string[]; unit: string[]; mocks: string[]; solo: string[] } {
    const e2e = testFiles("test/e2e");
    const rank = (f: string) => (LAB_FILE_ORDER.includes(f) ? LAB_FILE_ORDER.indexOf(f) : LAB_FILE_ORDER.length);
    return {
        labs: e2e.filter((f) => !SOLO_FILES.includes(f)).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)),
        unit: testFiles("test/unit").filter((f) => !SOLO_FILES.includes(f)),
        mocks: testFiles("test/mocks"),
        solo: SOLO_FILES,
    };
}

/**
 * The node --test arguments of every part: the same flags (timeouts, reporters) everywhere.
 * `oneProcess` runs the files in the runner's own process, one after another.
 */
export const nodeTestArgs = (concurrency: number, files: string[], oneProcess = false) => [
    "--test",
    ...(oneProcess ? ["--experimental-test-isolation=none"] : [`--test-concurrency=${concurrency}`]),
    "--test-timeout=900000",
    "--test-reporter=tap",
    "--test-reporter-destination=stdout",
    "--test-reporter=./test/durations.ts",
    "--test-reporter-destination=stderr",
    ...files,
];

/** The unit lane's command: its entry file imports every unit file (see test/unitLane.ts). */
export const unitLaneCommand = (unit: string[], inFlightLog: string) => ({
    args: [...nodeTestArgs(1, [], true), "--test-reporter=./test/inFlight.ts", `--test-reporter-destination=${inFlightLog}`, "test/unitLane.ts"],
    env: { C2M_UNIT_FILES: JSON.stringify(unit) },
});

/** Top-level tests the in-flight log (test/inFlight.ts) saw begin and never end. */
export function unfinishedTests(log: string): string[] {
    const open: string[] = [];
    for (const line of log.split("\n")) {
        const [, event, test] = /^(begins|ends) (.*)$/.exec(line) ?? [];
        if (event === "begins") open.push(test);
        else if (event === "ends" && open.includes(test)) open.splice(open.indexOf(test), 1);
    }
    return open;
}

const readLog = (file?: string) => {
    try {
        return file ? readFileSync(file, "utf8") : "";
    } catch {
        return "";
    }
};

interface Done {
    name: string;
    code: number;
    seconds: number;
    stdout: string;
    stderr: string;
}

/**
 * Runs a part; with `limitS`, ends it once it has run that long, and names the tests the in-flight
 * log says were still running.
 */
export function run(name: string, args: string[], o: { env?: Record<string, string>; limitS?: number; inFlightLog?: string } = {}): Promise<Done> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        // Never NODE_TEST_CONTEXT: a part run from inside a test (testLanes' fixtures) is a test run of its own.
        const { NODE_TEST_CONTEXT: _, ...env } = { ...process.env, ...o.env };
        const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
        let overLimit = false;
        // SIGTERM first: node's test runner then flushes its reporters (the in-flight log is
        // written only then), and SIGKILL if it has not ended 10 s later.
        const limit =
            o.limitS === undefined
                ? undefined
                : setTimeout(() => {
                      overLimit = true;
                      child.kill("SIGTERM");
                      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
                  }, o.limitS * 1000);
        child.on("close", () => {
            if (overLimit)
                stderr += `\n${name}: ended after its limit of ${o.limitS} s; still running: ${unfinishedTests(readLog(o.inFlightLog)).join("; ") || "no test (a file's top level?)"}\n`;
        });
        child.on("close", () => clearTimeout(limit));
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (b: Buffer) => {
            stdout += b.toString();
        });
        child.stderr.on("data", (b: Buffer) => {
            stderr += b.toString();
        });
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ name, code: code ?? (signal ? 128 : 1), seconds: (Date.now() - started) / 1000, stdout, stderr }));
    });
}

/** Everything a part printed, whole, under a header; its own duration table is left out (the runner prints one for all). */
function show(d: Done): void {
    const table = d.stderr.indexOf("\ntest files by duration");
    const stderr = table >= 0 ? d.stderr.slice(0, table) : d.stderr;
    process.stdout.write(`\n# ---- ${d.name}: exit ${d.code}, ${d.seconds.toFixed(0)} s ----\n${d.stdout}`);
    if (stderr.trim()) process.stderr.write(stderr.endsWith("\n") ? stderr : `${stderr}\n`);
}

/** Per-file rows of a part's duration table (test/durations.ts prints one on stderr). */
function tableRows(d: Done): Map<string, FileTally> {
    const rows = new Map();
    for (const m of d.stderr.matchAll(/^(test\/\S+\.ts)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)$/gm)) {
        rows.set(m[1], { wallMs: Number(m[2]) * 1000, ms: Number(m[3]) * 1000, passed: Number(m[4]), failed: Number(m[5]), skipped: Number(m[6]) });
    }
    // A file killed before it reported anything still gets a row, as failed.
    if (rows.size === 0 && d.code !== 0) rows.set(d.name, { wallMs: d.seconds * 1000, ms: 0, passed: 0, failed: 1, skipped: 0 });
    return rows;
}

/** The skipped tests a part's duration table listed. */
function skipRows(d: Done): Skip[] {
    return [...d.stderr.matchAll(/^skipped: (test\/\S+\.test\.ts): (.*) \((.*)\)$/gm)].map((m) => ({ file: m[1], name: m[2], reason: m[3] }));
}

/** Runs `work` on the items, `slots` at a time, in their order; `onLastStarted` once the last has started. */
async function pool<T>(items: string[], slots: number, work: (item: string) => Promise<T>, onLastStarted = () => {}): Promise<T[]> {
    const results: T[] = [];
    let next = 0;
    if (items.length === 0) onLastStarted();
    await Promise.all(
        Array.from({ length: Math.min(slots, items.length) }, async () => {
            while (next < items.length) {
                const started = work(items[next++]);
                if (next === items.length) onLastStarted();
                results.push(await started);
            }
        }),
    );
    return results;
}

async function main(): Promise<void> {
    const { labs, unit, mocks, solo } = lanes();
    process.on("SIGINT", () => process.stderr.write("\nnpm test: interrupted; waiting for every test file to tear down\n"));
    const started = Date.now();
    const clock = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
    const types = run("types (tsc 7 --noEmit)", [join(ROOT, TYPE_CHECKER), "--noEmit", "-p", "."]).then((d) => {
        process.stderr.write(`# ${clock()}: types done, exit ${d.code}\n`);
        return d;
    });
    const lint = run("lint (biome ci: format and lint)", [join(ROOT, LINTER), "ci", ".", "--colors=off", "--diagnostic-level=error"]).then((d) => {
        process.stderr.write(`# ${clock()}: lint done, exit ${d.code}\n`);
        return d;
    });
    const lane = (name: string, args: string[]) =>
        run(name, args).then((d) => {
            process.stderr.write(`# ${clock()}: ${name} done, exit ${d.code}\n`);
            show(d);
            return d;
        });
    const inFlightLog = join(mkdtempSync(join(tmpdir(), "c2m-unit-lane-")), "in-flight.log");
    const unitCommand = unitLaneCommand(unit, inFlightLog);
    const unitLane = run(`unit lane (${unit.length} files)`, unitCommand.args, { env: unitCommand.env, limitS: UNIT_LANE_LIMIT_S, inFlightLog })
        .finally(() => rmSync(dirname(inFlightLog), { recursive: true, force: true }))
        .then((d) => {
            process.stderr.write(`# ${clock()}: unit lane done, exit ${d.code}\n`);
            show(d);
            return d;
        });
    const mocksLane = lane(`mocks lane (${mocks.length} files)`, nodeTestArgs(1, mocks));
    const runFile = async (file: string) => {
        process.stderr.write(`# ${clock()}: ${file} starts\n`);
        const d = await run(file, nodeTestArgs(1, [file]));
        process.stderr.write(`# ${clock()}: ${file} done, exit ${d.code}, ${d.seconds.toFixed(0)} s\n`);
        show(d);
        return d;
    };
    let labsStarted!: () => void;
    const allLabsStarted = new Promise<void>((resolve) => {
        labsStarted = resolve;
    });
    const labPool = pool(labs, LAB_SLOTS, runFile, labsStarted);
    const soloPool = Promise.all([allLabsStarted, unitLane, mocksLane]).then(() => pool(solo, SOLO_SLOTS, runFile));
    const labRuns = await labPool;
    const checks = [await types, await lint];
    const before = [await unitLane, await mocksLane];
    const soloRuns = await soloPool;
    for (const check of checks) if (check.code !== 0) show(check);
    const parts = [...before, ...labRuns, ...soloRuns];
    const all = [...checks, ...parts];
    const rows = new Map(parts.flatMap((d) => [...tableRows(d)]));
    process.stderr.write(durationTable(rows, parts.flatMap(skipRows)));
    const failed = all.filter((d) => d.code !== 0).map((d) => d.name);
    process.stderr.write(
        `npm test: ${failed.length ? `FAILED: ${failed.join(", ")}` : "all passed"}; wall ${clock()} ` +
            `(types and lint, ${unit.length} unit and ${mocks.length} mock files beside ${labs.length} lab files ${LAB_SLOTS} at a time, ` +
            `and ${solo.length} timing files ${SOLO_SLOTS} at a time once every lab file has started)\n`,
    );
    process.exitCode = failed.length ? 1 : 0;
}

if (process.argv[1] && relative(process.argv[1], fileURLToPath(import.meta.url)) === "") await main();
