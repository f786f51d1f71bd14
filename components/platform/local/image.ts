// A local host's image: a Debian root filesystem in the tool cache (built by scripts/toolchain/
// images.ts) that a host's processes run from, in the host's own mount namespace. Pure: paths, the
// record a build leaves, and the shell that enters an image.
import { homedir } from "node:os";
import { join } from "node:path";
import { quote } from "zx/core";
import type { ImageName } from "../../images.ts";
export { parseHaproxyVersions } from "../../images.ts";

/** What `lab image build` records beside a built root (<images>/<name>/image.json). */
export interface ImageRecord {
    name: string;
    suite: string;
    /** ISO instant the build finished. */
    builtAt: string;
    buildSeconds: number;
    /** Bytes of the root filesystem (du -sb). */
    sizeBytes: number;
    /** `haproxy -v`'s version, e.g. 3.0.11-1+deb13u1. */
    haproxy: string;
    /** The TLS library HAProxy runs on (`haproxy -vv`: "Running on OpenSSL version"), e.g. "OpenSSL 3.5.1". */
    tlsLibrary: string;
    /** Versions of the image's packages the roles use (dpkg-query). */
    packages: Record<string, string>;
    /** An image whose HAProxy was built from source: how (source package, base, make flags). */
    builtFrom?: string;
    /** debian-12-emu: whether Debian 12's own HAProxy source (2.6) mentions USE_PTHREAD_EMULATION. */
    debian12SourceMentionsPthreadEmulation?: string;
}

/**
 * Where images live: <tool cache>/images, the tool cache decided as scripts/toolchain's paths()
 * decides it (C2M_CACHE, else $XDG_CACHE_HOME or ~/.cache, then c2m-lab); components never import
 * scripts, and a unit test holds the two equal.
 */
export function imagesDir(env: NodeJS.ProcessEnv = process.env): string {
    return join(env.C2M_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "c2m-lab"), "images");
}

export function imageRoot(dir: string, name: ImageName): string {
    return join(dir, name, "root");
}

export function imageRecordPath(dir: string, name: ImageName): string {
    return join(dir, name, "image.json");
}

export interface ImageEntry {
    /** The image's root (read-only lower layer: hosts share it and never change it). */
    root: string;
    /** A directory of the host's own: the writable layer and the mount point (<workDir>/image). */
    layer: string;
    /**
     * Paths of this machine seen inside the image, in this order: a path alone is bound at its own
     * path (the host's work dir, the tool cache); [from, to] binds `from` at `to` (root's clean home).
     */
    binds: (string | [string, string])[];
}

/**
 * Bash (zx's quoting; run inside a private mount namespace: `unshare --mount --propagation private`) that
 * mounts the image for one host (an overlay: the shared root below, the host's own writable layer
 * above, so no host changes what another runs), with /proc, /sys, /dev and the given paths of
 * this machine bound in at their own paths. It ends with `root=<mount point>`: the caller then
 * `exec chroot "$root" …`. Mounts made here vanish with the namespace's last process.
 */
export function imageMountScript(e: ImageEntry): string {
    const mnt = `${e.layer}/mnt`;
    return [
        `[ -x ${quote(e.root)}/usr/sbin/haproxy ] || { echo "image ${e.root} is not built: run lab image build" >&2; exit 1; }`,
        `mkdir -p ${quote(`${e.layer}/upper`)} ${quote(`${e.layer}/work`)} ${quote(mnt)}`,
        `mount -t overlay c2m-image -o lowerdir=${quote(e.root)},upperdir=${quote(`${e.layer}/upper`)},workdir=${quote(`${e.layer}/work`)} ${quote(mnt)}`,
        `mount --rbind /proc ${quote(`${mnt}/proc`)}`,
        `mount --rbind /sys ${quote(`${mnt}/sys`)}`,
        `mount --rbind /dev ${quote(`${mnt}/dev`)}`,
        `mount -t tmpfs -o size=64m,mode=1777 c2m-tmp ${quote(`${mnt}/tmp`)}`,
        ...e.binds
            .map((b) => (typeof b === "string" ? [b, b] : b))
            .map(([from, to]) => `mkdir -p ${quote(`${mnt}${to}`)} && mount --bind ${quote(from)} ${quote(`${mnt}${to}`)}`),
        `root=${quote(mnt)}`,
    ].join("\n");
}

/**
 * What of this machine a host running an image sees, besides /proc, /sys, /dev: root's clean home
 * at /root, then its work dir and the tool cache's PATH entries (a node_modules/.bin entry brings
 * its node_modules: its links point there). The image's own /usr/bin, /usr/sbin, /bin, /sbin stay. Pure.
 */
export function hostImageBinds(workDir: string, cleanHome: string, binPath?: string): (string | [string, string])[] {
    const system = /^\/(usr\/(s?bin|local\/s?bin)|s?bin)\/?$/;
    const dirs = (binPath ?? "")
        .split(":")
        .filter((d) => d.startsWith("/") && !system.test(d))
        .map((d) => d.replace(/\/node_modules\/\.bin\/?$/, "/node_modules"));
    return [[cleanHome, "/root"], workDir, ...new Set(dirs)];
}

/**
 * argv that runs `argv` from an image (benches: HAProxy on loopback, no host): a private mount
 * namespace, the image mounted with `binds` at their own paths, chroot. Every step execs the
 * next, so the process started is the program itself (same PID). `root` undefined: `argv` as is.
 */
export function imageArgv(argv: string[], image?: { root: string; layer: string; binds: string[] }): string[] {
    if (!image) return argv;
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "bash",
        "-c",
        `set -eu\n${imageMountScript({ root: image.root, layer: image.layer, binds: image.binds })}\nexec chroot "$root" /usr/bin/env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"`,
        "bash",
        ...argv,
    ];
}
