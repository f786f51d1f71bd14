// `lab bootstrap`: installs or builds every tool the rig needs, idempotently, into the
// cache outside the checkout. Each step ends with one line; a step that runs long (apt, a Go
// build) shows a live line meanwhile: elapsed, what it is doing (Go's package count, modules
// downloaded, apt's packages) and how long it typically takes (toolchain/progress.ts).
import { $, which, fs } from "zx";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { APT_PACKAGES, labEnv, paths } from "./toolchain.ts";
import { PINS } from "../../components/pins.ts";
import { findTool, recordBuiltVersion, type ToolReport } from "./tools.ts";
import { ANALYZER, analyzerLauncherPath, analyzerLauncherProblem, analyzerLauncherScript } from "./policyAnalyzer.ts";
import { CLOUD_INIT_PYTHON_PACKAGES, cloudInitRoot, cloudInitWrapper } from "./cloudInit.ts";
import { aptLine, goLine, LiveStep, roughDuration, runLines, type Typical } from "./progress.ts";

interface Step {
    name: string;
    typical?: Typical;
    run: (live: LiveStep) => Promise<string>;
}

/**
 * How long the long steps took on this machine kind (2 cores, 24 GB, Go module proxy, Debian
 * mirror) from an empty tool cache and empty Go caches (`C2M_CACHE`, `GOCACHE`, `GOMODCACHE`
 * pointing at empty directories), in bootstrap's order (the CLI's build compiles Go's standard
 * library for the builds after it). Measured while the machine ran other work at load ~7
 * (2026-12-02: 1,295 s in all, 987 s user + 149 s system CPU, so roughly half that on idle cores).
 * apt is not listed: how long it takes depends on which packages are missing (its live line
 * counts them instead).
 */
export const TYPICAL: Record<"pulumi" | "languageHost" | "vegeta" | "actionlint" | "cloudInit", Typical> = {
    pulumi: { seconds: 1200, when: "cold, 2 cores at load ~7" },
    languageHost: { seconds: 50, when: "cold, 2 cores at load ~7" },
    vegeta: { seconds: 27, when: "cold, 2 cores at load ~7" },
    actionlint: { seconds: 10, when: "cold, 2 cores at load ~7" },
    cloudInit: { seconds: 8, when: "when missing" },
};

/** Go tools bootstrap builds when missing, for the up-front estimate. */
const GO_TOOLS: { tool: string; typical: Typical }[] = [
    { tool: "pulumi", typical: TYPICAL.pulumi },
    { tool: "pulumi-language-nodejs", typical: TYPICAL.languageHost },
    { tool: "vegeta", typical: TYPICAL.vegeta },
    { tool: "actionlint", typical: TYPICAL.actionlint },
];

export async function bootstrap(): Promise<void> {
    const p = paths();
    for (const dir of [p.cache, p.bin, p.state, p.goBuild]) mkdirSync(dir, { recursive: true });
    const steps: Step[] = [
        { name: "Node >= 22", run: checkNode },
        { name: "system packages (apt)", run: installAptPackages },
        { name: "Go toolchain", run: checkGo },
        {
            name: `pulumi CLI >= v${PINS.pulumiSdk} (else built: v${PINS.pulumiCli})`,
            typical: TYPICAL.pulumi,
            run: (live) => ensureGoTool(live, "pulumi", PINS.pulumiCli, buildPulumiCli, PINS.pulumiSdk),
        },
        {
            name: `pulumi-language-nodejs v${PINS.languageHost}`,
            typical: TYPICAL.languageHost,
            run: (live) => ensureGoTool(live, "pulumi-language-nodejs", PINS.languageHost, buildLanguageHost),
        },
        { name: "pulumi-resource-command", run: checkCommandProvider },
        { name: `vegeta v${PINS.vegeta}`, typical: TYPICAL.vegeta, run: (live) => ensureGoTool(live, "vegeta", PINS.vegeta, buildVegeta) },
        { name: `${ANALYZER} (policy pack launcher, rev ${PINS.policyAnalyzer})`, run: ensureAnalyzerLauncher },
        {
            name: `actionlint v${PINS.actionlint}`,
            typical: TYPICAL.actionlint,
            run: (live) => ensureGoTool(live, "actionlint", PINS.actionlint, buildActionlint),
        },
        { name: `cloud-init >= ${PINS.cloudInit} (schema checker, unpacked, not installed)`, typical: TYPICAL.cloudInit, run: ensureCloudInit },
        { name: "state backend and passphrase", run: ensureStateAndPassphrase },
    ];
    const started = Date.now();
    const missing = GO_TOOLS.filter((t) => !existsSync(join(p.bin, t.tool)) && !onPlainPath(t.tool));
    if (missing.length > 0) {
        const total = missing.reduce((s, t) => s + t.typical.seconds, 0);
        process.stderr.write(
            `bootstrap: will build ${missing.map((t) => t.tool).join(", ")} from Go modules into ${p.bin}: ` +
                `${roughDuration(total)} from empty Go caches on 2 cores at load ~7 (about half that on idle cores, much less with a warm GOCACHE); ` +
                `later runs take ~1 s\n`,
        );
    }
    for (const [i, step] of steps.entries()) {
        const live = new LiveStep(`[${i + 1}/${steps.length}] ${step.name}`, step.typical);
        try {
            live.finish(await step.run(live));
        } catch (err) {
            live.fail();
            throw err;
        }
    }
    process.stderr.write(`bootstrap done in ${((Date.now() - started) / 1000).toFixed(1)} s; cache ${p.cache}\n`);
}

/** A tool on the machine's own PATH (not the cache's): bootstrap then checks its version before building anything. */
function onPlainPath(tool: string): boolean {
    return (process.env.PATH ?? "")
        .split(":")
        .filter(Boolean)
        .some((dir) => existsSync(join(dir, tool)));
}

async function checkNode(): Promise<string> {
    const major = Number(process.versions.node.split(".")[0]);
    if (major < 22) {
        throw new Error(
            `Node ${process.versions.node} runs this script; run it through npm (npm run bootstrap) ` +
                `so the node@${PINS.node} package from node_modules/.bin is used`,
        );
    }
    return `node ${process.versions.node} (${process.execPath})`;
}

async function installAptPackages(live: LiveStep): Promise<string> {
    const onPath = (bin: string) => ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].some((dir) => existsSync(`${dir}/${bin}`));
    const pkgs = [
        ...new Set(
            Object.entries(APT_PACKAGES)
                .filter(([bin]) => !onPath(bin))
                .map(([, pkg]) => pkg),
        ),
    ];
    if (pkgs.length === 0) return "all present";
    await aptInstall(live, pkgs);
    return `installed ${pkgs.join(", ")}`;
}

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };

async function aptInstall(live: LiveStep, pkgs: string[]): Promise<void> {
    // policy-rc.d stops the packages from starting system-wide services: the lab runs its own.
    const policy = "/usr/sbin/policy-rc.d";
    const hadPolicy = existsSync(policy);
    if (!hadPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    try {
        let indexes = 0;
        live.begin("apt-get update: package indexes", { done: 0 });
        await runLines("apt-get", ["update", "-q"], {
            env: APT_ENV,
            onLine: (l) => {
                const a = aptLine(l);
                if (a.fetched) live.update({ done: ++indexes, last: a.fetched });
            },
        });
        let total: number | undefined;
        let downloaded = 0;
        let unpacked = 0;
        let setUp = 0;
        live.begin(`apt-get install ${pkgs.join(" ")}: resolving`);
        await runLines("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...pkgs], {
            env: APT_ENV,
            onLine: (l) => {
                const a = aptLine(l);
                if (a.toInstall !== undefined) total = a.toInstall;
                if (a.fetched) live.update({ phase: "apt-get install: downloading", done: ++downloaded, total, last: a.fetched });
                if (a.unpacking) live.update({ phase: "apt-get install: unpacking", done: ++unpacked, total, last: a.unpacking });
                if (a.settingUp) live.update({ phase: "apt-get install: setting up", done: ++setUp, total, last: a.settingUp });
            },
        });
    } finally {
        if (!hadPolicy) fs.rmSync(policy, { force: true });
    }
}

async function checkGo(): Promise<string> {
    const go = (await which("go", { nothrow: true })) ?? (existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : null);
    if (!go) throw new Error("Go is needed to build pulumi and vegeta; install it (https://go.dev/doc/install) and retry");
    const version = (await $`${go} version`.quiet()).stdout.trim();
    return version;
}

async function goBin(): Promise<string> {
    return (await which("go", { nothrow: true })) ?? "/usr/local/go/bin/go";
}

/**
 * Uses the tool found (cache, then PATH) when it runs and is at least `minimum` (default: the
 * pin); otherwise builds the pin. The pulumi CLI's minimum is the SDK's version: a CLI the
 * operator installed at or above it is used as is, never rebuilt.
 */
export async function ensureGoTool(
    live: LiveStep,
    tool: string,
    version: string,
    build: (live: LiveStep) => Promise<void>,
    minimum = version,
): Promise<string> {
    live.update({ phase: "looking for an installed one" });
    const found = await findTool(tool);
    if (usable(found, minimum)) {
        const why = found.source === "cache" ? "" : `, at or above v${minimum}: used as is`;
        return `${found.version} from ${found.source} (${found.path})${why}`;
    }
    live.begin(
        `${found.path ? `${found.path} is ${found.ok ? `v${found.version}, older than v${minimum}` : "not usable"}` : "none found"}: building v${version}`,
    );
    await build(live);
    recordBuiltVersion(tool, version);
    const built: ToolReport = await findTool(tool);
    if (!built.ok) throw new Error(`${tool} was built but does not run: ${built.problem}`);
    return `${built.version}, built into ${built.path}`;
}

/** A found tool that runs and is not older than `minimum` is used instead of building one. */
export function usable(found: Pick<ToolReport, "path" | "ok" | "version">, minimum: string): boolean {
    return Boolean(found.path && found.ok && !olderThan(found.version, minimum));
}

/** True when a dotted version is older than the wanted one ("unknown" counts as fine). */
export function olderThan(found: string | undefined, wanted: string): boolean {
    const parse = (v: string) => v.replace(/^v/, "").replace(/\+.*$/, "").split(/[.-]/).slice(0, 3).map(Number);
    if (!found || !/^v?\d/.test(found)) return false;
    const [a, b] = [parse(found), parse(wanted)];
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
    return false;
}

/**
 * A throwaway module that requires the tool's module, so replace directives do not block the
 * build. Live: modules downloaded by `go get`, then packages compiled by `go build -v` out of
 * the package's dependency count (`go list -deps`), then linking.
 */
async function buildInWrapper(live: LiveStep, name: string, requires: string[], pkg: string, ldflags: string, extraGoMod = ""): Promise<void> {
    const p = paths();
    const dir = join(p.goBuild, name);
    fs.rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const go = await goBin();
    const goVersion = (await $`${go} env GOVERSION`.quiet()).stdout.trim().replace(/^go/, "");
    writeFileSync(join(dir, "go.mod"), `module c2mlab.local/${name}\n\ngo ${goVersion}\n${extraGoMod}`);
    const opts = { cwd: dir, env: { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" } };
    let downloaded = 0;
    live.update({ phase: "go get: resolving modules", done: undefined });
    await runLines(go, ["get", ...requires], {
        ...opts,
        onLine: (l) => {
            const m = goLine(l).downloaded;
            if (m) live.update({ phase: "go get: downloading modules", done: ++downloaded, last: m });
        },
    });
    live.update({ phase: "go list: counting packages", done: undefined, last: undefined });
    const total = (await runLines(go, ["list", "-deps", pkg], opts)).length;
    let compiled = 0;
    live.begin("go build: compiling packages", { done: 0, total });
    await runLines(go, ["build", "-v", "-trimpath", "-ldflags", ldflags, "-o", join(p.bin, name), pkg], {
        ...opts,
        onLine: (l) => {
            const g = goLine(l);
            if (g.downloaded) live.update({ phase: "go build: downloading modules", last: g.downloaded });
            if (!g.compiled) return;
            // The main package comes last; the linker runs after it.
            if (g.compiled === pkg) live.update({ phase: "go build: linking", done: undefined, total: undefined, last: name });
            else live.update({ phase: "go build: compiling packages", done: Math.min(++compiled, total), total, last: g.compiled });
        },
    });
}

async function buildPulumiCli(live: LiveStep): Promise<void> {
    const v = PINS.pulumiCli;
    await buildInWrapper(
        live,
        "pulumi",
        [`github.com/pulumi/pulumi/pkg/v3@v${v}`, `github.com/pulumi/pulumi/sdk/v3@v${v}`],
        "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
        `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${v}`,
        // pkg/v3's own go.mod carries this replace; a dependent module must repeat it.
        "\nreplace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e\n",
    );
}

async function buildLanguageHost(live: LiveStep): Promise<void> {
    const v = PINS.languageHost;
    await buildInWrapper(
        live,
        "pulumi-language-nodejs",
        [`github.com/pulumi/pulumi/sdk/v3@v${v}`],
        "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs",
        `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${v}`,
    );
}

async function buildVegeta(live: LiveStep): Promise<void> {
    const v = PINS.vegeta;
    await buildInWrapper(live, "vegeta", [`github.com/tsenart/vegeta/v12@v${v}`], "github.com/tsenart/vegeta/v12", `-X main.Version=v${v}`);
}

async function buildActionlint(live: LiveStep): Promise<void> {
    const v = PINS.actionlint;
    await buildInWrapper(
        live,
        "actionlint",
        [`github.com/rhysd/actionlint@v${v}`],
        "github.com/rhysd/actionlint/cmd/actionlint",
        `-X github.com/rhysd/actionlint.version=v${v}`,
    );
}

/** Writes the policy pack launcher when the cached one is missing or not this checkout's. */
async function ensureAnalyzerLauncher(): Promise<string> {
    const path = analyzerLauncherPath();
    const problem = analyzerLauncherProblem(path);
    if (problem === undefined) return `present (${path})`;
    writeFileSync(path, analyzerLauncherScript(), { mode: 0o755 });
    chmodSync(path, 0o755);
    recordBuiltVersion(ANALYZER, PINS.policyAnalyzer);
    const found = await findTool(ANALYZER);
    if (!found.ok) throw new Error(`${ANALYZER} was written but is not usable: ${found.problem}`);
    return `written into ${path}`;
}

/**
 * cloud-init's schema checker without cloud-init's services: the Python libraries it imports from
 * apt, the package itself unpacked into the cache (see scripts/toolchain/cloudInit.ts for why).
 */
async function ensureCloudInit(live: LiveStep): Promise<string> {
    const found = await findTool("cloud-init");
    if (found.ok && !olderThan(found.version, PINS.cloudInit)) return `${found.version} from ${found.source} (${found.path})`;
    await aptInstall(live, CLOUD_INIT_PYTHON_PACKAGES);
    live.begin("apt-get download cloud-init");
    const candidate = (await $({ env: APT_ENV })`apt-cache policy cloud-init`.quiet()).stdout.match(/Candidate:\s*(\S+)/)?.[1];
    if (!candidate || candidate === "(none)") throw new Error("apt has no cloud-init package (needed for `cloud-init schema`)");
    if (olderThan(candidate, PINS.cloudInit)) throw new Error(`apt's cloud-init ${candidate} is older than the pinned ${PINS.cloudInit}`);
    const root = cloudInitRoot(candidate);
    const download = join(paths().goBuild, "cloud-init-deb");
    fs.rmSync(download, { recursive: true, force: true });
    mkdirSync(download, { recursive: true });
    // _apt may not write into root's cache: apt then downloads as root (a warning, not an error).
    await $({ env: APT_ENV, cwd: download })`apt-get download -q ${`cloud-init=${candidate}`}`.quiet();
    const deb = readdirSync(download).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download cloud-init=${candidate} left no .deb in ${download}`);
    fs.rmSync(root, { recursive: true, force: true });
    await $`dpkg-deb -x ${join(download, deb)} ${root}`.quiet();
    fs.rmSync(download, { recursive: true, force: true });
    const wrapper = join(paths().bin, "cloud-init");
    writeFileSync(wrapper, cloudInitWrapper(root), { mode: 0o755 });
    chmodSync(wrapper, 0o755);
    const built = await findTool("cloud-init");
    if (!built.ok) throw new Error(`cloud-init was unpacked into ${root} but does not run: ${built.problem}`);
    return `${built.version}, unpacked into ${root} (not installed: no cloud-init service on this machine)`;
}

async function checkCommandProvider(): Promise<string> {
    const found = await findTool("pulumi-resource-command");
    if (!found.ok) throw new Error(`pulumi-resource-command: ${found.problem}`);
    return `${found.source} (${found.path})`;
}

async function ensureStateAndPassphrase(): Promise<string> {
    const p = paths();
    if (!existsSync(p.passphraseFile)) {
        // The operator never types it; it only protects the local stack's secrets at rest.
        writeFileSync(p.passphraseFile, randomBytes(24).toString("base64url"), { mode: 0o600 });
    }
    chmodSync(p.passphraseFile, 0o600);
    return `backend ${labEnv().PULUMI_BACKEND_URL}, passphrase file ${p.passphraseFile}`;
}
