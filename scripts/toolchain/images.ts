// `lab image build <name>`: a host image (a Debian root filesystem) built once with debootstrap
// from the machine's Debian mirror into the tool cache, then the roles' packages installed in it
// with apt (services never started: policy-rc.d). Records HAProxy's and its TLS library's versions,
// the build time and the size beside the root (image.json). Rebuilt only when missing.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { IMAGE_PACKAGES, IMAGE_SPECS, IMAGES, type ImageName, type ImageSpec } from "../../components/images.ts";
import { imageArgv, imageRecordPath, imageRoot, parseHaproxyVersions, type ImageRecord } from "../../components/platform/local/image.ts";
import { aptLine, LiveStep, runLines, type Typical } from "./progress.ts";
import { paths } from "./toolchain.ts";

/** Measured on this machine kind (2 cores shared, Debian mirror): see docs/results/tls-stacks.md. */
export const TYPICAL_IMAGE_BUILD: Typical = { seconds: 240, when: "cold, 2 cores shared" };

export function imagesRoot(): string {
    return join(paths().cache, "images");
}

/** debootstrap, from the machine's Debian packages, when missing (the way bootstrap installs packages). */
async function ensureDebootstrap(live: LiveStep): Promise<void> {
    if (existsSync("/usr/sbin/debootstrap")) return;
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    live.begin("apt-get install debootstrap");
    await runLines("apt-get", ["update", "-q"], { env });
    await runLines("apt-get", ["install", "-y", "-q", "--no-install-recommends", "debootstrap"], { env });
}

/** The machine's Debian archive and security archive, from its apt sources (deb822 or one-line). Pure. */
export function debianMirrors(sources: string): { archive: string; security?: string } {
    const uris = [...sources.matchAll(/^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/gm)].map((m) => m[1].replace(/\/$/, ""));
    const archive = uris.find((u) => /\/debian$/.test(u));
    if (!archive) throw new Error("no Debian archive (a URI ending in /debian) in /etc/apt/sources.list*: images are built from Debian's archive");
    return { archive, security: uris.find((u) => /\/debian-security$/.test(u)) };
}

export function readAptSources(): string {
    const files = ["/etc/apt/sources.list", ...(existsSync("/etc/apt/sources.list.d") ? readdirSync("/etc/apt/sources.list.d").map((f) => `/etc/apt/sources.list.d/${f}`) : [])];
    return files.filter((f) => existsSync(f)).map((f) => readFileSync(f, "utf8")).join("\n");
}

/** The image's apt sources: its release, its updates and its security archive. Pure. */
export function imageSources(spec: ImageSpec, m: { archive: string; security?: string }): string {
    return [`deb ${m.archive} ${spec.suite} main`, `deb ${m.archive} ${spec.suite}-updates main`,
        ...(m.security ? [`deb ${m.security} ${spec.suite}-security main`] : [])].join("\n") + "\n";
}

export function readImageRecord(name: ImageName, dir = imagesRoot()): ImageRecord | undefined {
    const file = imageRecordPath(dir, name);
    return existsSync(file) && existsSync(join(imageRoot(dir, name), "usr/sbin/haproxy")) ? JSON.parse(readFileSync(file, "utf8")) as ImageRecord : undefined;
}

export function checkImageName(name: string): ImageSpec {
    const spec = (IMAGE_SPECS as Record<string, ImageSpec | undefined>)[name];
    if (!spec) throw new Error(`unknown image "${name}"; known: ${IMAGES.filter((i) => i !== "machine").join(", ")} (machine: this machine's own packages, nothing to build)`);
    return spec;
}

/** Builds the image unless it is built; returns its record. */
export async function ensureImage(name: string, live = new LiveStep(`image ${name}`, TYPICAL_IMAGE_BUILD)): Promise<ImageRecord> {
    const spec = checkImageName(name);
    const dir = imagesRoot();
    const have = readImageRecord(spec.name, dir);
    if (have) { live.finish(`built ${have.builtAt} (${have.buildSeconds} s, ${(have.sizeBytes / 2 ** 20).toFixed(0)} MiB): HAProxy ${have.haproxy}, ${have.tlsLibrary}`); return have; }
    await ensureDebootstrap(live);
    const started = Date.now();
    const mirrors = debianMirrors(readAptSources());
    const base = join(dir, spec.name);
    const tmp = join(dir, `${spec.name}.building`);
    const tmpRoot = join(tmp, "root");
    try {
        rmSync(tmp, { recursive: true, force: true });
        mkdirSync(tmp, { recursive: true });
        let n = 0;
        live.begin(`debootstrap ${spec.suite} (minbase) from ${mirrors.archive}`, { done: 0 });
        await runLines("debootstrap", ["--variant=minbase", "--components=main", spec.suite, tmpRoot, mirrors.archive], {
            onLine: (l) => { const m = /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) (\S+)/.exec(l); if (m) live.update({ phase: `debootstrap: ${m[1].toLowerCase()}`, done: ++n, last: m[2] }); },
        });
        // Services are never started inside the image (the lab starts what it runs).
        writeFileSync(join(tmpRoot, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", { mode: 0o755 });
        writeFileSync(join(tmpRoot, "etc/apt/sources.list"), imageSources(spec, mirrors));
        // Which image this is, readable on a host that runs it (run records read it there).
        writeFileSync(join(tmpRoot, "etc/c2m-image"), `${spec.name}\n`);
        let setUp = 0, total: number | undefined;
        live.begin(`apt-get install ${IMAGE_PACKAGES.join(" ")}`);
        const layer = join(tmp, "layer");
        // The packages go into the root itself: the overlay is only for /proc, /dev in the chroot, so bind the root writable.
        await runLines("unshare", ["--mount", "--propagation", "private", "sh", "-c", [
            "set -eu", `r=${JSON.stringify(tmpRoot)}`,
            'mount --rbind /proc "$r/proc"', 'mount --rbind /dev "$r/dev"', 'mount --rbind /sys "$r/sys"',
            `exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c ${JSON.stringify(
                `apt-get update -q && apt-get install -y -q --no-install-recommends ${IMAGE_PACKAGES.join(" ")} && apt-get clean && rm -rf /var/lib/apt/lists/*`)}`,
        ].join("\n")], {
            onLine: (l) => {
                const a = aptLine(l);
                if (a.toInstall !== undefined) total = a.toInstall;
                if (a.settingUp) live.update({ phase: "apt-get install: setting up", done: ++setUp, total, last: a.settingUp });
            },
        });
        const [file, ...args] = imageArgv(["haproxy", "-vv"], { root: tmpRoot, layer, binds: [] });
        const vv = spawnSync(file, args, { encoding: "utf8" });
        if (vv.status !== 0) throw new Error(`haproxy -vv in the new image failed: ${vv.stderr}`);
        const pk = spawnSync("chroot", [tmpRoot, "dpkg-query", "-W", "-f", "${Package} ${Version}\\n"], { encoding: "utf8" });
        const packages = Object.fromEntries(pk.stdout.split("\n").map((l) => l.split(" ")).filter(([p]) => /^(haproxy|openssl|libssl3(t64)?|libwolfssl\S*|openssh-server|curl)$/.test(p ?? "")));
        rmSync(layer, { recursive: true, force: true });
        const sizeBytes = Number(spawnSync("du", ["-sb", tmpRoot], { encoding: "utf8" }).stdout.split("\t")[0]);
        const record: ImageRecord = {
            name: spec.name, suite: spec.suite, builtAt: new Date().toISOString(), buildSeconds: Math.round((Date.now() - started) / 1000),
            sizeBytes, ...parseHaproxyVersions(vv.stdout), packages,
        };
        writeFileSync(join(tmp, "image.json"), `${JSON.stringify(record, null, 2)}\n`);
        rmSync(base, { recursive: true, force: true });
        renameSync(tmp, base);
        live.finish(`built in ${record.buildSeconds} s, ${(sizeBytes / 2 ** 20).toFixed(0)} MiB: HAProxy ${record.haproxy}, ${record.tlsLibrary}`);
        return record;
    } catch (err) {
        live.fail();
        rmSync(tmp, { recursive: true, force: true });
        throw err;
    }
}
