// Host images: which OS (and so which HAProxy and TLS library) a host runs. Pure: names, what
// each is built from, and which roles may run one. Locally an image is a Debian root filesystem
// in the tool cache (components/platform/local/image.ts runs a host from it, scripts/toolchain/
// images.ts builds it); on EC2 it is the matching official Debian AMI (components/platform/aws).

/** The roles that can run from an image (the metrics host, with Prometheus, stays on the platform's own software). */
export const IMAGE_ROLES = ["haproxy", "backend", "client"] as const;
export type ImageRole = (typeof IMAGE_ROLES)[number];

/**
 * `machine`: the platform's own software, as before images existed (locally this machine's Debian 12
 * packages; on EC2 the Debian 12 AMI). The others are root filesystems built with debootstrap.
 */
export const IMAGES = ["machine", "debian-12", "debian-13", "debian-12-emu", "debian-13-wolfssl"] as const;
export type ImageName = (typeof IMAGES)[number];
/** Images whose HAProxy the rig builds from Debian's source (IMAGE_SPECS[…].source): local only, no AMI. */
export const SOURCE_BUILT_IMAGES = ["debian-12-emu", "debian-13-wolfssl"] as const;
export type SourceBuiltImage = (typeof SOURCE_BUILT_IMAGES)[number];

export interface ImageSpec {
    name: Exclude<ImageName, "machine">;
    /** Debian release (debootstrap suite) and its number. */
    suite: "bookworm" | "trixie";
    release: 12 | 13;
    /** What HAProxy and TLS library its packages carry (as shipped; `lab image list` prints the built image's own). */
    expected: string;
    /**
     * An image whose HAProxy is built from Debian's source package (`apt-get source haproxy/<suite>`,
     * Debian's patches applied) inside the base image, with these make flags, then installed over
     * the base's /usr/sbin/haproxy. Absent: the release's own packages.
     */
    source?: { base: "debian-12" | "debian-13"; suite: "trixie"; buildDeps: string[]; makeFlags: string[] };
}

/** Debian's own make flags for HAProxy 3.0 (debian/rules of haproxy 3.0.x), less Lua, systemd, OpenTracing (the rig uses none). */
const DEBIAN_HAPROXY_FLAGS = ["TARGET=linux-glibc", "USE_PCRE2=1", "USE_PCRE2_JIT=1", "USE_PROMEX=1", "USE_SLZ=1"];

export const IMAGE_SPECS: Record<ImageSpec["name"], ImageSpec> = {
    "debian-12": { name: "debian-12", suite: "bookworm", release: 12, expected: "HAProxy 2.6 + OpenSSL 3.0" },
    "debian-13": { name: "debian-13", suite: "trixie", release: 13, expected: "HAProxy 3.0 + OpenSSL 3.5" },
    // HAProxy 2.6 (Debian 12's source) has no USE_PTHREAD_EMULATION (HAProxy added it in 2.8): Debian 13's
    // HAProxy 3.0 source package, built on Debian 12 against its OpenSSL 3.0 with the option on.
    "debian-12-emu": {
        name: "debian-12-emu",
        suite: "bookworm",
        release: 12,
        expected: "HAProxy 3.0 (USE_PTHREAD_EMULATION=1) + OpenSSL 3.0",
        source: {
            base: "debian-12",
            suite: "trixie",
            buildDeps: ["libssl-dev"],
            makeFlags: [...DEBIAN_HAPROXY_FLAGS, "USE_OPENSSL=1", "USE_PTHREAD_EMULATION=1"],
        },
    },
    // HAProxy's wolfSSL support (USE_OPENSSL_WOLFSSL, its INSTALL file) against Debian 13's libwolfssl.
    // SSL_INC is the include root: HAProxy adds <SSL_INC>/wolfssl itself (its Makefile); its INSTALL asks for a wolfSSL configured with --enable-haproxy.
    "debian-13-wolfssl": {
        name: "debian-13-wolfssl",
        suite: "trixie",
        release: 13,
        expected: "HAProxy 3.0 + wolfSSL (Debian 13's)",
        source: {
            base: "debian-13",
            suite: "trixie",
            buildDeps: ["libwolfssl-dev"],
            makeFlags: [...DEBIAN_HAPROXY_FLAGS, "USE_OPENSSL_WOLFSSL=1", "SSL_INC=/usr/include", "SSL_LIB=/usr/lib/x86_64-linux-gnu"],
        },
    },
};

/**
 * Debian packages every image carries: what the haproxy, backend and client roles run on a host
 * (HAProxy, sshd, curl, ps/pgrep/sysctl, ip, openssl for the certificate, node_exporter, the
 * conntrack and ethtool counters). Node (pong) and vegeta come from the rig's tool cache, bound in.
 */
export const IMAGE_PACKAGES = [
    "haproxy",
    "openssh-server",
    "openssl",
    "curl",
    "ca-certificates",
    "procps",
    "iproute2",
    "prometheus-node-exporter",
    "conntrack",
    "ethtool",
] as const;

/** c2m:image: one image for every role that can run one, or one per role; absent roles run `machine`. */
export type ImageChoice = ImageName | Partial<Record<ImageRole, ImageName>>;

/** The image a host of `role` runs under the stack's choice. Pure. */
export function imageOf(choice: ImageChoice | undefined, role: string): ImageName {
    if (!(IMAGE_ROLES as readonly string[]).includes(role)) return "machine";
    if (choice === undefined) return "machine";
    if (typeof choice === "string") return choice;
    return choice[role as ImageRole] ?? "machine";
}

/** Every image a stack's hosts run, `machine` included when some role runs it. */
export function imagesOf(choice: ImageChoice | undefined, roles: readonly string[]): ImageName[] {
    return [...new Set(roles.map((r) => imageOf(choice, r)))];
}

/** A short name for the choice (the ledger's and sweep's column): "debian-13", or "haproxy=debian-13,backend=machine". */
export function imageLabel(choice: ImageChoice | undefined): string {
    if (choice === undefined) return "machine";
    if (typeof choice === "string") return choice;
    return IMAGE_ROLES.map((r) => `${r}=${choice[r] ?? "machine"}`).join(",");
}

/** haproxy -vv's text → HAProxy's version and the TLS library it runs on. Pure. */
export function parseHaproxyVersions(vv: string): { haproxy: string; tlsLibrary: string } {
    const haproxy = /^HAProxy version (\S+)/m.exec(vv)?.[1] ?? "unknown";
    const running = /^Running on (\S+) version : (\S+) (\S+)/m.exec(vv);
    const built = /^Built with (\S+) version : (\S+) (\S+)/m.exec(vv);
    const lib = running ?? built;
    return { haproxy, tlsLibrary: lib ? `${lib[2]} ${lib[3]}` : "none" };
}
