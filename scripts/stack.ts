// Pulumi operations the CLI needs (select/create a stack, up, outputs, destroy) and the
// local residue check that proves teardown left nothing behind.
import { $ } from "zx";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import YAML from "yaml";
import { parseLabConfig, type LabConfig } from "../components/config.ts";
import { localNames } from "../components/render/localPlatform.ts";
import type { CapacityPlan } from "../components/render/capacity.ts";
import { withDetectedLimits } from "../components/platform/local/limits.ts";
import { labEnv, REPO_ROOT } from "./toolchain/toolchain.ts";

const pulumi = () => $({ env: labEnv(), cwd: REPO_ROOT, verbose: false, quiet: true });

export function stackFiles(): string[] {
    return readdirSync(REPO_ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f)).map((f) => f.slice("Pulumi.".length, -".yaml".length));
}

/** Validates the stack's config before Pulumi runs (the program checks it again). */
export function readStackConfig(stack: string): LabConfig {
    const file = join(REPO_ROOT, `Pulumi.${stack}.yaml`);
    if (!existsSync(file)) throw new Error(`no stack config ${file}; stacks here: ${stackFiles().join(", ")}`);
    const doc = YAML.parse(readFileSync(file, "utf8")) ?? {};
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        const [namespace, name] = key.split(":");
        if (namespace !== "c2m" || !name) throw new Error(`${file}: unknown config key ${key} (lab keys are c2m:<name>)`);
        raw[name] = value;
    }
    // This machine's limits bind only the local platform; EC2 hosts bring their own.
    return parseLabConfig(raw.platform === "aws" ? raw : withDetectedLimits(raw));
}

export async function stackExists(stack: string): Promise<boolean> {
    const out = await pulumi()`pulumi stack ls --json`;
    return (JSON.parse(out.stdout) as { name: string }[]).some((s) => s.name === stack || s.name.endsWith(`/${stack}`));
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

/** Runs a pulumi command with its progress streamed to stderr; throws with its exit code. */
async function streamed(args: string[]): Promise<void> {
    const p = $({ env: labEnv(), cwd: REPO_ROOT, verbose: false, quiet: true, nothrow: true })`pulumi ${args}`;
    p.stdout.pipe(process.stderr);
    p.stderr.pipe(process.stderr);
    const result = await p;
    if (result.exitCode !== 0) throw new Error(`pulumi ${args[0]} failed (exit ${result.exitCode})`);
}

export async function up(stack: string): Promise<void> {
    const config = readStackConfig(stack);
    await ensureStack(stack);
    // Cloud stacks always run the guardrails (TTL tags, no SSH from anywhere, IMDSv2, budget).
    const policy = config.platform === "aws" ? ["--policy-pack", join(REPO_ROOT, "policy")] : [];
    await streamed(["up", "--stack", stack, "--yes", "--skip-preview", "--non-interactive", "--suppress-outputs", ...policy]);
}

export async function destroy(stack: string): Promise<void> {
    if (!(await stackExists(stack))) return;
    await streamed(["destroy", "--stack", stack, "--yes", "--skip-preview", "--non-interactive"]);
}

/**
 * Teardown that never gives up halfway: destroy (errors reported, not thrown), remove the
 * stack, reap leftovers by name, delete a generated stack file. Returns what is still left.
 */
export async function teardownStack(stack: string, generatedConfigFile?: string): Promise<Residue> {
    try { await destroy(stack); } catch (err) { process.stderr.write(`destroy failed: ${(err as Error).message}\n`); }
    await removeStack(stack).catch(() => undefined);
    const left = await reapLocal(stack);
    if (generatedConfigFile) rmSync(generatedConfigFile, { force: true });
    process.stderr.write(`${describeResidue(left)}\n`);
    return left;
}

export async function removeStack(stack: string): Promise<void> {
    if (await stackExists(stack)) await pulumi()`pulumi stack rm ${stack} --yes --force --preserve-config`;
    dropEncryptionSalt(stack);
}

export interface StackOutputs {
    inventory: { name: string; role: "haproxy" | "backend" | "client"; address: string; sourceAddresses: string[]; workDir: string;
        ssh: { host: string; port: number; user: string; binPath: string } }[];
    vips: { plain: string; tls?: string; stats: string[] };
    sshPrivateKey: string;
    labConfig: LabConfig;
    namespacePrefix: string;
    runDir: string;
    haproxyConfig: string;
    capacityPlan: CapacityPlan;
}

/** Stack outputs including the SSH key (kept in memory; never written to a run directory). */
export async function outputs(stack: string): Promise<StackOutputs> {
    const out = await pulumi()`pulumi stack output --json --show-secrets --stack ${stack}`;
    const parsed = JSON.parse(out.stdout) as Partial<StackOutputs>;
    if (!parsed.inventory) throw new Error(`stack ${stack} has no lab outputs: run \`lab up --stack ${stack}\` first`);
    return parsed as StackOutputs;
}

/** Runs a program without a shell (a shell's own command line would match pgrep/pkill -f). */
function exec(file: string, args: string[]): string {
    return spawnSync(file, args, { encoding: "utf8" }).stdout ?? "";
}

export interface Residue { namespaces: string[]; links: string[]; processes: string[]; files: string[] }

/** Everything of a local stack still on this machine, found by name (works without state). */
export async function localResidue(stack: string): Promise<Residue> {
    const names = localNames(stack);
    const namespaces = exec("ip", ["netns", "list"]).split("\n").map((l) => l.split(" ")[0])
        .filter((n) => n.startsWith(names.namespacePrefix));
    const linkPrefix = names.bridge.slice(0, -2);
    const links = exec("ip", ["-o", "link", "show"]).split("\n").map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "")
        .filter((n) => n.startsWith(linkPrefix));
    const processes = exec("pgrep", ["-af", `${names.runDir}/`]).split("\n").filter(Boolean);
    const files = existsSync(names.runDir) ? [names.runDir] : [];
    return { namespaces, links, processes, files };
}

export function residueCount(r: Residue): number {
    return r.namespaces.length + r.links.length + r.processes.length + r.files.length;
}

export function describeResidue(r: Residue): string {
    if (residueCount(r) === 0) return "residue check: none (0 namespaces, 0 links, 0 processes, 0 files)";
    return ["residue check: LEFT BEHIND", ...Object.entries(r).filter(([, v]) => v.length)
        .map(([k, v]) => `  ${k}: ${(v as string[]).join(", ")}`)].join("\n");
}

/** Removes a local stack's leftovers by name: the fallback when state is lost or teardown failed. */
export async function reapLocal(stack: string): Promise<Residue> {
    const names = localNames(stack);
    const before = await localResidue(stack);
    for (const ns of before.namespaces) {
        const pids = exec("ip", ["netns", "pids", ns]).split("\n").filter(Boolean);
        if (pids.length) exec("kill", ["-KILL", ...pids]);
        exec("ip", ["netns", "del", ns]);
    }
    exec("pkill", ["-KILL", "-f", `${names.runDir}/`]);
    for (const link of before.links) exec("ip", ["link", "del", link]);
    exec("rm", ["-rf", names.runDir]);
    return localResidue(stack);
}
