// cloud-init user-data of an EC2 lab host: the role's packages (HAProxy from apt, Node and
// vegeta as pinned release tarballs checked against their published checksums), root SSH
// with the lab's key only, the host's tuning (the same settings and open-file limit the
// tuning role applies), and the host's secondary addresses.
// Pure: returns text. The AWS platform passes it as the instance's user data.
import YAML from "yaml";
import type { Role } from "../../types.ts";
import { appliedSettings, tuningScript, type TuningPlan } from "../../render/tuning.ts";
import { EXPIRY_ENABLE, expiryUnits } from "./expiry.ts";
import { EPHEMERAL_PORTS } from "./trafficRules.ts";

export interface CloudInitInput {
    stack: string;
    host: string;
    role: Role;
    /** The lab's SSH public key (OpenSSH format), authorised for root. */
    publicKey: string;
    /** The host's tuning (renderTuning): its sysctls, and the open files its processes get. */
    tuning: TuningPlan;
    /** Where node and vegeta are linked; the roles prepend it to PATH. */
    binPath: string;
    workDir: string;
    /** The host's primary private address first, then its secondary ones. */
    addresses: string[];
    prefix: number;
    versions: { node: string; vegeta: string };
    /** The lab's expiry (UTC ISO 8601): the host powers itself off, and so terminates, then. */
    expiresAt: string;
}

/** Debian/Ubuntu packages per role (besides the ones every host gets). */
const ROLE_PACKAGES: Record<Role, string[]> = {
    haproxy: ["haproxy", "openssl"],
    backend: [],
    client: [],
    metrics: ["prometheus"],
};
// ethtool: every run reads the ENA allowance counters (components/platform/allowances.ts).
const COMMON_PACKAGES = ["openssh-server", "curl", "ca-certificates", "xz-utils", "iproute2", "procps", "ethtool", "prometheus-node-exporter"];

/** The tools a role's remote commands call; the readiness check looks for each. */
const ROLE_TOOLS: Record<Role, string[]> = {
    haproxy: ["haproxy", "openssl"],
    backend: ["node"],
    client: ["vegeta"],
    metrics: ["prometheus", "promtool", "node"],
};

/**
 * Source ports of a download: the lab subnet's ACL lets the internet's replies in on these only
 * (trafficRules.ts), and by the time runcmd downloads, the tuning has widened the kernel's range.
 */
const DOWNLOAD_PORTS = `${EPHEMERAL_PORTS.from}-${EPHEMERAL_PORTS.to}`;

/** Installs Node from nodejs.org, refusing a tarball whose sha256 is not the published one. */
function nodeInstallScript(version: string, binPath: string): string {
    const file = `node-v${version}-linux-x64.tar.xz`;
    return [
        "set -eu",
        "d=$(mktemp -d)",
        `curl -fsSL --retry 5 --local-port ${DOWNLOAD_PORTS} -o "$d/${file}" https://nodejs.org/dist/v${version}/${file}`,
        `curl -fsSL --retry 5 --local-port ${DOWNLOAD_PORTS} -o "$d/SHASUMS256.txt" https://nodejs.org/dist/v${version}/SHASUMS256.txt`,
        `(cd "$d" && grep ' ${file}$' SHASUMS256.txt | sha256sum -c -)`,
        "mkdir -p /opt/c2m/node",
        `tar -xJf "$d/${file}" -C /opt/c2m/node --strip-components=1`,
        `ln -sf /opt/c2m/node/bin/node ${binPath}/node`,
        "rm -rf \"$d\"",
    ].join("\n");
}

/** Installs vegeta from its GitHub release, checked against the release's checksums file. */
function vegetaInstallScript(version: string, binPath: string): string {
    const base = `https://github.com/tsenart/vegeta/releases/download/v${version}`;
    const file = `vegeta_${version}_linux_amd64.tar.gz`;
    return [
        "set -eu",
        "d=$(mktemp -d)",
        `curl -fsSL --retry 5 --local-port ${DOWNLOAD_PORTS} -o "$d/${file}" ${base}/${file}`,
        `curl -fsSL --retry 5 --local-port ${DOWNLOAD_PORTS} -o "$d/checksums.txt" ${base}/vegeta_${version}_checksums.txt`,
        `(cd "$d" && grep ' ${file}$' checksums.txt | sha256sum -c -)`,
        `tar -xzf "$d/${file}" -C "$d" vegeta`,
        `install -m 0755 "$d/vegeta" ${binPath}/vegeta`,
        "rm -rf \"$d\"",
    ].join("\n");
}

/** Where cloud-init puts the host's tuning script (the tuning role's, without its nofile check). */
export const TUNING_SCRIPT = "/etc/c2m/tuning.sh";

export function renderCloudInit(input: CloudInitInput): string {
    const n = input.tuning.nofile;
    const [primary, ...secondaries] = input.addresses;
    const runcmd: string[] = [
        // First: from now on the host ends itself at the expiry, whatever happens next.
        EXPIRY_ENABLE,
        // The same shell as the tuning role: "at least" settings raise a value, never lower a larger
        // default (a sysctl.d file would), and every setting is read back.
        `bash ${TUNING_SCRIPT}`,
        `mkdir -p ${input.binPath} ${input.workDir}`,
        "systemctl reload ssh || systemctl reload sshd",
    ];
    if (input.role === "haproxy") runcmd.push("systemctl disable --now haproxy"); // the role runs its own instance
    // Node runs the pong servers, and the HAProxy log sink on the metrics host.
    if (input.role === "backend" || input.role === "metrics") runcmd.push(nodeInstallScript(input.versions.node, input.binPath));
    if (input.role === "client") runcmd.push(vegetaInstallScript(input.versions.vegeta, input.binPath));
    if (secondaries.length > 0) {
        // cloud-init's EC2 datasource usually configures them; make sure, on the primary's interface.
        runcmd.push([
            `dev=$(ip -o -4 addr show | awk '$4 ~ /^${primary.replaceAll(".", "\\.")}\\// {print $2; exit}')`,
            ...secondaries.map((a) => `ip addr replace ${a}/${input.prefix} dev "$dev"`),
        ].join("\n"));
    }
    const doc = {
        // Root logs in with the lab key only (the roles run as root, like on the local platform).
        disable_root: false,
        ssh_pwauth: false,
        ssh_authorized_keys: [input.publicKey],
        package_update: true,
        packages: [...COMMON_PACKAGES, ...ROLE_PACKAGES[input.role]],
        write_files: [
            { path: TUNING_SCRIPT, permissions: "0644",
                content: tuningScript(appliedSettings(input.tuning, false)) + "\n" },
            { path: "/etc/security/limits.d/60-c2m.conf", permissions: "0644",
                content: ["*", "root"].flatMap((who) => [`${who} soft nofile ${n}`, `${who} hard nofile ${n}`]).join("\n") + "\n" },
            { path: "/etc/systemd/system.conf.d/60-c2m.conf", permissions: "0644",
                content: `[Manager]\nDefaultLimitNOFILE=${n}\n` },
            { path: "/etc/ssh/sshd_config.d/60-c2m.conf", permissions: "0644",
                content: "PermitRootLogin prohibit-password\nPasswordAuthentication no\nMaxStartups 200:30:400\nMaxSessions 100\n" },
            ...expiryUnits(input.stack, input.expiresAt).map((f) => ({ ...f, permissions: "0644" })),
            { path: "/etc/c2m/host.json", permissions: "0644",
                content: JSON.stringify({ stack: input.stack, host: input.host, role: input.role, addresses: input.addresses }) + "\n" },
        ],
        // runcmd entries share one /bin/sh script: a multi-line entry runs in a subshell so its
        // `set -eu` stays its own (a failed install then shows in the readiness check).
        runcmd: runcmd.map((cmd) => (cmd.includes("\n") ? `(\n${cmd}\n)` : cmd)),
    };
    return `#cloud-config\n${YAML.stringify(doc, { lineWidth: 0 })}`;
}

/**
 * Run over SSH once the host answers: waits for cloud-init to finish, fails with its status
 * if it did not, then checks the role's tools are there and the kernel allows its open files.
 */
export function cloudInitReadyScript(role: Role, binPath: string, nofile: number): string {
    return [
        `export PATH='${binPath}':"$PATH"`,
        "cloud-init status --wait >/dev/null 2>&1; rc=$?",
        // 0 = done, 2 = done with recoverable errors (cloud-init ≥ 23.4); anything else failed.
        "if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then echo 'cloud-init failed:' >&2; cloud-init status --long >&2; exit 1; fi",
        ...ROLE_TOOLS[role].map((t) => `command -v ${t} >/dev/null || { echo "${t} is not installed (cloud-init)" >&2; exit 1; }`),
        `[ "$(sysctl -n fs.nr_open)" -ge ${nofile} ] || { echo "fs.nr_open is $(sysctl -n fs.nr_open), wanted at least ${nofile}" >&2; exit 1; }`,
        "cloud-init status",
    ].join("\n");
}
