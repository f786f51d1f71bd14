// SSH to lab hosts with the stack's key (held in a 0600 temp file for the command's life,
// never in the run directory). The seed used pdsh; this runs one ssh per host in parallel.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST_BASE_PATH, remotePathPrefix } from "../../components/render/hostPath.ts";
import { runWithTimeout } from "./runWithTimeout.ts";

export { HOST_BASE_PATH, remotePathPrefix };

export interface SshTarget {
    host: string;
    port: number;
    user: string /** PATH prefix on the host */;
    binPath?: string;
}

export interface SshResult {
    code: number;
    stdout: string;
    stderr: string /** killed at options.timeoutMs */;
    timedOut?: boolean;
}

export interface SshDial {
    keyFile: string;
    host: string;
    port: number;
    user: string;
    connectTimeoutS: number;
    keepAliveS?: number;
    /** known_hosts holding the host's key (the stack made it: EC2); absent, host keys are not checked. */
    knownHostsFile?: string;
}

/** A lab host the session may reach: its SSH address, and its host key when the platform made one. */
export type LabSshHost = string | { host: string; port?: number; hostKey?: string };

/**
 * ssh's argument vector for a lab host: this key only, no agent, no prompts. Where the stack made
 * the host's key (EC2, whose public IPs are recycled), ssh accepts that key only; local hosts are
 * namespaces created by the same update with fresh keys, on this machine's own bridge.
 */
export function sshArgs(d: SshDial, command: string): string[] {
    const hostKeys = d.knownHostsFile
        ? ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${d.knownHostsFile}`, "-o", "GlobalKnownHostsFile=/dev/null"]
        : ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
    return [
        "-i",
        d.keyFile,
        "-p",
        String(d.port),
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        ...hostKeys,
        "-o",
        "LogLevel=ERROR",
        "-o",
        `ConnectTimeout=${d.connectTimeoutS}`,
        ...(d.keepAliveS === undefined ? [] : ["-o", `ServerAliveInterval=${d.keepAliveS}`]),
        `${d.user}@${d.host}`,
        command,
    ];
}

/** known_hosts lines of the hosts whose key the stack made: `[host]:port key`, as ssh looks a host up on a port other than 22, else `host key`. */
export function knownHosts(hosts: { host: string; port?: number; hostKey: string }[]): string {
    return hosts.map((h) => `${h.port !== undefined && h.port !== 22 ? `[${h.host}]:${h.port}` : h.host} ${h.hostKey.trim()}\n`).join("");
}

export class SshSession {
    private readonly dir: string;
    private readonly keyFile: string;
    private readonly env: NodeJS.ProcessEnv;
    private readonly labHosts: Set<string>;
    /** The stack's known_hosts (hosts whose key the stack made), written for this session. */
    private readonly knownHostsFile: string;
    private readonly keyed: Set<string>;

    /** `labHosts`: the stack's own hosts (SSH address, host key where made), the only ones it will reach. */
    constructor(privateKey: string, env: NodeJS.ProcessEnv, labHosts: Iterable<LabSshHost>) {
        const hosts = [...labHosts].map((h) => (typeof h === "string" ? { host: h } : h));
        this.labHosts = new Set(hosts.map((h) => h.host));
        this.dir = mkdtempSync(join(tmpdir(), "c2m-attack-"));
        this.keyFile = join(this.dir, "id");
        writeFileSync(this.keyFile, privateKey, { mode: 0o600 });
        const keyed = hosts.filter((h) => h.hostKey);
        this.keyed = new Set(keyed.map((h) => h.host));
        this.knownHostsFile = join(this.dir, "known_hosts");
        writeFileSync(this.knownHostsFile, knownHosts(keyed as { host: string; port?: number; hostKey: string }[]), { mode: 0o600 });
        this.env = env;
    }

    private args(t: SshTarget, command: string): string[] {
        if (!this.labHosts.has(t.host)) throw new Error(`refusing to reach ${t.host}: not a host of this lab`);
        return sshArgs(
            {
                keyFile: this.keyFile,
                host: t.host,
                port: t.port,
                user: t.user,
                connectTimeoutS: 10,
                keepAliveS: 15,
                knownHostsFile: this.keyed.has(t.host) ? this.knownHostsFile : undefined,
            },
            command,
        );
    }

    /**
     * Runs a command; stdout goes to `stdoutFile` when given (for large result files). The ssh
     * does not get the terminal's Ctrl-C (runWithTimeout's own process group), so the caller can
     * stop the remote side in order and still collect results.
     */
    run(t: SshTarget, command: string, options: { stdoutFile?: string; timeoutMs?: number } = {}): Promise<SshResult> {
        return runWithTimeout("ssh", this.args(t, remotePathPrefix(t.binPath) + command), { env: this.env, ...options });
    }

    async check(t: SshTarget, command: string, timeoutMs = 60_000): Promise<string> {
        const r = await this.run(t, command, { timeoutMs });
        if (r.code !== 0) throw new Error(`ssh ${t.host} \`${command.slice(0, 80)}\` exited ${r.code}: ${r.stderr.trim()}`);
        return r.stdout;
    }

    close(): void {
        rmSync(this.dir, { recursive: true, force: true });
    }
}

/** A remote command's connection (the `command` package's ConnectionArgs, as the rig's provider serves them). */
export interface RemoteConnection {
    host: string;
    port?: number;
    user?: string;
    privateKey?: string;
    /** The host's expected SSH host key (OpenSSH public key line). */
    hostKey?: string;
    dialErrorLimit?: number;
    perDialTimeout?: number;
}

/** How ssh dials a connection: its key file, and known_hosts holding the connection's hostKey when it has one. */
export function remoteDial(conn: RemoteConnection, dir: string): { dial: SshDial; files: Record<string, string> } {
    const keyFile = join(dir, "id");
    const knownHostsFile = conn.hostKey ? join(dir, "known_hosts") : undefined;
    return {
        dial: { keyFile, host: conn.host, port: conn.port ?? 22, user: conn.user ?? "root", connectTimeoutS: conn.perDialTimeout ?? 15, knownHostsFile },
        files: {
            [keyFile]: conn.privateKey ?? "",
            ...(knownHostsFile ? { [knownHostsFile]: knownHosts([{ host: conn.host, port: conn.port, hostKey: conn.hostKey! }]) } : {}),
        },
    };
}
