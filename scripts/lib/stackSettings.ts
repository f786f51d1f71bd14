// A stack's settings file as Pulumi gets it. Pulumi writes a stack's passphrase salt into the
// stack's settings file (on `stack init` and on any operation that finds none), rewriting the whole
// YAML. So Pulumi never gets a file of the checkout: every operation runs with `--config-file`
// pointing at a copy in the cache (paths().stackSettings), beside a copy of Pulumi.yaml. Stacks no
// one commits (benches, tests) keep their settings in the cache too (paths().generatedStacks).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadConfig, readConfigFile, stackFiles, type LoadedConfig } from "../../components/loadConfig.ts";
import { paths, REPO_ROOT, stackConfigFile } from "../toolchain/toolchain.ts";

export const settingsName = (stack: string) => `Pulumi.${stack}.yaml`;
export { stackConfigFile };

function writeAtomically(file: string, text: string): string {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
    return file;
}

/** Writes the settings of a stack no one commits (a bench's, a test's) and returns its file; a committed stack's file is never written. */
export function writeGeneratedStack(stack: string, text: string): string {
    if (existsSync(join(REPO_ROOT, settingsName(stack)))) throw new Error(`stack ${stack} is committed (${settingsName(stack)}): lab never writes its file`);
    return writeAtomically(join(paths().generatedStacks, settingsName(stack)), text);
}

/**
 * The settings file Pulumi gets for `stack` (its --config-file): a fresh copy of the stack's
 * settings, or `text` (a sweep cell's variant), in the cache beside a copy of Pulumi.yaml. The copy
 * has no salt: Pulumi takes the one in the stack's state (PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER)
 * and writes it back here. Without settings anywhere (a generated file already removed), the copy
 * Pulumi last used is kept, or an empty one is written: destroy still runs.
 */
export function stackSettingsFile(stack: string, text?: string): string {
    const copy = join(settingsProject(), settingsName(stack));
    const source = stackConfigFile(stack);
    if (text !== undefined || existsSync(source)) return writeAtomically(copy, text ?? readFileSync(source, "utf8"));
    return existsSync(copy) ? copy : writeAtomically(copy, "");
}

/** The settings directory with its copy of Pulumi.yaml (a project there is this project, by name). */
export function settingsProject(): string {
    const dir = paths().stackSettings;
    const project = readFileSync(join(REPO_ROOT, "Pulumi.yaml"), "utf8");
    const projectCopy = join(dir, "Pulumi.yaml");
    if (!existsSync(projectCopy) || readFileSync(projectCopy, "utf8") !== project) writeAtomically(projectCopy, project);
    return dir;
}

/** Writes the settings Pulumi reads for every committed stack (what `lab env` gives a shell for plain `pulumi`). */
export function committedStackSettings(): string[] {
    return stackFiles(REPO_ROOT).map((stack) => stackSettingsFile(stack));
}

/** The stack's config from its settings file, validated before Pulumi runs (the program checks it again). */
export function loadStackConfig(stack: string): LoadedConfig {
    const file = stackConfigFile(stack);
    if (!existsSync(file)) {
        throw new Error(
            `no stack config ${settingsName(stack)} (committed in ${REPO_ROOT}: ${stackFiles(REPO_ROOT).join(", ")}; or generated in ${paths().generatedStacks})`,
        );
    }
    return loadConfig(stack, readConfigFile(dirname(file), stack));
}
