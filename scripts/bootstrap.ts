// `lab bootstrap`: installs or builds every tool the rig needs, idempotently, into the
// cache outside the checkout; one progress line per step.
import { $, which, fs } from "zx";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { APT_PACKAGES, labEnv, paths } from "./toolchain/toolchain.ts";
import { PINS } from "../components/pins.ts";
import { findTool, recordBuiltVersion, type ToolReport } from "./toolchain/tools.ts";
import { ANALYZER, analyzerLauncherPath, analyzerLauncherProblem, analyzerLauncherScript } from "./toolchain/policyAnalyzer.ts";
import { CLOUD_INIT_PYTHON_PACKAGES, cloudInitRoot, cloudInitWrapper } from "./toolchain/cloudInit.ts";

interface Step { name: string; run: () => Promise<string> }

export async function bootstrap(): Promise<void> {
    const p = paths();
    for (const dir of [p.cache, p.bin, p.state, p.goBuild]) mkdirSync(dir, { recursive: true });
    const steps: Step[] = [
        { name: "Node >= 22", run: checkNode },
        { name: "system packages (apt)", run: installAptPackages },
        { name: "Go toolchain", run: checkGo },
        { name: `pulumi CLI v${PINS.pulumiCli}`, run: () => ensureGoTool("pulumi", PINS.pulumiCli, buildPulumiCli) },
        { name: `pulumi-language-nodejs v${PINS.languageHost}`, run: () => ensureGoTool("pulumi-language-nodejs", PINS.languageHost, buildLanguageHost) },
        { name: "pulumi-resource-command", run: checkCommandProvider },
        { name: `vegeta v${PINS.vegeta}`, run: () => ensureGoTool("vegeta", PINS.vegeta, buildVegeta) },
        { name: `${ANALYZER} (policy pack launcher, rev ${PINS.policyAnalyzer})`, run: ensureAnalyzerLauncher },
        { name: `actionlint v${PINS.actionlint}`, run: () => ensureGoTool("actionlint", PINS.actionlint, buildActionlint) },
        { name: `cloud-init >= ${PINS.cloudInit} (schema checker, unpacked, not installed)`, run: ensureCloudInit },
        { name: "state backend and passphrase", run: ensureStateAndPassphrase },
    ];
    const started = Date.now();
    for (const [i, step] of steps.entries()) {
        const t0 = Date.now();
        process.stderr.write(`[${i + 1}/${steps.length}] ${step.name} … `);
        const detail = await step.run();
        process.stderr.write(`${detail} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    }
    process.stderr.write(`bootstrap done in ${((Date.now() - started) / 1000).toFixed(1)} s; cache ${p.cache}\n`);
}

async function checkNode(): Promise<string> {
    const major = Number(process.versions.node.split(".")[0]);
    if (major < 22) {
        throw new Error(`Node ${process.versions.node} runs this script; run it through npm (npm run bootstrap) ` +
            `so the node@${PINS.node} package from node_modules/.bin is used`);
    }
    return `node ${process.versions.node} (${process.execPath})`;
}

async function installAptPackages(): Promise<string> {
    const onPath = (bin: string) => ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].some((dir) => existsSync(`${dir}/${bin}`));
    const pkgs = [...new Set(Object.entries(APT_PACKAGES).filter(([bin]) => !onPath(bin)).map(([, pkg]) => pkg))];
    if (pkgs.length === 0) return "all present";
    await aptInstall(pkgs);
    return `installed ${pkgs.join(", ")}`;
}

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };

async function aptInstall(pkgs: string[]): Promise<void> {
    // policy-rc.d stops the packages from starting system-wide services: the lab runs its own.
    const policy = "/usr/sbin/policy-rc.d";
    const hadPolicy = existsSync(policy);
    if (!hadPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    try {
        await $({ env: APT_ENV })`apt-get update -q`.quiet();
        await $({ env: APT_ENV })`apt-get install -y -q --no-install-recommends ${pkgs}`.quiet();
    } finally {
        if (!hadPolicy) fs.rmSync(policy, { force: true });
    }
}

async function checkGo(): Promise<string> {
    const go = await which("go", { nothrow: true }) ?? (existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : null);
    if (!go) throw new Error("Go is needed to build pulumi and vegeta; install it (https://go.dev/doc/install) and retry");
    const version = (await $`${go} version`.quiet()).stdout.trim();
    return version;
}

async function goBin(): Promise<string> {
    return (await which("go", { nothrow: true })) ?? "/usr/local/go/bin/go";
}

async function ensureGoTool(tool: string, version: string, build: () => Promise<void>): Promise<string> {
    const found = await findTool(tool);
    if (found.path && found.ok && !olderThan(found.version, version)) return `${found.version} from ${found.source} (${found.path})`;
    await build();
    recordBuiltVersion(tool, version);
    const built: ToolReport = await findTool(tool);
    if (!built.ok) throw new Error(`${tool} was built but does not run: ${built.problem}`);
    return `${built.version}, built into ${built.path}`;
}

/** True when a dotted version is older than the wanted one ("unknown" counts as fine). */
export function olderThan(found: string | undefined, wanted: string): boolean {
    const parse = (v: string) => v.replace(/^v/, "").replace(/\+.*$/, "").split(/[.-]/).slice(0, 3).map(Number);
    if (!found || !/^v?\d/.test(found)) return false;
    const [a, b] = [parse(found), parse(wanted)];
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
    return false;
}

/** A throwaway module that requires the tool's module, so replace directives do not block the build. */
async function buildInWrapper(name: string, requires: string[], pkg: string, ldflags: string, extraGoMod = ""): Promise<void> {
    const p = paths();
    const dir = join(p.goBuild, name);
    fs.rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const go = await goBin();
    const goVersion = (await $`${go} env GOVERSION`.quiet()).stdout.trim().replace(/^go/, "");
    writeFileSync(join(dir, "go.mod"), `module c2mlab.local/${name}\n\ngo ${goVersion}\n${extraGoMod}`);
    const $$ = $({ cwd: dir, env: { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" } });
    await $$`${go} get ${requires}`.quiet();
    await $$`${go} build -trimpath -ldflags ${ldflags} -o ${join(p.bin, name)} ${pkg}`.quiet();
}

async function buildPulumiCli(): Promise<void> {
    const v = PINS.pulumiCli;
    await buildInWrapper("pulumi", [`github.com/pulumi/pulumi/pkg/v3@v${v}`, `github.com/pulumi/pulumi/sdk/v3@v${v}`],
        "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
        `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${v}`,
        // pkg/v3's own go.mod carries this replace; a dependent module must repeat it.
        "\nreplace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e\n");
}

async function buildLanguageHost(): Promise<void> {
    const v = PINS.languageHost;
    await buildInWrapper("pulumi-language-nodejs", [`github.com/pulumi/pulumi/sdk/v3@v${v}`],
        "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs",
        `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${v}`);
}

async function buildVegeta(): Promise<void> {
    const v = PINS.vegeta;
    await buildInWrapper("vegeta", [`github.com/tsenart/vegeta/v12@v${v}`], "github.com/tsenart/vegeta/v12",
        `-X main.Version=v${v}`);
}

async function buildActionlint(): Promise<void> {
    const v = PINS.actionlint;
    await buildInWrapper("actionlint", [`github.com/rhysd/actionlint@v${v}`], "github.com/rhysd/actionlint/cmd/actionlint",
        `-X github.com/rhysd/actionlint.version=v${v}`);
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
async function ensureCloudInit(): Promise<string> {
    const found = await findTool("cloud-init");
    if (found.ok && !olderThan(found.version, PINS.cloudInit)) return `${found.version} from ${found.source} (${found.path})`;
    await aptInstall(CLOUD_INIT_PYTHON_PACKAGES);
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
