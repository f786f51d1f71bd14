// Shell scripts that make (and unmake) a local host: a network namespace on a bridge,
// with its own sshd. Pure; platform/local applies them with local.Command.
import { createHash } from "node:crypto";
import { quote } from "zx/core";
import { cgroupCreateScript, cgroupDeleteScript, type HostLimits } from "./cgroups.ts";
import { hostImageBinds, imageMountScript } from "./image.ts";

export interface LocalNames {
    /** Prefix of every namespace of the stack; also how orphans are found. */
    namespacePrefix: string;
    bridge: string;
    /**
     * The stack's nftables table (family `inet`, initial namespace): only SSH from the operator
     * to the hosts. Created and deleted with the bridge; `nft list table inet <name>` finds it.
     */
    firewallTable: string;
    /** Root of the stack's files (/run/c2m/<stack>). */
    runDir: string;
    namespace(host: string): string;
    /** Host side of the host's veth pair (interface names are at most 15 characters). */
    veth(index: number): string;
}

export function localNames(stack: string): LocalNames {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,39}$/.test(stack)) throw new Error(`stack name "${stack}" cannot name local resources`);
    const tag = createHash("sha256").update(stack).digest("hex").slice(0, 6);
    // The tag makes the prefix unambiguous: stack "lab" must never match stack "lab-2".
    return {
        namespacePrefix: `c2m-${tag}-`,
        bridge: `c2m${tag}br`,
        firewallTable: firewallTableOf(`c2m${tag}br`),
        runDir: `/run/c2m/${stack}`,
        namespace: (host) => `c2m-${tag}-${stack}-${host}`,
        veth: (index) => `c2m${tag}h${index}`,
    };
}

/** The port every local host's sshd listens on (the only one the operator may reach). */
export const LOCAL_SSH_PORT = 22;

/** The stack's nftables table is named after its bridge (family inet). */
export function firewallTableOf(bridge: string): string {
    return bridge;
}

/**
 * nftables ruleset (for `nft -f`) that lets the operator's machine (the initial namespace) reach
 * the hosts behind `bridge` on their SSH port only, as a security group that opens SSH alone.
 * Stateless (no conntrack: it would track every flow at 300k connections), output hook only:
 * packets the operator sends out of the bridge. Frames bridged from host to host never cross
 * the output hook, so lab traffic is untouched. IPv4 and IPv6 (link-local) alike.
 * `add` + `delete` + definition in one transaction: replaces an older table atomically.
 */
export function firewallRules(bridge: string, sshPort = LOCAL_SSH_PORT): string {
    const table = firewallTableOf(bridge);
    return [
        `add table inet ${table}`,
        `delete table inet ${table}`,
        `table inet ${table} {`,
        "    chain operator_to_hosts {",
        "        type filter hook output priority filter; policy accept;",
        `        oifname "${bridge}" tcp dport ${sshPort} accept`,
        `        oifname "${bridge}" counter drop`,
        "    }",
        "}",
    ].join("\n");
}

export function bridgeCreateScript(bridge: string, address: string, prefix: number): string {
    return [
        "set -eu",
        `command -v nft >/dev/null || { echo "nft (Debian package nftables) is missing: run lab bootstrap" >&2; exit 1; }`,
        `ip link show ${bridge} >/dev/null 2>&1 || ip link add ${bridge} type bridge`,
        // The firewall is in place before the bridge carries anything.
        `nft -f - <<'NFT'\n${firewallRules(bridge)}\nNFT`,
        `ip addr replace ${address}/${prefix} dev ${bridge}`,
        `ip link set ${bridge} up`,
    ].join("\n");
}

/** Deletes the stack's firewall table if it exists (also the reaper's way, by name). */
export function firewallDeleteScript(bridge: string): string {
    return `nft delete table inet ${firewallTableOf(bridge)} 2>/dev/null || true`;
}

/** Runs last (every host depends on the bridge): removes the bridge, its firewall and the stack's files. */
export function bridgeDeleteScript(bridge: string, runDir: string): string {
    return `ip link del ${bridge} 2>/dev/null || true\n${firewallDeleteScript(bridge)}\nrm -rf ${runDir}`;
}

export interface LocalHostScriptInput {
    namespace: string;
    veth: string;
    bridge: string;
    address: string;
    /** More addresses on the same interface (clients' extra source addresses). */
    extraAddresses: string[];
    prefix: number;
    workDir: string;
    /**
     * PATH entries the host's commands use (the rig's tool cache): those under root's home stay
     * visible in the host's clean home. Without it, nothing of the operator's home is.
     */
    binPath?: string;
    /** The host's cgroup (c2m/<stack>/<host>) and its limits: every process started over its SSH lives in it. */
    cgroup?: { stack: string; host: string; limits?: HostLimits };
    /** Root filesystem of the image the host runs (components/platform/local/image.ts); absent = this machine's own. */
    imageRoot?: string;
}

/**
 * Runs `inner` in the namespace, in a private mount namespace of its own. The script is bash's
 * stdin (a quoted here-document: nothing in it is expanded on the way), so no quoting is needed
 * in the outer script, which /bin/sh runs; `inner` itself is read by bash (zx's quoting).
 */
function inMountNamespace(namespace: string, inner: string): string {
    if (inner.split("\n").includes(INNER_END)) throw new Error(`a script line reads ${INNER_END}`);
    return `ip netns exec ${namespace} unshare --mount --propagation private bash -s <<'${INNER_END}'\n${inner}\n${INNER_END}`;
}
const INNER_END = "C2M_SSHD_EOF";

/** The directory that stands in for root's home on a host: empty, like a fresh instance's. */
export function cleanHome(workDir: string): string {
    return `${workDir}/home`;
}

/**
 * Starts sshd in the namespace the way a fresh EC2 instance runs it: commands that come in see
 * none of the operator's shell start-up files. sshd runs a command through root's shell, and
 * bash reads ~/.bashrc for SSH commands (~/.profile, ~/.bash_profile, ~/.bash_login for login
 * sessions, sshd itself ~/.ssh/rc): here they run `pyenv init`, whose stale lock once made every
 * remote command wait 60 s. So sshd gets a mount namespace of its own (private: nothing
 * propagates back) in which root's home is the host's own empty directory, with only the tool
 * cache's PATH entries bound back in; and an empty environment (nothing of the operator's
 * shell, e.g. the Pulumi passphrase, reaches sshd or its sessions).
 */
export function sshdStartScript(h: Pick<LocalHostScriptInput, "namespace" | "address" | "workDir" | "binPath" | "imageRoot">): string {
    const home = cleanHome(h.workDir);
    const sshd =
        `/usr/sbin/sshd -f /dev/null -h ${h.workDir}/ssh/host_key` +
        ` -o ListenAddress=${h.address} -o Port=${LOCAL_SSH_PORT} -o PidFile=${h.workDir}/ssh/sshd.pid` +
        ` -o AuthorizedKeysFile=${h.workDir}/ssh/authorized_keys -o UsePAM=no -o StrictModes=no -o PermitUserEnvironment=no` +
        ` -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no -o MaxStartups=200:30:400 -o MaxSessions=100`;
    if (h.imageRoot) {
        // The host runs from its image: sshd (so every command that comes in over SSH) is chrooted
        // into the image, mounted for this host alone, with root's clean home at /root.
        const inner = [
            "set -eu",
            imageMountScript({ root: h.imageRoot, layer: `${h.workDir}/image`, binds: hostImageBinds(h.workDir, home, h.binPath) }),
            `mkdir -p "$root/run/sshd"`,
            `exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${sshd}`,
        ].join("\n");
        return [`mkdir -p ${home}`, `chmod 700 ${home}`, inMountNamespace(h.namespace, inner)].join("\n");
    }
    const keep = (h.binPath ?? "").split(":").filter((d) => d.startsWith("/"));
    const inner = [
        "set -eu",
        `home=$(getent passwd root | cut -d: -f6)`,
        `case "$home" in /?*) ;; *) echo "root's home ($home) cannot be replaced" >&2; exit 1;; esac`,
        `clean=${quote(home)}`,
        ...(keep.length === 0
            ? []
            : [
                  `for d in ${keep.map((d) => quote(d)).join(" ")}; do`,
                  `  case "$d" in "$home"/*) [ -d "$d" ] || continue; mkdir -p "$clean\${d#"$home"}"; mount --bind "$d" "$clean\${d#"$home"}";; esac`,
                  "done",
              ]),
        `mount --rbind "$clean" "$home"`,
        `exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${sshd}`,
    ].join("\n");
    return [`mkdir -p ${home}`, `chmod 700 ${home}`, inMountNamespace(h.namespace, inner)].join("\n");
}

/** Creates the namespace and starts its sshd. Expects AUTHORIZED_KEY in the environment. */
export function hostCreateScript(h: LocalHostScriptInput): string {
    const inNs = `ip netns exec ${h.namespace}`;
    return [
        "set -eu",
        `ip netns add ${h.namespace}`,
        `ip link add ${h.veth} type veth peer name ${h.veth}n`,
        `ip link set ${h.veth}n netns ${h.namespace}`,
        `ip link set ${h.veth} master ${h.bridge} up`,
        `${inNs} ip link set lo up`,
        `${inNs} ip link set ${h.veth}n name eth0`,
        `${inNs} ip addr add ${h.address}/${h.prefix} dev eth0`,
        ...h.extraAddresses.map((a) => `${inNs} ip addr add ${a}/${h.prefix} dev eth0`),
        `${inNs} ip link set eth0 up`,
        `mkdir -p ${h.workDir}/ssh /run/sshd`,
        `chmod 700 ${h.workDir}/ssh`,
        `ssh-keygen -q -t ed25519 -N '' -f ${h.workDir}/ssh/host_key`,
        `printf '%s\\n' "$AUTHORIZED_KEY" > ${h.workDir}/ssh/authorized_keys`,
        `chmod 600 ${h.workDir}/ssh/authorized_keys`,
        // The host's cgroup first: this shell joins it, so the sshd it starts and every process
        // started over SSH are in it (limits, exact memory and CPU figures, OOM kills).
        ...(h.cgroup ? [cgroupCreateScript(h.cgroup.stack, h.cgroup.host, h.cgroup.limits)] : []),
        // An sshd of its own per namespace: commands that come in over it live in the namespace,
        // in a clean root environment.
        sshdStartScript(h),
        // The host's public key (the stack's known host, checked by every SSH, as on EC2): a host made
        // anew has a new key, so every command on it sees a changed connection and runs again.
        `echo "hostkey $(cut -d' ' -f1,2 ${h.workDir}/ssh/host_key.pub)"`,
        `for i in $(seq 1 50); do ${inNs} bash -c 'exec 3<>/dev/tcp/${h.address}/${LOCAL_SSH_PORT}' 2>/dev/null && exit 0; sleep 0.1; done`,
        `echo "sshd on ${h.address} did not come up" >&2; exit 1`,
    ].join("\n");
}

/** The host key line hostCreateScript prints ("ssh-ed25519 AAAA…"); undefined for a host made before it printed one. */
export function parseHostKey(stdout: string): string | undefined {
    return /^hostkey (ssh-\S+ \S+)$/m.exec(stdout)?.[1];
}

/** Kills everything left in the namespace, then removes it, its veth and its files. Idempotent. */
export function hostDeleteScript(h: Pick<LocalHostScriptInput, "namespace" | "veth" | "workDir" | "cgroup">): string {
    return [
        `if ip netns list | grep -qw '${h.namespace}'; then`,
        `  for sig in TERM KILL; do pids=$(ip netns pids ${h.namespace}); [ -z "$pids" ] && break; kill -$sig $pids 2>/dev/null || true; sleep 0.5; done`,
        `  ip netns del ${h.namespace}`,
        "fi",
        `ip link del ${h.veth} 2>/dev/null || true`,
        `rm -rf ${h.workDir}`,
        ...(h.cgroup ? [cgroupDeleteScript(h.cgroup.stack, h.cgroup.host)] : []),
    ].join("\n");
}

/** Prints a new ed25519 key pair as "base64(private) base64(public)"; run once, kept as a secret. */
export const KEYGEN_SCRIPT = [
    "set -eu",
    "d=$(mktemp -d)",
    "trap 'rm -rf \"$d\"' EXIT",
    "ssh-keygen -q -t ed25519 -N '' -C c2m-lab -f \"$d/id\"",
    'echo "$(base64 -w0 "$d/id") $(base64 -w0 "$d/id.pub")"',
].join("\n");

export function parseKeygenOutput(stdout: string): { privateKey: string; publicKey: string } {
    const [priv, pub] = stdout.trim().split(/\s+/);
    if (!priv || !pub) throw new Error("key generation printed no key pair");
    const decode = (b: string) => Buffer.from(b, "base64").toString("utf8");
    return { privateKey: decode(priv), publicKey: decode(pub).trim() };
}
