// Pulumi operations the CLI needs (select/create a stack, up, outputs, destroy) and the
// platform's residue check that proves teardown left nothing behind.
import { $ } from "zx";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, sep } from "node:path";
import { hostname } from "node:os";
import { loadConfig, readConfigFile, teardownConfig, type LoadedConfig } from "../components/loadConfig.ts";
import { isExpired, LAB_TAG } from "../components/platform/labTags.ts";
import { platformFor } from "../components/platform/registry.ts";
import { describeResidue, residueCount, type Platform, type Residue } from "../components/platform/platform.ts";
import { labEnv, REPO_ROOT } from "./toolchain/toolchain.ts";
import { checkRecord, parseJson } from "../components/records/io.ts";
import { StackOutputsSchema, type StackOutputs } from "../components/records/stackOutputs.ts";

/** zx for pulumi commands: the rig's environment, quiet; `extra` adds zx options (nothrow, input, …). */
const pulumi = (extra: Partial<Parameters<typeof $>[0]> = {}) => $({ env: labEnv(), cwd: REPO_ROOT, verbose: false, quiet: true, ...extra });

/** The stack's config from its file, validated before Pulumi runs (the program checks it again). */
export function loadStackConfig(stack: string): LoadedConfig {
    return loadConfig(stack, readConfigFile(REPO_ROOT, stack));
}

/** What the stack left on its platform; an error when that cannot be told (never "none"). */
export async function stackResidue(stack: string): Promise<Residue> {
    const config = teardownConfig(REPO_ROOT, stack);
    return platformFor(config).residue(stack, config);
}

/** Removes what the stack left that its platform can remove without state; returns what is left. */
export async function reapStack(stack: string): Promise<Residue> {
    const config = teardownConfig(REPO_ROOT, stack);
    return platformFor(config).reap(stack, config);
}

/** Directory of a file:// state backend; undefined for other backends. */
function fileBackendDir(): string | undefined {
    const url = labEnv().PULUMI_BACKEND_URL ?? "";
    return url.startsWith("file://") ? url.replace(/^file:\/\//, "").replace(/\?.*$/, "") : undefined;
}

/**
 * A pulumi killed mid-write can leave an empty `<stack>.json.attrs` beside a checkpoint in a file
 * backend; every later `pulumi stack ls` then fails with "EOF". Attributes are JSON, so an empty
 * file is never valid, and the backend reads a missing one as "no attributes": remove it.
 */
function removeTruncatedAttrs(): void {
    const dir = fileBackendDir();
    const stacks = dir && join(dir, ".pulumi", "stacks");
    if (!stacks || !existsSync(stacks)) return;
    for (const f of readdirSync(stacks, { recursive: true, encoding: "utf8" })) {
        const file = join(stacks, f);
        if (f.endsWith(".attrs") && statSync(file).size === 0) {
            process.stderr.write(`state: removing ${file}, left empty by a pulumi that was killed while writing it\n`);
            rmSync(file);
        }
    }
}

/** Stacks of this project in the state backend. */
export async function listStacks(): Promise<string[]> {
    removeTruncatedAttrs();
    const out = await pulumi()`pulumi stack ls --json`;
    return (JSON.parse(out.stdout) as { name: string }[]).map((s) => s.name.split("/").pop()!);
}

/**
 * The lease a stack's outputs carry. No outputs at all means nothing is deployed (never up, or
 * destroyed): undefined. Outputs without a readable `expiresAt` are an error, never "not expired":
 * scheduled teardown must not skip a lab it cannot judge. Pure.
 */
export function expiryOf(stack: string, outputs: Record<string, unknown>): string | undefined {
    if (Object.keys(outputs).length === 0) return undefined;
    const value = outputs.expiresAt;
    if (typeof value !== "string" || !Number.isFinite(Date.parse(value))) {
        throw new Error(`stack ${stack}: its outputs have no readable expiresAt (got ${JSON.stringify(value)}): cannot tell whether it expired`);
    }
    return value;
}

interface StateResource { type: string; inputs?: { tags?: Record<string, string> }; outputs?: { tags?: Record<string, string> } }

/**
 * The lease of a stack without outputs, from its state: an `up` that failed part-way saves no
 * outputs, yet may have created billed resources. Undefined when the state holds nothing but the
 * stack and its providers; the earliest `lab:expires-at` tag when one is found; else an error. Pure.
 */
export function expiryFromState(stack: string, resources: StateResource[]): string | undefined {
    const created = resources.filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"));
    if (created.length === 0) return undefined;
    const tagged = created.map((r) => r.outputs?.tags?.[LAB_TAG.expiresAt] ?? r.inputs?.tags?.[LAB_TAG.expiresAt])
        .filter((t): t is string => typeof t === "string" && Number.isFinite(Date.parse(t)))
        .sort((a, b) => Date.parse(a) - Date.parse(b));
    if (tagged.length) return tagged[0];
    throw new Error(`stack ${stack}: no outputs (a failed up?) and none of its ${created.length} resources carries ${LAB_TAG.expiresAt}: cannot tell whether it expired`);
}

/** A stack's lease: its `expiresAt` output, else its state's tags; undefined when nothing is deployed; throws when it cannot be read (backend, passphrase). */
export async function stackExpiry(stack: string): Promise<string | undefined> {
    const out = await pulumi({ nothrow: true })`pulumi stack output --json --stack ${stack}`;
    if (out.exitCode !== 0) throw new Error(`stack ${stack}: pulumi stack output failed (exit ${out.exitCode}): ${out.stderr.trim()}`);
    const outputs = parseJson(out.stdout, `pulumi stack output --stack ${stack}`) as Record<string, unknown>;
    if (Object.keys(outputs).length > 0) return expiryOf(stack, outputs);
    const exported = await pulumi({ nothrow: true })`pulumi stack export --stack ${stack}`;
    if (exported.exitCode !== 0) throw new Error(`stack ${stack}: pulumi stack export failed (exit ${exported.exitCode}): ${exported.stderr.trim()}`);
    const state = parseJson(exported.stdout, `pulumi stack export --stack ${stack}`) as { deployment?: { resources?: StateResource[] } };
    return expiryFromState(stack, state.deployment?.resources ?? []);
}

/**
 * Scheduled teardown from a shell (the GitHub workflow runs it for s3:// backends): every stack
 * whose lease has run out is destroyed, removed and reaped by name. A stack whose lease cannot be
 * read, or whose teardown leaves something, does not stop the others, and ends in an error naming it.
 */
export async function reapExpired(now = new Date(), only?: string[]): Promise<{ stack: string; expiresAt: string; residue: number }[]> {
    const reaped = [];
    const failures: string[] = [];
    for (const stack of (await listStacks()).filter((s) => !only || only.includes(s))) {
        let expiresAt: string | undefined;
        try {
            expiresAt = await stackExpiry(stack);
        } catch (err) {
            failures.push((err as Error).message);
            continue;
        }
        if (!expiresAt || !isExpired(expiresAt, now)) continue;
        process.stderr.write(`reap: ${stack} expired at ${expiresAt}: tearing it down\n`);
        const residue = residueCount(await teardownStack(stack, undefined, { expired: true }));
        if (residue > 0) failures.push(`stack ${stack}: ${residue} item(s) left after teardown`);
        reaped.push({ stack, expiresAt, residue });
    }
    if (failures.length) throw new Error(`reap --expired: ${failures.length} problem(s):\n  ${failures.join("\n  ")}`);
    return reaped;
}

export async function stackExists(stack: string): Promise<boolean> {
    return (await listStacks()).includes(stack);
}

/**
 * Pulumi writes the passphrase salt of a new stack into Pulumi.<stack>.yaml. The committed
 * files carry none: a salt belongs to one machine's passphrase and one stack's life, so it is
 * dropped when the stack is created afresh or removed.
 */
export function dropEncryptionSalt(stack: string): void {
    const file = join(REPO_ROOT, `Pulumi.${stack}.yaml`);
    if (!existsSync(file)) return;
    const text = readFileSync(file, "utf8");
    const stripped = text.replace(/^encryptionsalt:.*\n?/m, "");
    if (stripped !== text) writeFileSync(file, stripped);
}

export async function ensureStack(stack: string): Promise<void> {
    if (await stackExists(stack)) return;
    dropEncryptionSalt(stack);
    await pulumi()`pulumi stack init ${stack} --no-select`;
}

const INTERRUPTS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Runs a pulumi command with its progress streamed to stderr; throws with its exit code.
 * Pulumi runs in a process group of its own and gets each Ctrl-C (or SIGTERM/SIGHUP) once, from
 * here: it cancels cleanly (steps in flight finish, the stack's lock and its plugins are
 * released) while the lab waits for it, instead of dying first and leaving pulumi, its plugins
 * and the lock behind. A second Ctrl-C is passed on too: pulumi then stops at once.
 */
async function streamed(args: string[]): Promise<void> {
    const p = pulumi({ nothrow: true, detached: true })`pulumi ${args}`;
    p.stdout.pipe(process.stderr);
    p.stderr.pipe(process.stderr);
    let interrupted: string | undefined;
    const forward = (signal: NodeJS.Signals) => {
        interrupted = signal;
        process.stderr.write(`\n${signal}: asking pulumi ${args[0]} to stop cleanly, waiting for it…\n`);
        try { if (p.pid) process.kill(-p.pid, "SIGINT"); } catch { /* already gone */ }
    };
    for (const s of INTERRUPTS) process.on(s, forward);
    try {
        const result = await p;
        const stack = args[args.indexOf("--stack") + 1];
        if (interrupted) {
            throw new Error(`pulumi ${args[0]} interrupted by ${interrupted}; it stopped (exit ${result.exitCode}) after the steps in flight. ` +
                `\`lab down --stack ${stack}\` removes what exists`);
        }
        if (result.exitCode !== 0) throw new Error(`pulumi ${args[0]} failed (exit ${result.exitCode})`);
    } finally {
        for (const s of INTERRUPTS) process.off(s, forward);
    }
}

/**
 * A file-backend stack's lock left by a pulumi process of this machine that no longer runs
 * (killed mid-update) blocks every later update; `pulumi cancel` lifts it. Live locks stay.
 */
export async function clearStaleLock(stack: string): Promise<boolean> {
    const state = fileBackendDir();
    const locks = state && join(state, ".pulumi", "locks");
    if (!locks || !existsSync(locks)) return false;
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === "EPERM"; } };
    const stale = readdirSync(locks, { recursive: true, encoding: "utf8" })
        .filter((f) => f.split(sep).at(-2) === stack && f.endsWith(".json"))
        .map((f) => JSON.parse(readFileSync(join(locks, f), "utf8")) as { pid: number; hostname: string })
        .filter((lock) => lock.hostname === hostname() && !alive(lock.pid));
    if (stale.length === 0) return false;
    process.stderr.write(`stack ${stack}: lifting the lock of pulumi pid ${stale.map((l) => l.pid).join(", ")}, which no longer runs\n`);
    await pulumi()`pulumi cancel --stack ${stack} --yes`;
    return true;
}

export async function up(stack: string): Promise<void> {
    const loaded = loadStackConfig(stack);
    // The platform's own checks (e.g. operator CIDR, instance types, budget) refuse before a stack exists.
    loaded.platform.check(loaded);
    await ensureStack(stack);
    await clearStaleLock(stack);
    await streamed(upArgs(stack, loaded.platform));
}

/** `pulumi up`'s arguments for a stack on `platform`. */
export function upArgs(stack: string, platform: Pick<Platform, "needsPolicyPack" | "refreshBeforeUp">): string[] {
    // Cloud stacks always run the guardrails (TTL tags, no SSH from anywhere, IMDSv2, budget).
    // The pack is given as its launcher (policy/analyzer): the engine starts an executable pack directly.
    const policy = platform.needsPolicyPack ? ["--policy-pack", join(REPO_ROOT, "policy", "analyzer")] : [];
    // EC2 hosts may have ended themselves at their expiry: the state learns it before the update.
    const refresh = platform.refreshBeforeUp ? ["--refresh"] : [];
    return ["up", "--stack", stack, "--yes", "--skip-preview", "--non-interactive", "--suppress-outputs", ...refresh, ...policy];
}

export async function destroy(stack: string): Promise<void> {
    if (await stackExists(stack)) await destroyExisting(stack);
}

async function destroyExisting(stack: string): Promise<void> {
    await clearStaleLock(stack);
    await streamed(["destroy", "--stack", stack, "--yes", "--skip-preview", "--non-interactive"]);
}

/**
 * Resources that live only on hosts (remote commands) are dropped from the state of a stack whose
 * hosts ended themselves at expiry: their delete steps would try to reach hosts that no longer
 * exist, and fail the destroy that must remove everything else. Returns how many were dropped.
 */
export async function forgetHostCommands(stack: string): Promise<number> {
    const exported = await pulumi()`pulumi stack export --stack ${stack}`;
    const state = parseJson(exported.stdout, `pulumi stack export --stack ${stack}`) as { deployment?: { resources?: { type: string }[] } };
    const resources = state.deployment?.resources ?? [];
    const kept = resources.filter((r) => r.type !== "command:remote:Command");
    if (kept.length === resources.length) return 0;
    state.deployment!.resources = kept;
    await pulumi({ input: JSON.stringify(state) })`pulumi stack import --stack ${stack} --force`;
    return resources.length - kept.length;
}

/**
 * Teardown that never gives up halfway: destroy (errors reported, not thrown), remove the
 * stack, reap leftovers by name, delete a generated stack file. Returns what is still left
 * (a failed residue check counts as something left: it cannot say "none"). Where the platform
 * cannot remove things without state (aws), a failed destroy keeps the stack for a retry.
 */
export async function teardownStack(stack: string, generatedConfigFile?: string, options: { expired?: boolean } = {}): Promise<Residue> {
    const config = teardownConfig(REPO_ROOT, stack);
    const platform = platformFor(config);
    let destroyed = true;
    // One listing: destroy and stack rm only ever act on a stack that exists.
    const exists = await stackExists(stack).catch((err: Error) => {
        destroyed = false;
        process.stderr.write(`destroy failed: cannot list the stacks: ${err.message}\n`);
        return false;
    });
    if (exists) {
        try {
            if (options.expired && platform.hostsEndAtExpiry) {
                const dropped = await forgetHostCommands(stack);
                if (dropped) process.stderr.write(`${stack}: its hosts ended at expiry; ${dropped} remote command(s) dropped from state before destroy\n`);
            }
            await destroyExisting(stack);
        } catch (err) {
            destroyed = false;
            process.stderr.write(`destroy failed: ${(err as Error).message}\n`);
        }
        if (destroyed || platform.reapsWithoutState) await removeExisting(stack).catch(() => undefined);
        else process.stderr.write(`stack ${stack} is kept (its state is what removes the rest): \`lab down --stack ${stack}\` retries\n`);
    } else if (destroyed) {
        dropEncryptionSalt(stack);
    }
    const left = await platform.reap(stack, config).catch((err: Error): Residue => ({ uncheckedBecause: [err.message] }));
    if (!destroyed && !platform.reapsWithoutState && residueCount(left) === 0) left.stackKept = [stack];
    if (generatedConfigFile) rmSync(generatedConfigFile, { force: true });
    process.stderr.write(`${describeResidue(left)}\n`);
    return left;
}

export async function removeStack(stack: string): Promise<void> {
    if (await stackExists(stack)) await removeExisting(stack);
    else dropEncryptionSalt(stack);
}

async function removeExisting(stack: string): Promise<void> {
    await pulumi()`pulumi stack rm ${stack} --yes --force --preserve-config`;
    dropEncryptionSalt(stack);
}

export type { StackOutputs };

/** Stack outputs including the SSH key (kept in memory; never written to a run directory). */
export async function outputs(stack: string): Promise<StackOutputs> {
    const out = await pulumi({ nothrow: true })`pulumi stack output --json --show-secrets --stack ${stack}`;
    if (out.exitCode !== 0) {
        if (/no stack named/.test(out.stderr)) throw new Error(`stack ${stack} does not exist: run \`lab up --stack ${stack}\` first`);
        throw new Error(`pulumi stack output --stack ${stack} failed (exit ${out.exitCode}): ${out.stderr.trim()}`);
    }
    const source = `pulumi stack output --stack ${stack}`;
    const parsed = parseJson(out.stdout, source);
    if (typeof parsed !== "object" || parsed === null || !("inventory" in parsed)) {
        throw new Error(`stack ${stack} has no lab outputs: run \`lab up --stack ${stack}\` first`);
    }
    return checkRecord(parsed, StackOutputsSchema, source);
}
