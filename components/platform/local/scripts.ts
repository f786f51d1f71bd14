// Shell scripts that make (and unmake) a local host: a network namespace on a bridge,
// with its own sshd. Pure; platform/local applies them with local.Command.
import { createHash } from "node:crypto";

export interface LocalNames {
    /** Prefix of every namespace of the stack; also how orphans are found. */
    namespacePrefix: string;
    bridge: string;
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
        runDir: `/run/c2m/${stack}`,
        namespace: (host) => `c2m-${tag}-${stack}-${host}`,
        veth: (index) => `c2m${tag}h${index}`,
    };
}

export function bridgeCreateScript(bridge: string, address: string, prefix: number): string {
    return [
        "set -eu",
        `ip link show ${bridge} >/dev/null 2>&1 || ip link add ${bridge} type bridge`,
        `ip addr replace ${address}/${prefix} dev ${bridge}`,
        `ip link set ${bridge} up`,
    ].join("\n");
}

/** Runs last (every host depends on the bridge): removes the bridge and the stack's files. */
export function bridgeDeleteScript(bridge: string, runDir: string): string {
    return `ip link del ${bridge} 2>/dev/null || true\nrm -rf ${runDir}`;
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
        // An sshd of its own per namespace: commands that come in over it live in the namespace.
        `${inNs} /usr/sbin/sshd -f /dev/null -h ${h.workDir}/ssh/host_key` +
            ` -o ListenAddress=${h.address} -o PidFile=${h.workDir}/ssh/sshd.pid` +
            ` -o AuthorizedKeysFile=${h.workDir}/ssh/authorized_keys -o UsePAM=no -o StrictModes=no` +
            ` -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no -o MaxStartups=200:30:400 -o MaxSessions=100`,
        `for i in $(seq 1 50); do ${inNs} bash -c 'exec 3<>/dev/tcp/${h.address}/22' 2>/dev/null && exit 0; sleep 0.1; done`,
        `echo "sshd on ${h.address} did not come up" >&2; exit 1`,
    ].join("\n");
}

/** Kills everything left in the namespace, then removes it, its veth and its files. Idempotent. */
export function hostDeleteScript(h: Pick<LocalHostScriptInput, "namespace" | "veth" | "workDir">): string {
    return [
        `if ip netns list | grep -qw '${h.namespace}'; then`,
        `  for sig in TERM KILL; do pids=$(ip netns pids ${h.namespace}); [ -z "$pids" ] && break; kill -$sig $pids 2>/dev/null || true; sleep 0.5; done`,
        `  ip netns del ${h.namespace}`,
        "fi",
        `ip link del ${h.veth} 2>/dev/null || true`,
        `rm -rf ${h.workDir}`,
    ].join("\n");
}

/** Prints a new ed25519 key pair as "base64(private) base64(public)"; run once, kept as a secret. */
export const KEYGEN_SCRIPT = [
    "set -eu",
    "d=$(mktemp -d)",
    "trap 'rm -rf \"$d\"' EXIT",
    "ssh-keygen -q -t ed25519 -N '' -C c2m-lab -f \"$d/id\"",
    "echo \"$(base64 -w0 \"$d/id\") $(base64 -w0 \"$d/id.pub\")\"",
].join("\n");

export function parseKeygenOutput(stdout: string): { privateKey: string; publicKey: string } {
    const [priv, pub] = stdout.trim().split(/\s+/);
    if (!priv || !pub) throw new Error("key generation printed no key pair");
    const decode = (b: string) => Buffer.from(b, "base64").toString("utf8");
    return { privateKey: decode(priv), publicKey: decode(pub).trim() };
}
