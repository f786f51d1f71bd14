// One child process with a time limit, without blocking the event loop: SSH to lab hosts and the
// benches' reads in a host's namespace. The child runs in its own process group, and the limit
// kills the whole group: a shell's background children (curl under `bash -c`) hold the output
// pipes open, and a command whose pipes stay open never ends.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { constants } from "node:os";

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
    /** killed at timeoutMs */
    timedOut: boolean;
}

export interface RunOptions {
    /** Kill the process group after this long (none when absent). */
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    /** stdout goes to this file instead of `stdout` (large outputs). */
    stdoutFile?: string;
}

/**
 * Runs `file args`; resolves when it has exited and its output is complete (the file flushed),
 * with exit code 128 + signal number when killed. Rejects only when it cannot be started.
 */
export function runWithTimeout(file: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        // detached: its own process group, which Ctrl-C in the terminal does not reach (the caller stops it in order).
        const child = spawn(file, args, { env: o.env ?? process.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const sink = o.stdoutFile ? createWriteStream(o.stdoutFile) : undefined;
        if (sink) child.stdout.pipe(sink);
        else
            child.stdout.on("data", (d) => {
                stdout += d;
            });
        child.stderr.on("data", (d) => {
            stderr += d;
        });
        let timedOut = false;
        const timer =
            o.timeoutMs === undefined
                ? undefined
                : setTimeout(() => {
                      timedOut = true;
                      try {
                          process.kill(-child.pid!, "SIGKILL");
                      } catch {
                          child.kill("SIGKILL");
                      }
                  }, o.timeoutMs);
        child.on("error", (err) => {
            if (timer) clearTimeout(timer);
            reject(err);
        });
        child.on("close", (code, signal) => {
            if (timer) clearTimeout(timer);
            const done = () => resolve({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout, stderr, timedOut });
            // The file is complete only once its stream has flushed (a result read earlier is cut short).
            if (sink && !sink.writableFinished && !sink.destroyed) sink.once("finish", done).once("error", done);
            else done();
        });
    });
}
