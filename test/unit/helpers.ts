// Shared helpers of the unit tests (not a test file itself: the runner picks up *.test.ts).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { createServer, type AddressInfo } from "node:net";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import type { PlannerInput } from "../../components/plan/planner.ts";

export interface RunResult {
    status: number | null;
    stdout: string;
    stderr: string;
}

/** Runs a script in real bash (no login files), optionally feeding stdin. */
export function runBash(script: string, options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): RunResult {
    const result = spawnSync("bash", ["--noprofile", "--norc", "-c", script], {
        input: options.input ?? "",
        env: options.env ?? process.env,
        cwd: options.cwd,
        encoding: "utf8",
        timeout: options.timeoutMs ?? 30_000,
    });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `bash -n`: parses the script without running any of it. */
export function bashSyntax(script: string): RunResult {
    const result = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A fresh temporary directory, removed when the test ends. */
export function tempDir(t: TestContext, prefix = "c2m-unit-"): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
}

export function which(binary: string, dirs = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"]): string | undefined {
    return dirs.map((d) => join(d, binary)).find((p) => existsSync(p));
}

/** A TCP port on 127.0.0.1 nobody listens on now (the kernel picks it), for a test's own server. */
export function freeLoopbackPort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so noisy test cases are reproducible. */
export { seeded as seededRandom } from "../../scripts/analysis/tippingModel.ts";

export interface LabOutcome {
    code: number | null;
    out: string;
}

/**
 * `lab <args>` as an operator runs it, with the Node running the tests; stdout and stderr together.
 * Runs go to `runsDir`; with `timeoutMs` the command is killed (SIGKILL) when it takes longer.
 */
export function runLab(args: string[], o: { runsDir: string; timeoutMs?: number }): Promise<LabOutcome> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "lab.ts"), ...args], {
            cwd: REPO_ROOT,
            env: { ...process.env, C2M_RUNS_DIR: o.runsDir },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d) => {
            out += d;
        });
        child.stderr.on("data", (d) => {
            out += d;
        });
        const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), o.timeoutMs);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, out });
        });
    });
}

/** The seed's 16-core/64 GB tier on EC2 as the planner sees it (m6i.4xlarge LB, 8 backends × 10 pongs, 20 clients), with `over` changed. */
export function seedTierPlannerInput(over: Partial<PlannerInput> = {}): PlannerInput {
    return {
        stack: "t",
        conns: 1_050_000,
        tlsShare: 1,
        instanceTypes: { haproxy: "m6i.4xlarge", backend: "c6i.2xlarge", client: "c6i.8xlarge" },
        clients: 20,
        backends: 8,
        serversPerHost: 10,
        sourceIpsPerClient: 4,
        rootVolumeGb: 16,
        ...over,
    };
}
