// `npm test` after the toolchain check: the type check and every test file, side by side where
// that is safe, so CI takes minutes rather than the sum of everything:
//   types — tsc --noEmit;
//   quick — test/unit and test/mocks, one node --test, two files at a time;
//   labs  — each lab-building file (test/e2e) in a node --test of its own, LAB_SLOTS at a time,
//           the slowest first (LAB_FILE_ORDER), so the two longest do not end up last together;
//           every file has its own stack names and subnet, so two never touch the same lab;
//   solo  — files that time real processes (SOLO_FILES, e.g. a pong's knee on loopback), after all
//           the rest, alone: a rate measured beside a lab build would be the machine's.
// Each lab file's TAP is printed whole when it ends (two files never interleave), with a line
// when it starts, so a long file is visible in CI's log. The quick lane's TAP is printed when it
// ends. The last thing printed is one duration table for every file. Exit code: non-zero when
// any part failed. Ctrl-C reaches every child (same process group); each test file's after()
// tears its lab down, and this runner waits for them before it exits.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { durationTable } from "./durations.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Lab files running at once: two suits 2 cores (most of a lab file's time is spent waiting on processes). */
const LAB_SLOTS = 2;

/** Slowest first, as measured (`npm test`'s table); files not named here run after these, by name. */
export const LAB_FILE_ORDER = [
    "test/e2e/reliability.test.ts", "test/e2e/certificate.test.ts", "test/e2e/localLab.test.ts",
    "test/e2e/tippingHaproxy.test.ts", "test/e2e/sweep.test.ts", "test/e2e/oom.test.ts", "test/e2e/policyPack.test.ts",
];

/**
 * Files that time real processes on loopback (a pong's knee and its waves, HAProxy's health
 * checks against a pong in the test's own process, a CLI's start-up within a time limit): run after
 * everything else, alone. Beside two lab builds they failed on time, not on behaviour.
 */
export const SOLO_FILES = ["test/unit/pong.test.ts", "test/unit/pongLimit.test.ts", "test/unit/scripts.test.ts", "test/unit/tippingPong.test.ts"];

const testFiles = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith(".test.ts")).sort().map((f) => `${dir}/${f}`);

export function lanes(): { labs: string[]; quick: string[]; solo: string[] } {
    const e2e = testFiles("test/e2e");
    const rank = (f: string) => (LAB_FILE_ORDER.includes(f) ? LAB_FILE_ORDER.indexOf(f) : LAB_FILE_ORDER.length);
    return {
        labs: e2e.filter((f) => !SOLO_FILES.includes(f)).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)),
        quick: [...testFiles("test/unit"), ...testFiles("test/mocks")].filter((f) => !SOLO_FILES.includes(f)),
        solo: SOLO_FILES,
    };
}

/** The node --test arguments of every part: the same flags (timeouts, reporters) everywhere. */
export const nodeTestArgs = (concurrency: number, files: string[]) => [
    "--test", `--test-concurrency=${concurrency}`, "--test-timeout=900000",
    "--test-reporter=tap", "--test-reporter-destination=stdout",
    "--test-reporter=./test/durations.ts", "--test-reporter-destination=stderr",
    ...files,
];

interface Done { name: string; code: number; seconds: number; stdout: string; stderr: string }

function run(name: string, args: string[]): Promise<Done> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (b: Buffer) => { stdout += b.toString(); });
        child.stderr.on("data", (b: Buffer) => { stderr += b.toString(); });
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
function tableRows(d: Done): Map<string, { ms: number; wallMs: number; passed: number; failed: number }> {
    const rows = new Map();
    for (const m of d.stderr.matchAll(/^(test\/\S+\.test\.ts)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)$/gm)) {
        rows.set(m[1], { wallMs: Number(m[2]) * 1000, ms: Number(m[3]) * 1000, passed: Number(m[4]), failed: Number(m[5]) });
    }
    // A file killed before it reported anything still gets a row, as failed.
    if (rows.size === 0 && d.code !== 0) rows.set(d.name, { wallMs: d.seconds * 1000, ms: 0, passed: 0, failed: 1 });
    return rows;
}

async function pool<T>(items: string[], slots: number, work: (item: string) => Promise<T>): Promise<T[]> {
    const results: T[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(slots, items.length) }, async () => {
        while (next < items.length) results.push(await work(items[next++]));
    }));
    return results;
}

async function main(): Promise<void> {
    const { labs, quick, solo } = lanes();
    process.on("SIGINT", () => process.stderr.write("\nnpm test: interrupted; waiting for every test file to tear down\n"));
    const started = Date.now();
    const clock = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
    const types = run("types (tsc --noEmit)", [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."])
        .then((d) => { process.stderr.write(`# ${clock()}: types done, exit ${d.code}\n`); return d; });
    const quickLane = run(`quick lane (${quick.length} files)`, nodeTestArgs(2, quick))
        .then((d) => { process.stderr.write(`# ${clock()}: quick lane done, exit ${d.code}\n`); show(d); return d; });
    const labRuns = await pool(labs, LAB_SLOTS, async (file) => {
        process.stderr.write(`# ${clock()}: ${file} starts\n`);
        const d = await run(file, nodeTestArgs(1, [file]));
        process.stderr.write(`# ${clock()}: ${file} done, exit ${d.code}, ${d.seconds.toFixed(0)} s\n`);
        show(d);
        return d;
    });
    const before = [await types, await quickLane];
    const soloRuns = await pool(solo, 1, async (file) => {
        const d = await run(file, nodeTestArgs(1, [file]));
        show(d);
        return d;
    });
    if (before[0].stdout.trim() || before[0].code !== 0) show(before[0]);
    const all = [...before, ...labRuns, ...soloRuns];
    const rows = new Map(all.slice(1).flatMap((d) => [...tableRows(d)]));
    process.stderr.write(durationTable(rows));
    const failed = all.filter((d) => d.code !== 0).map((d) => d.name);
    process.stderr.write(`npm test: ${failed.length ? `FAILED: ${failed.join(", ")}` : "all passed"}; wall ${clock()} ` +
        `(types and ${quick.length} quick files beside ${labs.length} lab files ${LAB_SLOTS} at a time, then ${solo.length} alone)\n`);
    process.exitCode = failed.length ? 1 : 0;
}

if (process.argv[1] && relative(process.argv[1], fileURLToPath(import.meta.url)) === "") await main();
