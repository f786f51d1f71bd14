// Each aws tier's program run under mocks (test/mocks/tierResources.ts in a process of its own),
// started once per test process and shared: the unit lane runs its files in one process, so the
// string-limits and cloud-init schema tests read the same four runs. Two at a time (2 cores). Not a test file.
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";

export type TierResource = { type: string; name: string; inputs: Record<string, any> };

/** Every aws-* stack with a Pulumi.<stack>.yaml, sorted. */
export const AWS_TIERS = readdirSync(REPO_ROOT)
    .map((f) => /^Pulumi\.(aws-[\w-]+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();

function run(stack: string): Promise<TierResource[]> {
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            [join(REPO_ROOT, "test", "mocks", "tierResources.ts"), stack],
            { cwd: REPO_ROOT, encoding: "utf8", timeout: 180_000, maxBuffer: 256 * 2 ** 20 },
            (err, stdout, stderr) => (err ? reject(new Error(`${stack}: ${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout).resources)),
        );
    });
}

const runs = new Map<string, Promise<TierResource[]>>();
const slots: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];

/** The resources the program registers for `stack` (secrets revealed); every tier is started on the first call. */
export function tierRun(stack: string): Promise<TierResource[]> {
    if (runs.size === 0) {
        AWS_TIERS.forEach((s, i) => {
            const p = slots[i % 2].then(() => run(s));
            slots[i % 2] = p.catch(() => undefined);
            p.catch(() => undefined); // reported by the test that awaits it
            runs.set(s, p);
        });
    }
    return runs.get(stack) ?? Promise.reject(new Error(`${stack}: not an aws tier (${AWS_TIERS.join(", ")})`));
}
