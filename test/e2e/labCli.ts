// The operator's CLI (`node scripts/lab.ts …`) as the e2e files drive it when they need to act
// while a command runs: read its output as it comes, Ctrl-C it. Not a test file itself.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";

export interface LabRun {
    child: ChildProcess;
    output: () => string;
    done: Promise<number | null>;
}

/**
 * `lab <args>` in a process group of its own (so a signal can go to the whole group, as a
 * terminal's Ctrl-C does), its runs in `runsDir`. `onClose` sees the whole output and the time taken.
 */
export function startLab(args: string[], runsDir: string, onClose?: (output: string, ms: number) => void): LabRun {
    const started = Date.now();
    const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "lab.ts"), ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, C2M_RUNS_DIR: runsDir },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
    });
    let out = "";
    child.stdout!.on("data", (d) => {
        out += d;
    });
    child.stderr!.on("data", (d) => {
        out += d;
    });
    const done = new Promise<number | null>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code) => {
            onClose?.(out, Date.now() - started);
            resolve(code);
        });
    });
    return { child, output: () => out, done };
}

/** Waits until the command printed `pattern`; fails with its output if it exits or the time runs out first. */
export async function waitForOutput(r: LabRun, pattern: RegExp, timeoutMs = 5 * 60_000): Promise<RegExpExecArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const m = pattern.exec(r.output());
        if (m) return m;
        if (r.child.exitCode !== null || Date.now() > end) assert.fail(`never printed ${pattern}:\n${r.output()}`);
        await new Promise((res) => setTimeout(res, 100));
    }
}

/** Ctrl-C: SIGINT to the command's whole process group. */
export function interrupt(r: LabRun): void {
    if (r.child.exitCode !== null || r.child.signalCode !== null)
        assert.fail(`it ended (exit ${r.child.exitCode ?? r.child.signalCode}) before Ctrl-C:\n${r.output()}`);
    process.kill(-r.child.pid!, "SIGINT");
}
