// The software a lab host runs, read on the host itself: its Debian release, kernel, and the
// installed version of each package the hosts' roles use (the set cloud-init installs on EC2 and
// the local hosts take from this machine), plus the pinned Node and vegeta. Recorded per host in
// run.json and printed by `lab doctor`, so two runs (or the two platforms) can be compared by what
// actually ran. Pure: a script and its parser.
import { COMMON_PACKAGES, ROLE_PACKAGES } from "../../components/platform/aws/cloudInit.ts";

/** Packages whose versions are read: every role's software (not the download helpers). */
export const VERSIONED_PACKAGES = [...new Set([...COMMON_PACKAGES, ...Object.values(ROLE_PACKAGES).flat(), "cloud-init"])]
    .filter((p) => !["ca-certificates", "xz-utils", "curl", "procps", "iproute2", "ethtool"].includes(p))
    .sort();

/** POSIX sh; prints `name: version` lines (a package that is not installed prints nothing). */
export const HOST_VERSIONS_SCRIPT = [
    'echo "debian: $(cat /etc/debian_version 2>/dev/null || echo none)"',
    'echo "kernel: $(uname -r)"',
    `dpkg-query -W -f='\${Package}: \${Version}\\n' ${VERSIONED_PACKAGES.join(" ")} 2>/dev/null | grep -v ': $' || true`,
    'command -v node >/dev/null && echo "node: $(node --version)"',
    'command -v vegeta >/dev/null && echo "vegeta: $(vegeta -version | head -1)"',
    "true",
].join("\n");

/** `name: version` lines → a record; other lines are ignored. */
export function parseHostVersions(stdout: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
        const m = /^([a-z0-9][a-z0-9.+-]*): (\S.*)$/.exec(line.trim());
        if (m) out[m[1]] = m[2].trim();
    }
    return out;
}

/** One line per host: `host  debian 12.x, haproxy 2.6.12-1+deb12u1, …`. */
export function formatHostVersions(hosts: Record<string, Record<string, string>>): string {
    const width = Math.max(4, ...Object.keys(hosts).map((h) => h.length));
    return Object.entries(hosts)
        .map(
            ([host, v]) =>
                `${host.padEnd(width)}  ${Object.entries(v)
                    .map(([k, x]) => `${k} ${x}`)
                    .join(", ")}`,
        )
        .join("\n");
}
