// Pulumi for the CLI, driven through the Automation API (@pulumi/pulumi/automation): create/select,
// up, outputs, destroy, remove, and the platform's residue check that proves teardown left nothing
// behind. Pulumi never gets a settings file of the checkout, only the copy stackSettings.ts makes;
// stackLeases.ts reads a stack's lease and tears down expired ones.
import type { LocalWorkspace, PulumiCommand, UpOptions } from "@pulumi/pulumi/automation/index.js";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, delimiter, dirname, join, sep } from "node:path";
import { hostname } from "node:os";
import { loadConfig, readConfigFile, teardownConfig } from "../../components/loadConfig.ts";
import { operatorPlatformFor } from "../../components/platform/registry.ts";
import { describeResidue, residueCount, type OperatorPlatform, type Residue } from "../../components/platform/platform.ts";
import { labEnv, paths, REPO_ROOT, stackConfigFile } from "../toolchain/toolchain.ts";
import { checkRecord } from "../../components/records/io.ts";
import { StackOutputsSchema, type StackOutputs } from "../../components/records/stackOutputs.ts";
import { loadStackConfig, settingsName, settingsProject, stackSettingsFile } from "./stackSettings.ts";
import { processAlive, removeOrphanSessionDirs, runBase } from "./sshConnection.ts";
import type { PreflightClient } from "../../components/platform/aws/preflight.ts";

const teardownConfigOf = (stack: string) => teardownConfig(dirname(stackConfigFile(stack)), stack);

/** What the stack left on its platform; an error when that cannot be told (never "none"). */
export async function stackResidue(stack: string): Promise<Residue> {
    const config = teardownConfigOf(stack);
    return operatorPlatformFor(config).residue(stack, config);
}

/** Removes what the stack left that its platform can remove without state; returns what is left. */
export async function reapStack(stack: string): Promise<Residue> {
    const config = teardownConfigOf(stack);
    return operatorPlatformFor(config).reap(stack, config);
}

// ---- the engine ----------------------------------------------------------------------------

let cli: Promise<PulumiCommand> | undefined;

/**
 * The Automation API, loaded when the engine is first needed: it takes ~0.5 CPU-s to load, which a
 * command refused on its flags or its config (the common bad-input case) never pays.
 */
const automation = () => import("@pulumi/pulumi/automation/index.js");

/** The Pulumi CLI first on the lab's PATH (the tool cache's, or the machine's). */
function pulumiCli(): Promise<PulumiCommand> {
    cli ??= (async () => {
        const dir = (labEnv().PATH ?? "").split(delimiter).find((d) => d && existsSync(join(d, "pulumi")));
        if (!dir) throw new Error("no pulumi on the lab's PATH: `lab bootstrap` builds it");
        // The API takes an installation root holding bin/pulumi.
        if (basename(dir) !== "bin") throw new Error(`pulumi found in ${dir}, which is no …/bin directory the Automation API can use`);
        return (await automation()).PulumiCommand.get({ root: dirname(dir) });
    })();
    return cli;
}

/** A workspace on the project (or, for creating and removing stacks, on the settings directory). */
export async function workspace(workDir = REPO_ROOT): Promise<LocalWorkspace> {
    const envVars = Object.fromEntries(Object.entries(labEnv()).filter((e): e is [string, string] => e[1] !== undefined));
    return (await automation()).LocalWorkspace.create({ workDir, envVars, pulumiCommand: await pulumiCli() });
}

/** An existing stack of the project. */
async function selectStack(stack: string) {
    return (await automation()).Stack.select(stack, await workspace());
}

/** Pulumi's own message of a failed command: its exit code and the last line it wrote to stderr. */
export function failure(err: unknown): string {
    const text = String((err as Error)?.message ?? err);
    const code = [...text.matchAll(/code: (-?\d+)/g)].map((m) => m[1]).find((c) => c !== "-2");
    const lastError = text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => /^error:/.test(l))
        .at(-1);
    return [code === undefined ? undefined : `exit ${code}`, lastError].filter(Boolean).join(": ") || text.split("\n")[0];
}

/**
 * A file backend's state files left by a pulumi killed while writing them, which the API cannot
 * repair (it only runs the CLI, which fails on them): an empty `<stack>.json.attrs` beside a
 * checkpoint makes every later `pulumi stack ls` fail with "EOF". Attributes are JSON, so an empty
 * file is never valid, and the backend reads a missing one as "no attributes": remove it, wherever
 * in the backend it is (checkpoints, their backups, locks, history).
 */
function removeTruncatedAttrs(): void {
    const dir = fileBackendDir();
    const state = dir && join(dir, ".pulumi");
    if (!state || !existsSync(state)) return;
    for (const f of readdirSync(state, { recursive: true, encoding: "utf8" })) {
        const file = join(state, f);
        // Another pulumi may remove a file between the listing and this look at it.
        if (f.endsWith(".attrs") && statSync(file, { throwIfNoEntry: false })?.size === 0) {
            process.stderr.write(`state: removing ${file}, left empty by a pulumi that was killed while writing it\n`);
            rmSync(file, { force: true });
        }
    }
}

/** Directory of a file:// state backend; undefined for other backends. */
function fileBackendDir(): string | undefined {
    const url = labEnv().PULUMI_BACKEND_URL ?? "";
    return url.startsWith("file://") ? url.replace(/^file:\/\//, "").replace(/\?.*$/, "") : undefined;
}

/** What `pulumi stack ls` says when it met another pulumi writing the file backend (see listStacks). */
export const LISTING_RACE = /\bEOF\b|NotFound\).*\.tmp\b/;

/**
 * Stacks of this project in the state backend, read again when the listing met another pulumi's
 * write (seen in CI with three labs and their pulumis at work): a file backend's attributes are
 * rewritten in place ("EOF"), and a checkpoint is written as a `.tmp` file then renamed, which the
 * listing may see and then not find ("NotFound … .tmp").
 */
export async function listStacks(): Promise<string[]> {
    for (let attempt = 1; ; attempt++) {
        removeTruncatedAttrs();
        try {
            return (await (await workspace()).listStacks()).map((s) => s.name.split("/").pop()!);
        } catch (err) {
            if (attempt < 3 && LISTING_RACE.test(String((err as Error).message))) {
                await new Promise((r) => setTimeout(r, 1000));
                continue;
            }
            throw new Error(`pulumi stack ls failed (${failure(err)})`);
        }
    }
}

export async function stackExists(stack: string): Promise<boolean> {
    return (await listStacks()).includes(stack);
}

/**
 * Creates the stack when it does not exist and returns the settings file Pulumi is to read for it
 * (from `text` when given). It is created in the settings directory, so the salt `stack init`
 * writes lands in the cache's copy, never in the checkout.
 */
export async function ensureStack(stack: string, text?: string): Promise<string> {
    const configFile = stackSettingsFile(stack, text);
    if (!(await stackExists(stack))) await (await workspace(settingsProject())).createStack(stack);
    return configFile;
}

/**
 * A file-backend stack's lock left by a pulumi process of this machine that no longer runs
 * (killed mid-update) blocks every later update; `pulumi cancel` lifts it. The API has cancel,
 * but the backend's lock has no owner check: which lock is stale is read here. Live locks stay.
 */
export async function clearStaleLock(stack: string): Promise<boolean> {
    const state = fileBackendDir();
    const locks = state && join(state, ".pulumi", "locks");
    if (!locks || !existsSync(locks)) return false;
    const stale = readdirSync(locks, { recursive: true, encoding: "utf8" })
        .filter((f) => f.split(sep).at(-2) === stack && f.endsWith(".json"))
        .map((f) => JSON.parse(readFileSync(join(locks, f), "utf8")) as { pid: number; hostname: string })
        .filter((lock) => lock.hostname === hostname() && !processAlive(lock.pid));
    if (stale.length === 0) return false;
    process.stderr.write(`stack ${stack}: lifting the lock of pulumi pid ${stale.map((l) => l.pid).join(", ")}, which no longer runs\n`);
    await (await selectStack(stack)).cancel();
    return true;
}

const INTERRUPTS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * After an up or destroy the API reads the stack's last update (`pulumi stack history`), by default
 * with --show-secrets: that loads the secrets manager without --config-file, and Pulumi then writes
 * the salt into the project's Pulumi.<stack>.yaml. The summary needs no secret.
 */
const NO_SECRETS = { showSecrets: false } as const;
const toStderr = (text: string) => {
    process.stderr.write(text);
};

/**
 * Runs one engine operation with its progress streamed to stderr; throws with pulumi's exit code.
 * pulumi runs in this process group: a terminal's Ctrl-C reaches it (and its plugins) directly, once,
 * and it cancels cleanly (steps in flight finish, the lock and plugins are released) while the lab
 * waits; a second Ctrl-C stops it at once. SIGTERM and SIGHUP, sent to the lab alone, are passed on
 * as one SIGINT through the API's AbortSignal.
 */
async function operation(op: string, stack: string, run: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
    const abort = new AbortController();
    let interrupted: string | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
        interrupted = signal;
        process.stderr.write(`\n${signal}: asking pulumi ${op} to stop cleanly, waiting for it…\n`);
        if (signal !== "SIGINT") abort.abort();
    };
    for (const s of INTERRUPTS) process.on(s, onSignal);
    let failed: unknown;
    try {
        await run(abort.signal);
    } catch (err) {
        failed = err;
    } finally {
        for (const s of INTERRUPTS) process.off(s, onSignal);
    }
    if (interrupted) {
        throw new Error(
            `pulumi ${op} interrupted by ${interrupted}; it stopped (${failed ? failure(failed) : "exit 0"}) after the steps in flight. ` +
                `\`lab down --stack ${stack}\` removes what exists`,
        );
    }
    if (failed) throw new Error(`pulumi ${op} failed (${failure(failed)})`);
}

/** The engine's options for `up` on `platform`. */
export function upOptions(platform: Pick<OperatorPlatform, "needsPolicyPack" | "refreshBeforeUp">): UpOptions {
    return {
        // Cloud stacks always run the guardrails (TTL tags, no SSH from anywhere, IMDSv2, budget).
        // The pack is given as its launcher (policy/analyzer): the engine starts an executable pack directly.
        policyPacks: platform.needsPolicyPack ? [join(REPO_ROOT, "policy", "analyzer")] : undefined,
        // EC2 hosts may have ended themselves at their expiry: the state learns it before the update.
        refresh: platform.refreshBeforeUp,
        suppressOutputs: true,
    };
}

/**
 * Creates or updates the lab; `settings` replaces the stack's settings for this up (a sweep cell).
 * A stack on a billed cloud platform is preflighted first (account, quota, zone, image, state
 * backend, CIDR: lab preflight), whichever command brings it up (lab up, a sweep's cells, the demo);
 * `preflightClient` stands in for AWS in tests.
 */
export async function up(stack: string, options: { settings?: string; preflightClient?: PreflightClient } = {}): Promise<void> {
    const loaded =
        options.settings === undefined ? loadStackConfig(stack) : loadConfig(stack, readConfigFile(dirname(stackSettingsFile(stack, options.settings)), stack));
    // Preflight reports every check at once (its config check included); then the platform's own
    // checks (e.g. operator CIDR, instance types, budget) refuse before a stack exists.
    await (await import("./awsPreflight.ts")).preflightBeforeUp(stack, loaded, options.preflightClient);
    loaded.platform.check(loaded);
    const configFile = await ensureStack(stack, options.settings);
    await clearStaleLock(stack);
    const selected = await selectStack(stack);
    await operation("up", stack, (signal) =>
        selected.up({ ...upOptions(loaded.platform), configFile, signal, onOutput: toStderr, onError: toStderr, ...NO_SECRETS }),
    );
}

export async function destroy(stack: string): Promise<void> {
    if (await stackExists(stack)) await destroyExisting(stack);
}

/**
 * Remote commands go with their host (`deletedWith`), so destroying a lab whose hosts are gone
 * (EC2 instances ended at their expiry) never reaches for them, and its state is never edited.
 */
async function destroyExisting(stack: string): Promise<void> {
    await clearStaleLock(stack);
    const configFile = stackSettingsFile(stack);
    const selected = await selectStack(stack);
    await operation("destroy", stack, (signal) => selected.destroy({ configFile, signal, onOutput: toStderr, onError: toStderr, ...NO_SECRETS }));
}

/**
 * Teardown that never gives up halfway: destroy (errors reported, not thrown), remove the
 * stack, reap leftovers by name, delete a generated stack file. Returns what is still left
 * (a failed residue check counts as something left: it cannot say "none"). Where the platform
 * cannot remove things without state (aws), a failed destroy keeps the stack for a retry.
 */
export async function teardownStack(stack: string, generatedConfigFile?: string): Promise<Residue> {
    const config = teardownConfigOf(stack);
    const platform = operatorPlatformFor(config);
    let destroyed = true;
    // One listing: destroy and stack rm only ever act on a stack that exists.
    const exists = await stackExists(stack).catch((err: Error) => {
        destroyed = false;
        process.stderr.write(`destroy failed: cannot list the stacks: ${err.message}\n`);
        return false;
    });
    if (exists) {
        try {
            await destroyExisting(stack);
        } catch (err) {
            destroyed = false;
            process.stderr.write(`destroy failed: ${(err as Error).message}\n`);
        }
        if (destroyed || platform.reapsWithoutState) await removeExisting(stack).catch(() => undefined);
        else process.stderr.write(`stack ${stack} is kept (its state is what removes the rest): \`lab down --stack ${stack}\` retries\n`);
    } else if (destroyed) {
        rmSync(join(paths().stackSettings, settingsName(stack)), { force: true });
    }
    const left = await platform.reap(stack, config).catch((err: Error): Residue => ({ uncheckedBecause: [err.message] }));
    // An up killed outright leaves its SSH sessions' directories, the stack's key in them.
    const orphans = removeOrphanSessionDirs(runBase());
    if (orphans.length) process.stderr.write(`removed ${orphans.length} SSH session directories of processes killed outright (${orphans.join(", ")})\n`);
    if (!destroyed && !platform.reapsWithoutState && residueCount(left) === 0) left.stackKept = [stack];
    if (generatedConfigFile) rmSync(generatedConfigFile, { force: true });
    process.stderr.write(`${describeResidue(left)}\n`);
    return left;
}

export async function removeStack(stack: string): Promise<void> {
    if (await stackExists(stack)) await removeExisting(stack);
}

/** `stack rm` from the settings directory: the settings file it deletes is the cache's copy. */
async function removeExisting(stack: string): Promise<void> {
    await (await workspace(settingsProject())).removeStack(stack, { force: true });
}

// ---- outputs and leases ------------------------------------------------------------------

/** A stack's outputs as plain values (secrets included, kept in memory); throws naming the stack when it does not exist. */
export async function outputValues(stack: string): Promise<Record<string, unknown>> {
    try {
        const outputs = await (await workspace()).stackOutputs(stack);
        return Object.fromEntries(Object.entries(outputs).map(([key, o]) => [key, o.value]));
    } catch (err) {
        if (/no stack named/.test(String((err as Error).message))) throw new Error(`stack ${stack} does not exist: run \`lab up --stack ${stack}\` first`);
        throw new Error(`pulumi stack output --stack ${stack} failed (${failure(err)})`);
    }
}

export type { StackOutputs };

/** Stack outputs including the SSH key (kept in memory; never written to a run directory). */
export async function outputs(stack: string): Promise<StackOutputs> {
    const values = await outputValues(stack);
    if (!("inventory" in values)) throw new Error(`stack ${stack} has no lab outputs: run \`lab up --stack ${stack}\` first`);
    return checkRecord(values, StackOutputsSchema, `pulumi stack output --stack ${stack}`);
}
