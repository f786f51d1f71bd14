// The one way the operator talks to lab hosts: commands and HTTP, over one multiplexed SSH
// connection per host, run by zx. Every call has a time limit; a call is retried (with
// exponential backoff) only when its caller marks it idempotent; values are quoted by zx's
// `quote`, never by hand. The connection's control socket, the stack's key and the known hosts
// live in a directory of this run's own (under /run when it is writable), gone at close() or
// when the process exits.
//
// Commands run on the host through root's login shell, which is bash on every platform the rig
// makes (Debian on a local namespace, an image, EC2): zx's `quote` writes bash's $'…' quoting.
//
// HTTP goes through the same connection: a local forward from a Unix socket in the run's
// directory to the service's address, opened once per host and service, so the TCP connection
// starts on the lab host as curl on that host would start it, and the operator needs nothing but
// SSH to the hosts (as on EC2, whose security group opens SSH from the operator's CIDR alone).
import http from "node:http";
import https from "node:https";
import { createWriteStream, rmSync, writeFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { $, quote, type ProcessOutput, type ProcessPromise } from "zx/core";
import { remotePathPrefix } from "../../components/render/hostPath.ts";
import {
    CONNECT_TIMEOUT_S,
    Connection,
    KEEPALIVE_COUNT,
    KEEPALIVE_S,
    RemoteError,
    hookProcess,
    knownHosts,
    openSessions,
    runBase,
    sessionDir,
    withRetry,
    type LabAccess,
    type LabHost,
    type LabSshHost,
    type SshTarget,
} from "./sshConnection.ts";

export { knownHosts, quote, RemoteError, type LabAccess, type LabHost, type LabSshHost, type SshTarget };

export interface RemoteResult {
    code: number;
    stdout: string;
    stderr: string;
    /** Killed at the call's time limit. */
    timedOut: boolean;
}

export interface CallOptions {
    /** Kill the call (its local ssh and everything under it) after this long. Default 60 s. */
    timeoutMs?: number;
    /** Safe to run twice: retried with backoff when SSH fails (exit 255) or the time limit is hit. */
    idempotent?: boolean;
    /** Attempts of an idempotent call (default 3). */
    attempts?: number;
    /** stdout goes to this local file, never into memory (large result files). */
    stdoutFile?: string;
    /** Sent on the command's stdin. */
    input?: string;
}

export interface HttpOptions {
    /** The host the exchange starts from (by name); default: the host whose address the URL names. */
    from?: string;
    method?: "GET" | "POST";
    body?: string;
    /** The whole exchange. Default 10 s. */
    timeoutMs?: number;
    /** Safe to send twice (a GET is, unless said otherwise): retried with backoff on a transport failure. */
    idempotent?: boolean;
}

export interface HttpResponse {
    status: number;
    body: string;
    /** The host the exchange started from. */
    host: string;
}

/** A running command whose output is read as it comes (the vegeta fan-out). */
export interface RemoteStream {
    /** stdout, line by line, as the host writes it. */
    lines(): AsyncIterable<string>;
    /** Resolves once the command has ended (never rejects for an exit status). */
    done: Promise<RemoteResult>;
    /** Ends the local ssh (the remote side sees its channel close). */
    kill(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
/** ssh's own failure: the command did not run, or its connection broke. */
const SSH_FAILED = 255;

/** How a call ended: killed by its time limit, or its exit status (128 + signal when killed). */
function ended(out: ProcessOutput, o: CallOptions): RemoteResult {
    // zx kills the call's whole process tree; the shell under it may end first, with 128 + 9.
    const killed = out.signal === "SIGKILL" || out.exitCode === 128 + osConstants.signals.SIGKILL;
    const timedOut = killed && out.duration >= (o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const code = out.exitCode ?? 128 + (out.signal ? osConstants.signals[out.signal] : 0);
    return { code, stdout: out.stdout, stderr: out.stderr, timedOut };
}

export interface RemoteOptions {
    privateKey: string;
    /** The stack's own hosts (SSH address, host key where made): the only ones it will reach. */
    hosts: Iterable<LabSshHost>;
    /** The inventory: hosts by name, and which host serves an address (HTTP). */
    inventory?: LabHost[];
    env?: NodeJS.ProcessEnv;
    /** Parent of the run's directory (default /run, else the temp dir). */
    dir?: string;
    /** The program run as ssh (tests). */
    ssh?: string;
    /** ssh's ConnectTimeout in seconds (default 10). */
    connectTimeoutS?: number;
    /** Attempts at starting a host's connection (default 3): more for a host that may still be booting. */
    connectAttempts?: number;
}

/** The operator's session with a lab: one per command run, closed when done. */
export class Remote {
    readonly dir: string;
    readonly env: NodeJS.ProcessEnv;
    private readonly keyFile: string;
    private readonly knownHostsFile: string;
    private readonly labHosts: Set<string>;
    private readonly keyed: Set<string>;
    private readonly byName = new Map<string, LabHost>();
    private readonly byAddress = new Map<string, LabHost>();
    private readonly connections = new Map<string, Connection>();
    private closed = false;
    /** zx's `$`, quiet, never throwing on an exit status, each call in a process group of its own. */
    readonly shell: typeof $;
    /** The ssh client: the system's OpenSSH, or a test's stand-in. */
    readonly ssh: string;
    readonly connectTimeoutS: number;
    readonly connectAttempts: number;

    /** A session with the lab whose key and inventory `lab` holds (a stack's outputs). */
    static forLab(lab: LabAccess, o: Omit<RemoteOptions, "privateKey" | "hosts" | "inventory"> = {}): Remote {
        return new Remote({ ...o, privateKey: lab.sshPrivateKey, hosts: lab.inventory.map((h) => h.ssh), inventory: lab.inventory });
    }

    constructor(o: RemoteOptions) {
        const hosts = [...o.hosts].map((h) => (typeof h === "string" ? { host: h } : h));
        this.labHosts = new Set(hosts.map((h) => h.host));
        const keyed = hosts.filter((h): h is { host: string; port?: number; hostKey: string } => !!h.hostKey);
        this.keyed = new Set(keyed.map((h) => h.host));
        for (const h of o.inventory ?? []) {
            this.labHosts.add(h.ssh.host);
            this.byName.set(h.name, h);
            for (const a of [h.address, ...(h.sourceAddresses ?? [])]) this.byAddress.set(a, h);
        }
        this.env = o.env ?? process.env;
        this.dir = sessionDir(o.dir ?? runBase());
        this.keyFile = join(this.dir, "id");
        writeFileSync(this.keyFile, o.privateKey.endsWith("\n") ? o.privateKey : `${o.privateKey}\n`, { mode: 0o600 });
        this.knownHostsFile = join(this.dir, "known_hosts");
        writeFileSync(this.knownHostsFile, knownHosts(keyed), { mode: 0o600 });
        this.ssh = o.ssh ?? "ssh";
        this.connectTimeoutS = o.connectTimeoutS ?? CONNECT_TIMEOUT_S;
        this.connectAttempts = Math.max(1, o.connectAttempts ?? 3);
        // detached: the call's own process group (the terminal's Ctrl-C does not reach it; the time limit kills all of it).
        this.shell = $({ quiet: true, nothrow: true, verbose: false, env: this.env, detached: true, timeoutSignal: "SIGKILL" });
        openSessions.add(this);
        hookProcess();
    }

    /** ssh's options for a host of this lab. Where the stack made the host's key (EC2, whose public IPs are recycled), only that key is accepted. */
    dialArgs(t: SshTarget): string[] {
        if (!this.labHosts.has(t.host)) throw new RemoteError(`refusing to reach ${t.host}: not a host of this lab`);
        const hostKeys = this.keyed.has(t.host)
            ? ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${this.knownHostsFile}`, "-o", "GlobalKnownHostsFile=/dev/null"]
            : ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
        return [
            ...["-i", this.keyFile, "-p", String(t.port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", ...hostKeys, "-o", "LogLevel=ERROR"],
            ...[
                "-o",
                `ConnectTimeout=${this.connectTimeoutS}`,
                "-o",
                `ServerAliveInterval=${KEEPALIVE_S}`,
                "-o",
                `ServerAliveCountMax=${KEEPALIVE_COUNT}`,
                "-o",
                "ControlMaster=no",
            ],
        ];
    }

    /** The SSH address of a host given by name (inventory) or as an address. */
    private target(host: string | SshTarget): SshTarget {
        if (typeof host !== "string") return host;
        const h = this.byName.get(host);
        if (!h) throw new RemoteError(`no host ${host} in this lab`);
        return h.ssh;
    }

    private connection(host: string | SshTarget): Connection {
        if (this.closed) throw new RemoteError("this lab session is closed");
        const t = this.target(host);
        this.dialArgs(t); // refuses a host outside the lab before anything starts
        const key = `${t.user}@${t.host}:${t.port}`;
        let c = this.connections.get(key);
        if (!c) {
            c = new Connection(this, t, this.connections.size);
            this.connections.set(key, c);
        }
        return c;
    }

    /** The ssh process of one command: the host's PATH first, the command as the host's shell reads it. */
    private spawn(c: Connection, command: string, o: CallOptions): ProcessPromise {
        const line = remotePathPrefix(c.target.binPath) + command;
        const sh = this.shell({ timeout: o.timeoutMs ?? DEFAULT_TIMEOUT_MS, ...(o.input ? { input: o.input } : {}) });
        // Without input the command reads an empty stdin (-n), not a pipe that never ends.
        const args = o.input ? c.args() : ["-n", ...c.args()];
        // A multiplexed ssh hands its stdout and stderr to the master, which holds them until the
        // command ends on the host: through `cat`, the call's own pipes close when its time is up.
        return o.stdoutFile ? sh`${this.ssh} ${args} ${line} 2> >(cat >&2) | cat > ${o.stdoutFile}` : sh`${this.ssh} ${args} ${line} 2> >(cat >&2) | cat`;
    }

    /**
     * Runs a command on a host (by name or SSH address) and resolves with how it ended; an exit
     * status is never thrown. An idempotent call is retried while ssh fails or time runs out.
     */
    async run(host: string | SshTarget, command: string, o: CallOptions = {}): Promise<RemoteResult> {
        const c = this.connection(host);
        // A host the connection could not reach (after its own attempts) is not retried by the call.
        let unreachable = false;
        const once = async (): Promise<RemoteResult> => {
            try {
                await c.open();
            } catch (err) {
                unreachable = true;
                return { code: SSH_FAILED, stdout: "", stderr: (err as Error).message, timedOut: false };
            }
            const p = this.spawn(c, command, o);
            return ended(await c.session(() => p), o);
        };
        if (!o.idempotent) return once();
        // A failed attempt is thrown to be retried; the last one's result is what the caller gets.
        let last: RemoteResult | undefined;
        const retryable = (r?: RemoteResult) => !!r && ((r.code === SSH_FAILED && !unreachable) || r.timedOut);
        const attempt = async () => {
            last = await once();
            if (retryable(last)) throw new RemoteError(`ssh exited ${last.code}`);
            return last;
        };
        return withRetry(o.attempts ?? 3, attempt, () => true).catch((err) => (retryable(last) ? (last as RemoteResult) : Promise.reject(err)));
    }

    /** A command's stdout; any other end than exit 0 throws, naming the host and the command. */
    async check(host: string | SshTarget, command: string, o: CallOptions = {}): Promise<string> {
        const r = await this.run(host, command, o);
        if (r.code !== 0) {
            const t = this.target(host);
            const how = r.timedOut ? `got no end within ${((o.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000).toFixed(0)} s` : `exited ${r.code}`;
            throw new RemoteError(`ssh ${t.host} \`${command.slice(0, 80)}\` ${how}: ${r.stderr.trim()}`);
        }
        return r.stdout;
    }

    /** Starts a long command (never retried) whose stdout is read as it comes. */
    stream(host: string | SshTarget, command: string, o: Omit<CallOptions, "idempotent" | "attempts" | "stdoutFile"> = {}): RemoteStream {
        const c = this.connection(host);
        let started: ProcessPromise | undefined;
        let release!: () => void;
        const slot = new Promise<void>((resolve) => {
            release = resolve;
        });
        // A ProcessPromise is a thenable: wrapped, so awaiting the start does not wait for the end.
        const proc = c.open().then(() => {
            started = this.spawn(c, command, o);
            void c.session(() => slot);
            return { p: started };
        });
        const done = proc.then(
            async ({ p }) => {
                const out = await p;
                release();
                return ended(out, o);
            },
            (err: Error) => {
                release();
                return { code: SSH_FAILED, stdout: "", stderr: err.message, timedOut: false };
            },
        );
        return {
            lines: async function* () {
                const started = await proc.catch(() => undefined);
                if (started) yield* started.p;
            },
            done,
            kill: async () => {
                await started?.kill("SIGKILL").catch(() => undefined);
            },
        };
    }

    /** The host serving `url`: the one whose address it names. Nothing outside the lab is ever reached. */
    hostFor(url: string): LabHost {
        const hostname = new URL(url).hostname;
        const host = this.byAddress.get(hostname);
        if (!host) throw new RemoteError(`refusing to query ${url}: ${hostname} is not an address of this lab's hosts`);
        return host;
    }

    private origin(url: string, from?: string): LabHost {
        const served = this.hostFor(url);
        if (from === undefined) return served;
        const host = this.byName.get(from);
        if (!host) throw new RemoteError(`no host ${from} in this lab`);
        return host;
    }

    /** Opens one HTTP exchange from a lab host and hands the response to `read`. */
    private async exchange<T>(url: string, o: HttpOptions, read: (res: http.IncomingMessage) => Promise<T>): Promise<T> {
        const u = new URL(url);
        if (u.protocol !== "http:" && u.protocol !== "https:") throw new RemoteError(`not an http(s) URL: ${url}`);
        const host = this.origin(url, o.from);
        const timeoutMs = o.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
        const what = `${o.method ?? "GET"} ${url} via ${host.name}`;
        const once = async (): Promise<T> => {
            const socketPath = await this.connection(host.ssh).forward(u.hostname, Number(u.port || (u.protocol === "https:" ? 443 : 80)));
            const signal = AbortSignal.timeout(timeoutMs);
            const request = u.protocol === "https:" ? https.request : http.request;
            return await new Promise<T>((resolve, reject) => {
                const req = request(
                    {
                        socketPath,
                        path: `${u.pathname}${u.search}`,
                        method: o.method ?? "GET",
                        headers: { host: u.host, ...(o.body !== undefined ? { "content-length": Buffer.byteLength(o.body) } : {}) },
                        signal,
                        // The lab's certificates are its own.
                        ...(u.protocol === "https:" ? { rejectUnauthorized: false, servername: u.hostname } : {}),
                    },
                    (res) => read(res).then(resolve, reject),
                );
                req.on("error", (err) =>
                    reject(new RemoteError(`${what}: ${signal.aborted ? `no answer within ${(timeoutMs / 1000).toFixed(0)} s` : (err as Error).message}`)),
                );
                req.end(o.body);
            });
        };
        const idempotent = o.idempotent ?? (o.method ?? "GET") === "GET";
        // An answer with an HTTP status is the service's word, not a transport failure: never retried.
        return idempotent ? withRetry(3, once, (err) => !(err instanceof RemoteError && err.status !== undefined)) : once();
    }

    /** One HTTP exchange started on a lab host; any HTTP status is returned, transport failures throw. */
    async request(url: string, o: HttpOptions = {}): Promise<HttpResponse> {
        const host = this.origin(url, o.from);
        return this.exchange(url, o, async (res) => {
            const chunks: Buffer[] = [];
            for await (const chunk of res) chunks.push(chunk as Buffer);
            return { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), host: host.name };
        });
    }

    /** The body of a 2xx answer; anything else throws, naming the URL, the host and the status. */
    async get(url: string, o: Omit<HttpOptions, "method" | "body"> = {}): Promise<string> {
        const r = await this.request(url, o);
        if (r.status < 200 || r.status > 299) throw new RemoteError(`GET ${url} via ${r.host}: HTTP ${r.status}: ${r.body.trim().slice(0, 200)}`, r.status);
        return r.body;
    }

    /** Streams a (large) 2xx body into `file`, never holding it in memory. */
    async getToFile(url: string, file: string, o: Omit<HttpOptions, "method" | "body"> = {}): Promise<void> {
        await this.exchange(url, o, async (res) => {
            if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) {
                res.resume();
                throw new RemoteError(`GET ${url}: HTTP ${res.statusCode}`, res.statusCode);
            }
            await pipeline(res, createWriteStream(file));
        });
    }

    /** Ends every connection and removes the run's directory (key, known hosts, sockets). */
    closeSync(): void {
        if (this.closed) return;
        this.closed = true;
        openSessions.delete(this);
        for (const c of this.connections.values()) c.closeSync();
        rmSync(this.dir, { recursive: true, force: true });
    }

    /** The same, without blocking the event loop while the masters exit. */
    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        openSessions.delete(this);
        await Promise.all([...this.connections.values()].map((c) => c.close()));
        rmSync(this.dir, { recursive: true, force: true });
    }
}
