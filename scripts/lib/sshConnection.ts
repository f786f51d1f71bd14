// One SSH connection per lab host, shared by every call to it: ssh's ControlMaster, started once
// in the background with its control socket in the session's directory, and the local forwards
// opened over it for HTTP. Used by remote.ts, the operator's one way to the hosts.
import { spawnSync } from "node:child_process";
import { accessSync, existsSync, mkdtempSync, readdirSync, rmSync, constants as fsConstants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expBackoff, retry, type $ } from "zx";

/** How ssh reaches a host (a stack output: the inventory's `ssh`). */
export interface SshTarget {
    host: string;
    port: number;
    user: string;
    /** PATH entries in front of a fresh root's PATH for every command (components/render/hostPath.ts). */
    binPath?: string;
}

/** A host the session may reach: its SSH address, and its host key where the platform made one (EC2). */
export type LabSshHost = string | { host: string; port?: number; hostKey?: string };

/** A host of the lab as the stack's inventory describes it. */
export interface LabHost {
    name: string;
    address: string;
    sourceAddresses?: string[];
    ssh: SshTarget;
}

/** What reaching the lab takes: its inventory and its SSH key (the stack's outputs have both). */
export interface LabAccess {
    inventory: LabHost[];
    sshPrivateKey: string;
}

/** ssh's ConnectTimeout. */
export const CONNECT_TIMEOUT_S = 10;
/**
 * ssh's ServerAliveInterval and ServerAliveCountMax: a host that stops answering (its network cut,
 * its machine gone) ends its connection within 5 s x 3 = 15 s, and the calls waiting on it with it;
 * at 15 s x 3, a cut backend held every later read of an attack ~45 s each. A loaded host's sshd
 * answers a keepalive within seconds (it is the kernel's and one process's work).
 */
export const KEEPALIVE_S = 5;
export const KEEPALIVE_COUNT = 3;
/** The master lingers this long once idle: it ends on its own if this process dies without close(). */
export const PERSIST_S = 120;
/** Sessions open at once over one connection: the rig's sshd allows 100 (MaxSessions). */
export const MAX_SESSIONS = 90;

/** A host could not be reached, refused, or answered an HTTP error (`status`). */
export class RemoteError extends Error {
    /** The HTTP status, when a host's service answered with one. */
    readonly status?: number;
    constructor(message: string, status?: number) {
        super(message);
        this.name = "RemoteError";
        this.status = status;
    }
}

/** Runs `fn` up to `attempts` times with exponential backoff while `again(error)` says a retry is safe. */
export async function withRetry<T>(attempts: number, fn: () => Promise<T>, again: (err: unknown) => boolean): Promise<T> {
    const outcome = await retry(attempts, expBackoff("8s", "500ms"), async () => {
        try {
            return { value: await fn() };
        } catch (err) {
            if (again(err)) throw err;
            return { err };
        }
    });
    if ("err" in outcome) throw outcome.err;
    return outcome.value;
}

/** Sessions still open at exit or on a signal nobody else handles: their masters end and their directories go. */
export const openSessions = new Set<{ closeSync(): void }>();
function closeAllSync(): void {
    for (const r of openSessions) r.closeSync();
}
let hooked = false;
export function hookProcess(): void {
    if (hooked) return;
    hooked = true;
    process.on("exit", closeAllSync);
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        const onSignal = () => {
            // Another listener (lab attack's clean stop) owns the shutdown and still needs the hosts; exit cleans up then.
            if (process.listenerCount(signal) > 1) return;
            closeAllSync();
            process.off(signal, onSignal);
            process.kill(process.pid, signal);
        };
        process.on(signal, onSignal);
    }
}

/** Where the run's directory goes: /run (a tmpfs, emptied at boot) when this user may write there. */
export function runBase(): string {
    try {
        accessSync("/run", fsConstants.W_OK);
        return "/run";
    } catch {
        return tmpdir();
    }
}

/** Whether a process of this machine runs with that pid (someone else's counts: signalling it is refused, not absent). */
export function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** A session's own directory under `base`, named after this process: `c2m-remote-<pid>-XXXXXX`. */
export function sessionDir(base: string): string {
    removeOrphanSessionDirs(base);
    return mkdtempSync(join(base, `c2m-remote-${process.pid}-`));
}

/**
 * Removes the directories (the stack's key among their files) of sessions whose process died without
 * closing them: killed outright (SIGKILL, the OOM killer), it ran no exit handler. Seen after a `lab up`
 * killed with its command provider in mid-command. Returns their names.
 */
export function removeOrphanSessionDirs(base: string): string[] {
    const orphans = readdirSync(base).filter((name) => {
        const pid = /^c2m-remote-(\d+)-/.exec(name)?.[1];
        return pid !== undefined && !processAlive(Number(pid));
    });
    for (const name of orphans) rmSync(join(base, name), { recursive: true, force: true });
    return orphans;
}

/** How long a host that answered none of a connection's attempts is taken as unreachable. */
const REDIAL_AFTER_MS = 60_000;

/** What a connection takes from its session: where its files go, how ssh is run and dialled. */
export interface Dialer {
    readonly dir: string;
    readonly env: NodeJS.ProcessEnv;
    /** The ssh client: the system's OpenSSH, or a test's stand-in. */
    readonly ssh: string;
    readonly shell: typeof $;
    /** ssh's ConnectTimeout, in seconds. */
    readonly connectTimeoutS: number;
    /** Attempts at starting a connection before its calls fail (a host still booting answers late). */
    readonly connectAttempts: number;
    dialArgs(t: SshTarget): string[];
}

/** known_hosts lines of the hosts whose key the stack made: `[host]:port key` on a port other than 22, else `host key`. */
export function knownHosts(hosts: { host: string; port?: number; hostKey: string }[]): string {
    return hosts.map((h) => `${h.port !== undefined && h.port !== 22 ? `[${h.host}]:${h.port}` : h.host} ${h.hostKey.trim()}\n`).join("");
}

/** One SSH connection (the master) to one host and the forwards opened over it. */
export class Connection {
    readonly socket: string;
    private opened?: Promise<void>;
    private readonly forwards = new Map<string, Promise<string>>();
    /** Forwards opened so far: each gets a socket path of its own (a gone master may leave its sockets behind). */
    private forwardsOpened = 0;
    private sessions = 0;
    private readonly waiting: (() => void)[] = [];

    private readonly remote: Dialer;
    readonly target: SshTarget;
    readonly index: number;

    constructor(remote: Dialer, target: SshTarget, index: number) {
        this.remote = remote;
        this.target = target;
        this.index = index;
        this.socket = join(remote.dir, `c${index}`);
    }

    /** ssh's options for this host: the stack's key only, no agent, no prompts, this connection's socket. */
    args(): string[] {
        return [...this.remote.dialArgs(this.target), "-o", `ControlPath=${this.socket}`, `${this.target.user}@${this.target.host}`];
    }

    /** When starting the master last failed after every attempt, and why. */
    private failed?: { at: number; error: Error };
    /** The master came up (its socket then exists until it ends). */
    private up = false;

    /**
     * Starts the master once (retried: nothing runs on the host before it is up). A host that did
     * not answer any attempt is not dialled again for REDIAL_AFTER_MS: its calls fail at once with
     * the same error, where each would have waited through every attempt again (a backend cut during
     * an attack cost the run's later reads ~30 s each).
     */
    open(): Promise<void> {
        // A master that came up and has gone since (the host stopped answering its keepalives, or it
        // sat idle PERSIST_S): dialled again, once, since the host answered before; without this, each
        // call would dial the host directly (ssh does when the socket is missing) and wait alone.
        let attempts = this.remote.connectAttempts;
        if (this.up && !existsSync(this.socket)) {
            this.opened = undefined;
            this.up = false;
            this.forwards.clear(); // their sockets went with the master
            attempts = 1;
        }
        if (!this.opened && this.failed && Date.now() - this.failed.at < REDIAL_AFTER_MS) return Promise.reject(this.failed.error);
        this.opened ??= retry<void>(attempts, expBackoff("4s", "500ms"), async (): Promise<void> => {
            const r = await this.remote.shell({
                timeout: (this.remote.connectTimeoutS + 5) * 1000,
            })`${this.remote.ssh} -f -N -o ControlMaster=yes -o ${`ControlPersist=${PERSIST_S}`} ${this.args()} </dev/null`;
            if (r.exitCode !== 0)
                throw new RemoteError(`SSH to ${this.target.host}:${this.target.port} failed: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
            this.up = true;
        }).catch((err: Error) => {
            this.opened = undefined; // a call after REDIAL_AFTER_MS tries again
            this.failed = { at: Date.now(), error: err };
            throw err;
        });
        return this.opened as Promise<void>;
    }

    /** Runs `fn` once fewer than MAX_SESSIONS sessions are open; a finished one hands its slot on. */
    async session<T>(fn: () => Promise<T>): Promise<T> {
        if (this.sessions >= MAX_SESSIONS) await new Promise<void>((resolve) => this.waiting.push(resolve));
        else this.sessions++;
        try {
            return await fn();
        } finally {
            const next = this.waiting.shift();
            if (next) next();
            else this.sessions--;
        }
    }

    /** A local Unix socket whose connections reach `address:port` from this host, opened once. */
    forward(address: string, port: number): Promise<string> {
        const key = `${address}:${port}`;
        let local = this.forwards.get(key);
        if (!local) {
            const path = join(this.remote.dir, `c${this.index}-f${this.forwardsOpened++}`);
            local = this.open().then(async () => {
                const r = await this.remote.shell({ timeout: 15_000 })`${this.remote.ssh} -O forward -L ${`${path}:${address}:${port}`} ${this.args()}`;
                if (r.exitCode !== 0) throw new RemoteError(`forward to ${key} over SSH to ${this.target.host} failed: ${r.stderr.trim()}`);
                return path;
            });
            local.catch(() => this.forwards.delete(key));
            this.forwards.set(key, local);
        }
        return local;
    }

    /** Ends the master (its sessions and forwards with it). */
    closeSync(): void {
        if (!this.opened) return;
        this.opened = undefined;
        spawnSync(this.remote.ssh, ["-O", "exit", ...this.args()], { stdio: "ignore", timeout: 5000, env: this.remote.env });
    }

    /** The same without blocking the event loop (a process serving other calls meanwhile: the command provider). */
    async close(): Promise<void> {
        if (!this.opened) return;
        this.opened = undefined;
        // Not waiting for a master still starting: one that comes up after this lingers PERSIST_S idle, then ends.
        await this.remote.shell({ timeout: 5000 })`${this.remote.ssh} -O exit ${this.args()}`;
    }
}
