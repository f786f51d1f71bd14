// Finding the rig's tools and their versions (for `lab doctor`, bootstrap and run records).
import { $ } from "zx/core";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { labEnv, paths, REPO_ROOT } from "./toolchain.ts";
import { ANALYZER, analyzerLauncherProblem } from "./policyAnalyzer.ts";

export interface ToolReport {
    name: string;
    path?: string;
    version?: string;
    /** cache = built by bootstrap; rig = shipped in this repo; PATH / system otherwise. */
    source?: "cache" | "rig" | "node_modules" | "PATH";
    ok: boolean;
    problem?: string;
}

const VERSION_COMMANDS: Record<string, string[] | undefined> = {
    pulumi: ["version"],
    vegeta: ["-version"],
    haproxy: ["-v"],
    node: ["--version"],
    ssh: ["-V"],
    sshd: ["-V"],
    ip: ["-V"],
    openssl: ["version"],
    curl: ["--version"],
    go: ["version"],
    actionlint: ["-version"],
    "cloud-init": ["--version"],
    shellcheck: ["--version"],
    "pulumi-language-nodejs": undefined,
    "pulumi-resource-command": undefined,
    [ANALYZER]: undefined,
};

export const DOCTOR_TOOLS = [
    "node",
    "pulumi",
    "pulumi-language-nodejs",
    "pulumi-resource-command",
    ANALYZER,
    "vegeta",
    "haproxy",
    "sshd",
    "ssh",
    "ip",
    "openssl",
    "curl",
    "go",
    "actionlint",
    "shellcheck",
    "cloud-init",
];

function locate(name: string): string | undefined {
    const dirs = (labEnv().PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin", "/usr/local/go/bin"]);
    return dirs.map((d) => join(d, name)).find((candidate) => existsSync(candidate));
}

function sourceOf(path: string): ToolReport["source"] {
    if (path.startsWith(paths().bin)) return "cache";
    if (path.startsWith(join(REPO_ROOT, "scripts"))) return "rig";
    if (path.startsWith(join(REPO_ROOT, "node_modules"))) return "node_modules";
    return "PATH";
}

/** Bootstrap records what it built next to the binary, for tools that cannot print it. */
export function recordBuiltVersion(name: string, version: string): void {
    writeFileSync(join(paths().bin, `${name}.version`), `${version}\n`);
}

export async function findTool(name: string): Promise<ToolReport> {
    const path = locate(name);
    if (!path) return { name, ok: false, problem: "not found" };
    const source = sourceOf(path);
    const stamp = join(paths().bin, `${name}.version`);
    // The policy pack launcher is a script the rig writes: it is usable only as the pinned text.
    if (name === ANALYZER) {
        const problem = analyzerLauncherProblem(path);
        if (problem) return { name, path, source, ok: false, problem };
    }
    const args = VERSION_COMMANDS[name];
    if (args === undefined) {
        const version =
            source === "cache" && existsSync(stamp)
                ? readFileSync(stamp, "utf8").trim()
                : source === "rig"
                  ? "rig implementation of the command schema"
                  : "unknown";
        return { name, path, source, version, ok: true };
    }
    const result = await $({ env: labEnv(), nothrow: true })`${path} ${args}`.quiet();
    if (result.exitCode !== 0 && name !== "sshd") return { name, path, source, ok: false, problem: `${path} ${args.join(" ")} exited ${result.exitCode}` };
    const text = (result.stdout + result.stderr).trim();
    const version = (/v?\d+\.\d+(\.\d+)?[^\s,]*/.exec(text)?.[0] ?? text.split("\n")[0]).replace(/^v/, "");
    return { name, path, source, version, ok: true };
}
