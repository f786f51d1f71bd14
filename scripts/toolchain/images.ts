// `lab image build <name>`: a host image (a Debian root filesystem) built once with debootstrap
// from the machine's Debian mirror into the tool cache, then the roles' packages installed in it
// with apt (services never started: policy-rc.d). Records HAProxy's and its TLS library's versions,
// the build time and the size beside the root (image.json). Rebuilt only when missing.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { IMAGE_PACKAGES, IMAGE_SPECS, IMAGES, type ImageName, type ImageSpec } from "../../components/images.ts";
import { imageArgv, imageRecordPath, imageRoot, parseHaproxyVersions, type ImageRecord } from "../../components/platform/local/image.ts";
import { aptLine, LiveStep, runLines, type Typical } from "./progress.ts";
import { paths } from "./toolchain.ts";

/**
 * Measured on this machine kind (2 cores shared, the machine's Debian mirror), 2026-12-07 at load
 * 8–13: debian-13 56 s (193 MiB), debian-12 52 s (165 MiB); see docs/results/tls-stacks.md.
 */
export const TYPICAL_IMAGE_BUILD: Typical = { seconds: 60, when: "debootstrap + apt, 2 cores shared" };

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
    const files = [
        "/etc/apt/sources.list",
        ...(existsSync("/etc/apt/sources.list.d") ? readdirSync("/etc/apt/sources.list.d").map((f) => `/etc/apt/sources.list.d/${f}`) : []),
    ];
    return files
        .filter((f) => existsSync(f))
        .map((f) => readFileSync(f, "utf8"))
        .join("\n");
}

/** The image's apt sources: its release, its updates and its security archive. Pure. */
export function imageSources(spec: ImageSpec, m: { archive: string; security?: string }): string {
    return (
        [
            `deb ${m.archive} ${spec.suite} main`,
            `deb ${m.archive} ${spec.suite}-updates main`,
            ...(m.security ? [`deb ${m.security} ${spec.suite}-security main`] : []),
        ].join("\n") + "\n"
    );
}

export function readImageRecord(name: ImageName, dir = imagesRoot()): ImageRecord | undefined {
    const file = imageRecordPath(dir, name);
    return existsSync(file) && existsSync(join(imageRoot(dir, name), "usr/sbin/haproxy")) ? (JSON.parse(readFileSync(file, "utf8")) as ImageRecord) : undefined;
}

export function checkImageName(name: string): ImageSpec {
    const spec = (IMAGE_SPECS as Record<string, ImageSpec | undefined>)[name];
    if (!spec)
        throw new Error(
            `unknown image "${name}"; known: ${IMAGES.filter((i) => i !== "machine").join(", ")} (machine: this machine's own packages, nothing to build)`,
        );
    return spec;
}

/** Builds the image unless it is built; returns its record. */
export async function ensureImage(name: string, live = new LiveStep(`image ${name}`, TYPICAL_IMAGE_BUILD)): Promise<ImageRecord> {
    const spec = checkImageName(name);
    const dir = imagesRoot();
    const have = readImageRecord(spec.name, dir);
    if (have) {
        live.finish(
            `built ${have.builtAt} (${have.buildSeconds} s, ${(have.sizeBytes / 2 ** 20).toFixed(0)} MiB): HAProxy ${have.haproxy}, ${have.tlsLibrary}`,
        );
        return have;
    }
    const started = Date.now();
    const mirrors = debianMirrors(readAptSources());
    const tmp = join(dir, `${spec.name}.building`);
    const tmpRoot = join(tmp, "root");
    try {
        rmSync(tmp, { recursive: true, force: true });
        mkdirSync(tmp, { recursive: true });
        const notes = spec.source ? await buildFromSource(spec, tmp, mirrors, live) : await bootstrapRoot(spec, tmpRoot, mirrors, live);
        // Which image this is, readable on a host that runs it (run records read it there).
        writeFileSync(join(tmpRoot, "etc/c2m-image"), `${spec.name}\n`);
        const layer = join(tmp, "layer");
        const [file, ...args] = imageArgv(["haproxy", "-vv"], { root: tmpRoot, layer, binds: [] });
        const vv = spawnSync(file, args, { encoding: "utf8" });
        if (vv.status !== 0) throw new Error(`haproxy -vv in the new image failed: ${vv.stderr}`);
        const pk = spawnSync("chroot", [tmpRoot, "dpkg-query", "-W", "-f", "${Package} ${Version}\\n"], { encoding: "utf8" });
        const packages = Object.fromEntries(
            pk.stdout
                .split("\n")
                .map((l) => l.split(" "))
                .filter(([p]) => /^(haproxy|openssl|libssl3(t64)?|libwolfssl\S*|openssh-server|curl)$/.test(p ?? "")),
        );
        rmSync(layer, { recursive: true, force: true });
        const sizeBytes = Number(spawnSync("du", ["-sb", tmpRoot], { encoding: "utf8" }).stdout.split("\t")[0]);
        const record: ImageRecord = {
            name: spec.name,
            suite: spec.suite,
            builtAt: new Date().toISOString(),
            buildSeconds: Math.round((Date.now() - started) / 1000),
            sizeBytes,
            ...parseHaproxyVersions(vv.stdout),
            packages,
            ...notes,
        };
        writeFileSync(join(tmp, "haproxy-vv.txt"), vv.stdout);
        writeFileSync(join(tmp, "image.json"), `${JSON.stringify(record, null, 2)}\n`);
        const final = join(dir, spec.name);
        rmSync(final, { recursive: true, force: true });
        renameSync(tmp, final);
        rmSync(join(dir, `${spec.name}.failed.txt`), { force: true }); // an earlier attempt's failure is no longer the news
        live.finish(`built in ${record.buildSeconds} s, ${(sizeBytes / 2 ** 20).toFixed(0)} MiB: HAProxy ${record.haproxy}, ${record.tlsLibrary}`);
        return record;
    } catch (err) {
        live.fail();
        rmSync(tmp, { recursive: true, force: true });
        throw err;
    }
}

/** debootstrap (minbase) of the release, then the roles' packages installed in it with apt. */
async function bootstrapRoot(
    spec: ImageSpec,
    tmpRoot: string,
    mirrors: { archive: string; security?: string },
    live: LiveStep,
): Promise<Record<string, string>> {
    await ensureDebootstrap(live);
    let n = 0;
    live.begin(`debootstrap ${spec.suite} (minbase) from ${mirrors.archive}`, { done: 0 });
    await runLines("debootstrap", ["--variant=minbase", "--components=main", spec.suite, tmpRoot, mirrors.archive], {
        onLine: (l) => {
            const m = /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) (\S+)/.exec(l);
            if (m) live.update({ phase: `debootstrap: ${m[1].toLowerCase()}`, done: ++n, last: m[2] });
        },
    });
    // Services are never started inside the image (the lab starts what it runs).
    writeFileSync(join(tmpRoot, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    writeFileSync(join(tmpRoot, "etc/apt/sources.list"), imageSources(spec, mirrors));
    await aptInRoot(tmpRoot, [...IMAGE_PACKAGES], live);
    return {};
}

/** apt-get install in a root (bound writable, /proc /dev /sys in), its lists cleaned after. */
async function aptInRoot(root: string, pkgs: string[], live: LiveStep): Promise<void> {
    let setUp = 0,
        total: number | undefined;
    live.begin(`apt-get install ${pkgs.join(" ")}`);
    await runLines(
        "unshare",
        [
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            // The root and the command inside it are arguments ($1, $2), never text a shell parses: nothing to quote.
            [
                "set -eu",
                'r="$1"',
                'mount --rbind /proc "$r/proc"',
                'mount --rbind /dev "$r/dev"',
                'mount --rbind /sys "$r/sys"',
                'exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c "$2"',
            ].join("\n"),
            "sh",
            root,
            `apt-get update -q && apt-get install -y -q --no-install-recommends ${pkgs.join(" ")} && apt-get clean && rm -rf /var/lib/apt/lists/*`,
        ],
        {
            onLine: (l) => {
                const a = aptLine(l);
                if (a.toInstall !== undefined) total = a.toInstall;
                if (a.settingUp) live.update({ phase: "apt-get install: setting up", done: ++setUp, total, last: a.settingUp });
            },
        },
    );
}

/**
 * HAProxy from Debian's source package (apt-get source: Debian's patches applied), compiled in a
 * throwaway overlay of the base image with the spec's make flags; the image is then the base with
 * that binary as /usr/sbin/haproxy and the libraries it links installed. The compiler's last lines
 * are kept in <name>.failed.txt when the build fails (why a TLS library cannot be used).
 */
async function buildFromSource(spec: ImageSpec, tmp: string, mirrors: { archive: string; security?: string }, live: LiveStep): Promise<Record<string, string>> {
    const src = spec.source!;
    const base = await ensureImage(src.base, new LiveStep(`image ${src.base} (base of ${spec.name})`, TYPICAL_IMAGE_BUILD));
    const baseRoot = imageRoot(imagesRoot(), src.base);
    const out = join(tmp, "out");
    mkdirSync(out, { recursive: true });
    // deb-src lines of a release, its updates and its security archive: the newest source is the one
    // that release's own image runs (a superseded version's files are gone from the archive).
    const srcLines = (suite: ImageSpec["suite"]) =>
        imageSources({ ...spec, suite }, mirrors)
            .trim()
            .split("\n")
            .map((l) => `'${l.replace(/^deb /, "deb-src ")}'`)
            .join(" ");
    // Evidence for the note: whether Debian 12's own HAProxy source (2.6) knows the option at all.
    const checkOld = src.base === "debian-12" ? [`printf '%s\\n' ${srcLines("bookworm")} >> /etc/apt/sources.list.d/c2m-src.list`] : [];
    const script = [
        "set -eu",
        "export DEBIAN_FRONTEND=noninteractive",
        `printf '%s\\n' ${srcLines(src.suite)} > /etc/apt/sources.list.d/c2m-src.list`,
        ...checkOld,
        "apt-get update -q",
        `apt-get install -y -q --no-install-recommends build-essential dpkg-dev libpcre2-dev ${src.buildDeps.join(" ")}`,
        "mkdir -p /build && cd /build",
        // The newest version the sources offer (the release's security or updates archive when there is one).
        // Where the mirror serves the package's upstream tarball but not its .dsc and Debian's patches
        // (404 here, 2026-12-07), the build is of that tarball without Debian's patches, and says so.
        `if apt-get source -q haproxy > ${out}/source.log 2>&1; then echo debian > ${out}/source-kind.txt; else cat ${out}/source.log; ` +
            `ls haproxy_*.orig.tar.* >/dev/null 2>&1 || exit 1; tar -xf haproxy_*.orig.tar.*; ` +
            `grep -E '^(Err|E):' ${out}/source.log | head -n 4 > ${out}/source-kind.txt; fi`,
        ...(src.base === "debian-12"
            ? [
                  // Only its upstream tarball is needed (a superseded Debian revision's other files may be gone).
                  "mkdir -p /build/old && cd /build/old && { apt-get source -q --download-only haproxy/bookworm || true; }",
                  // A tarball that did not come is "unknown", never a count of 0.
                  `if ls haproxy_*.orig.tar.* >/dev/null 2>&1; then tar -xOf haproxy_*.orig.tar.* --wildcards '*/Makefile' | grep -c USE_PTHREAD_EMULATION > ${out}/old-source-knows-option.txt || true; ` +
                      `else echo unknown > ${out}/old-source-knows-option.txt; fi`,
                  "cd /build",
              ]
            : []),
        "cd /build/haproxy-*/",
        `echo "building $(basename "$PWD") with ${src.makeFlags.join(" ")}"`,
        `make -j"$(nproc)" ${src.makeFlags.join(" ")} > ${out}/make.log 2>&1 || { tail -n 40 ${out}/make.log; exit 1; }`,
        `cp haproxy ${out}/haproxy`,
        // The packages whose libraries the binary links: the image gets them too.
        `ldd haproxy | awk '/=> \// {print $3}' | xargs -r dpkg -S 2>/dev/null | cut -d: -f1 | sort -u > ${out}/runtime-packages.txt`,
    ].join("\n");
    live.begin(`compiling HAProxy from Debian's source (${src.suite}) on ${src.base}: ${src.makeFlags.filter((f) => /SSL|PTHREAD/.test(f)).join(" ")}`);
    const [file, ...args] = imageArgv(["sh", "-c", script], { root: baseRoot, layer: join(tmp, "build-layer"), binds: [out] });
    try {
        await runLines(file, args, {
            onLine: (l) => {
                if (/^(Get:|building|Setting up)/.test(l)) live.update({ last: l.slice(0, 80) });
            },
        });
    } catch (err) {
        writeFileSync(join(imagesRoot(), `${spec.name}.failed.txt`), `${new Date().toISOString()}\n${(err as Error).message}\n`);
        throw new Error(
            `${spec.name}: HAProxy did not build (kept in ${join(imagesRoot(), `${spec.name}.failed.txt`)}):\n${(err as Error).message.split("\n").slice(-25).join("\n")}`,
        );
    } finally {
        rmSync(join(tmp, "build-layer"), { recursive: true, force: true });
    }
    const tmpRoot = join(tmp, "root");
    live.begin(`image: ${src.base} with the built HAProxy`);
    await runLines("cp", ["-a", baseRoot, tmpRoot]);
    copyFileSync(join(out, "haproxy"), join(tmpRoot, "usr/sbin/haproxy"));
    chmodSync(join(tmpRoot, "usr/sbin/haproxy"), 0o755);
    const runtime = readFileSync(join(out, "runtime-packages.txt"), "utf8").split("\n").filter(Boolean);
    if (runtime.length) await aptInRoot(tmpRoot, runtime, live);
    const oldKnows = existsSync(join(out, "old-source-knows-option.txt")) ? readFileSync(join(out, "old-source-knows-option.txt"), "utf8").trim() : undefined;
    const kind = readFileSync(join(out, "source-kind.txt"), "utf8").trim();
    const what =
        kind === "debian"
            ? "Debian's haproxy source package (Debian's patches applied)"
            : `the upstream tarball of Debian's haproxy source package, without Debian's patches (the mirror refused the rest: ${kind.split("\n").join(" | ")})`;
    return {
        builtFrom: `${what} (${src.suite}) on ${src.base} (${base.tlsLibrary}): make ${src.makeFlags.join(" ")}`,
        ...(oldKnows !== undefined
            ? {
                  debian12SourceMentionsPthreadEmulation:
                      oldKnows === "0" ? "no" : oldKnows === "unknown" ? "unknown (its tarball did not come)" : `yes (${oldKnows} lines of its Makefiles)`,
              }
            : {}),
    };
}
