// Where the rig's tools live and which versions it pins. Everything is cached outside the
// checkout (C2M_CACHE, default ~/.cache/c2m-lab) so CI and later runs reuse it.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** Debian packages the rig needs, by a binary each installs (a missing binary means install it). */
export const APT_PACKAGES: Record<string, string> = {
    haproxy: "haproxy",
    sshd: "openssh-server",
    ssh: "openssh-client",
    ip: "iproute2",
    curl: "curl",
    openssl: "openssl",
    pgrep: "procps",
    // the metrics role: Prometheus on the metrics host, node_exporter on every host
    prometheus: "prometheus",
    "prometheus-node-exporter": "prometheus-node-exporter",
    // actionlint runs it on the workflows' run: scripts (test/unit/workflows.test.ts).
    // cloud-init is not here: its package enables boot services; bootstrap unpacks it (toolchain/cloudInit.ts).
    shellcheck: "shellcheck",
    nft: "nftables", // the local platform's firewall: only SSH from the operator to the hosts
};

export interface Paths {
    cache: string;
    bin: string;
    state: string;
    passphraseFile: string;
    goBuild: string;
    /**
     * The stack settings Pulumi reads and writes (Pulumi.<stack>.yaml beside a copy of Pulumi.yaml):
     * Pulumi writes a stack's passphrase salt into its settings file, so it never gets the checkout's.
     */
    stackSettings: string;
    /** The settings of stacks no one commits (benches, sweeps' scratch stacks, tests): never the checkout's top level. */
    generatedStacks: string;
}

export function paths(): Paths {
    const cache = process.env.C2M_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "c2m-lab");
    return {
        cache,
        bin: join(cache, "bin"),
        state: join(cache, "state"),
        passphraseFile: join(cache, "passphrase"),
        goBuild: join(cache, "go-build"),
        stackSettings: join(cache, "stack-settings"),
        generatedStacks: join(cache, "generated-stacks"),
    };
}

/**
 * PATH for lab commands: cached tools and Node 22 first, then the machine's PATH, then the
 * rig's own plugins (so a real pulumi-resource-command on PATH wins over the rig's).
 */
export function toolPath(basePath = process.env.PATH ?? ""): string {
    const p = paths();
    return [p.bin, join(REPO_ROOT, "node_modules", ".bin"), basePath, join(REPO_ROOT, "scripts", "bin")].filter(Boolean).join(delimiter);
}

/**
 * The one place the runs directory is decided: runs/, or $C2M_RUNS_DIR (tests, a scratch area).
 * Every command that writes or reads runs (attack, tipping, sweep, runs, compare, report) takes it from here.
 */
export function runsRoot(): string {
    return process.env.C2M_RUNS_DIR ?? join(REPO_ROOT, "runs");
}

/**
 * Where a stack's settings come from: the checkout's committed Pulumi.<stack>.yaml, else a generated
 * one in the cache (benches, tests). Light on purpose: config readers that never load the engine
 * (lab preflight, lab plan) find a stack here as scripts/lib/pulumiStack.ts does.
 */
export function stackConfigFile(stack: string): string {
    const committed = join(REPO_ROOT, `Pulumi.${stack}.yaml`);
    return existsSync(committed) ? committed : join(paths().generatedStacks, `Pulumi.${stack}.yaml`);
}

/** Environment for Pulumi and for everything the lab runs. */
export function labEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const p = paths();
    const env: NodeJS.ProcessEnv = {
        ...base,
        PATH: toolPath(base.PATH),
        PULUMI_BACKEND_URL: base.PULUMI_BACKEND_URL ?? `file://${p.state}`,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        // A settings file without a salt (a fresh copy of the committed one) takes the salt the stack's state holds.
        PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER: "true",
        C2M_STACK_SETTINGS: p.stackSettings,
        // Where hosts find node, vegeta, haproxy (the filesystem is shared on the local platform).
        C2M_BIN_PATH: [p.bin, join(REPO_ROOT, "node_modules", ".bin"), "/usr/sbin", "/usr/bin"].join(delimiter),
    };
    if (!base.PULUMI_CONFIG_PASSPHRASE && !base.PULUMI_CONFIG_PASSPHRASE_FILE && existsSync(p.passphraseFile)) {
        env.PULUMI_CONFIG_PASSPHRASE_FILE = p.passphraseFile;
    }
    return env;
}

/** The variables labEnv() sets for the lab (everything it adds to the caller's environment). */
export const LAB_ENV_KEYS = [
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "PULUMI_SKIP_UPDATE_CHECK",
    "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING",
    "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER",
    "C2M_STACK_SETTINGS",
    "C2M_BIN_PATH",
    "C2M_CACHE",
] as const;

/**
 * `lab env`: POSIX shell lines that give an operator's shell the lab's environment, so plain
 * `pulumi preview/up/destroy --stack <s>` run as `lab up` runs them:
 *   eval "$(npm run -s lab -- env)"
 * PATH gets the tool cache and the checkout's Node 22 in front of the shell's own PATH and the
 * rig's plugins behind it (as toolPath() orders them), once: evaluating it twice changes nothing.
 */
export function shellExports(base: NodeJS.ProcessEnv = process.env): string {
    const env = labEnv(base);
    // Not a host command: the operator's own shell (sh, dash, zsh, bash) evaluates these lines, so
    // they use POSIX quoting; zx's quote writes bash's $'…', which dash and other POSIX shells misread.
    const single = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
    const double = (v: string) => v.replace(/[\\"$`]/g, (c) => `\\${c}`);
    const [front, back] = toolPath("\0")
        .split("\0")
        .map((s) => s.replace(/^:|:$/g, ""));
    const first = paths().bin;
    const lines = [
        `# c2m-lab environment for ${REPO_ROOT}: eval "$(npm run -s lab -- env)"`,
        `case ":$PATH:" in *${single(`:${first}:`)}*) ;; *) PATH="${double(front)}:$PATH:${double(back)}" ;; esac`,
        "export PATH",
    ];
    for (const key of LAB_ENV_KEYS) {
        const value = key === "C2M_CACHE" ? base.C2M_CACHE : env[key];
        if (value !== undefined) lines.push(`export ${key}=${single(value)}`);
    }
    return `${lines.join("\n")}\n`;
}
