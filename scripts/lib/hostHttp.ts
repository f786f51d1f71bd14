// The one way the operator talks HTTP to a lab host (HAProxy statistics, Prometheus, the request
// log sink, a probe of a frontend), on every platform: curl runs ON a lab host, over the lab's
// SSH channel (ssh.ts). The operator needs nothing but SSH to the hosts, as on EC2, where the
// security group opens SSH from the operator's CIDR alone; locally the same is enforced.
import { SshSession, type SshResult, type SshTarget } from "./ssh.ts";
import { labEnv } from "../toolchain/toolchain.ts";

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

export interface HostRequestOptions {
    /** The host curl runs on (by name); default: the host whose address the URL names. */
    from?: string;
    method?: "GET" | "POST";
    /** Request body (POST), sent as is. */
    body?: string;
    /** Whole exchange, on the host (curl --max-time); the SSH connection gets 15 s more. Default 10 s. */
    timeoutMs?: number;
}

export interface HostResponse {
    status: number;
    body: string /** the host curl ran on */;
    host: string;
}

const SSH_MARGIN_MS = 15_000;
const DEFAULT_TIMEOUT_MS = 10_000;
/** SSH connections one channel has open at once (a metrics pull asks ~20 queries together). */
const MAX_IN_FLIGHT = 6;

function shellQuote(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** What a curl exit status means (the ones an exchange with a lab service can end with). */
const CURL_EXITS: Record<number, string> = {
    6: "could not resolve the host",
    7: "connection refused or no route",
    22: "HTTP error status",
    28: "timed out",
    35: "TLS handshake failed",
    52: "empty reply",
    56: "connection reset while receiving",
};

/**
 * The curl command line run on the host. Pure. `-g`: PromQL's [] and {} are not URL globs;
 * `-k` for https: the lab's certificates are its own. `failOnStatus`: HTTP ≥ 400 exits 22
 * (for bodies streamed to a file); otherwise the status follows the body on a last line.
 */
export function curlCommand(url: string, o: { method?: string; body?: string; timeoutMs: number; failOnStatus?: boolean }): string {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`not an http(s) URL: ${url}`);
    const s = Math.max(1, Math.ceil(o.timeoutMs / 1000));
    return [
        "curl -sS -g",
        `--connect-timeout ${Math.min(5, s)}`,
        `--max-time ${s}`,
        ...(u.protocol === "https:" ? ["-k"] : []),
        ...(o.method && o.method !== "GET" ? [`-X ${o.method}`] : []),
        ...(o.body !== undefined ? [`--data-binary ${shellQuote(o.body)}`] : []),
        ...(o.failOnStatus ? ["-f"] : ["-w '\\n%{http_code}'"]),
        shellQuote(u.toString()),
    ].join(" ");
}

/** Splits curl's output into body and the status it printed last (`-w '\n%{http_code}'`). Pure. */
export function splitStatus(stdout: string): { status: number; body: string } {
    const cut = stdout.lastIndexOf("\n");
    const tail = stdout.slice(cut + 1);
    if (cut < 0 || !/^[1-5]\d\d$/.test(tail)) throw new Error(`curl printed no HTTP status (last line: ${JSON.stringify(tail.slice(0, 40))})`);
    return { status: Number(tail), body: stdout.slice(0, cut) };
}

export class HostHttpError extends Error {
    /** The HTTP status, when the host answered with one. */
    readonly status?: number;

    constructor(message: string, status?: number) {
        super(message);
        this.name = "HostHttpError";
        this.status = status;
    }
}

/** The part of an SSH session the channel uses (tests give it a local stand-in). */
export type SshRunner = Pick<SshSession, "run" | "close">;

export class HostHttp {
    private readonly ssh: SshRunner;
    private readonly ownsSession: boolean;
    private readonly byAddress = new Map<string, LabHost>();
    private readonly byName = new Map<string, LabHost>();
    private inFlight = 0;
    private readonly waiting: (() => void)[] = [];

    /** A channel over its own SSH session (closed by close()). */
    static open(lab: LabAccess, env: NodeJS.ProcessEnv = labEnv()): HostHttp {
        const ssh = new SshSession(
            lab.sshPrivateKey,
            env,
            lab.inventory.map((h) => h.ssh),
        );
        return new HostHttp(ssh, lab.inventory, true);
    }

    /** Over an SSH session of the caller's (left open by close()). */
    constructor(ssh: SshRunner, inventory: LabHost[], ownsSession = false) {
        this.ssh = ssh;
        this.ownsSession = ownsSession;
        for (const h of inventory) {
            this.byName.set(h.name, h);
            for (const a of [h.address, ...(h.sourceAddresses ?? [])]) this.byAddress.set(a, h);
        }
    }

    /** The host serving `url`: the one whose address it names. Nothing outside the lab is ever reached. */
    hostFor(url: string): LabHost {
        const hostname = new URL(url).hostname;
        const host = this.byAddress.get(hostname);
        if (!host) throw new HostHttpError(`refusing to query ${url}: ${hostname} is not an address of this lab's hosts`);
        return host;
    }

    private origin(url: string, from?: string): LabHost {
        const served = this.hostFor(url);
        if (from === undefined) return served;
        const host = this.byName.get(from);
        if (!host) throw new HostHttpError(`no host ${from} in this lab`);
        return host;
    }

    /** Runs `fn` once fewer than MAX_IN_FLIGHT exchanges are under way. */
    private async limited<T>(fn: () => Promise<T>): Promise<T> {
        // A finished exchange hands its slot straight to the next waiting one.
        if (this.inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => this.waiting.push(resolve));
        else this.inFlight++;
        try {
            return await fn();
        } finally {
            const next = this.waiting.shift();
            if (next) next();
            else this.inFlight--;
        }
    }

    private failure(what: string, host: LabHost, r: SshResult, timeoutMs: number): HostHttpError {
        const stderr = r.stderr.trim().split("\n").slice(-3).join(" | ");
        if (r.timedOut) return new HostHttpError(`${what} via ${host.name}: no answer over SSH within ${((timeoutMs + SSH_MARGIN_MS) / 1000).toFixed(0)} s`);
        if (r.code === 255) return new HostHttpError(`${what}: SSH to ${host.name} (${host.ssh.host}) failed: ${stderr}`);
        const meaning = CURL_EXITS[r.code] ?? `curl exited ${r.code}`;
        return new HostHttpError(`${what} via ${host.name}: ${meaning}${stderr ? ` (${stderr})` : ""}`);
    }

    /** One HTTP exchange, run on the lab host; any HTTP status is returned, transport failures throw. */
    async request(url: string, o: HostRequestOptions = {}): Promise<HostResponse> {
        const host = this.origin(url, o.from);
        const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
        const what = `${o.method ?? "GET"} ${url}`;
        const r = await this.limited(() =>
            this.ssh.run(host.ssh, curlCommand(url, { method: o.method, body: o.body, timeoutMs }), { timeoutMs: timeoutMs + SSH_MARGIN_MS }),
        );
        if (r.code !== 0) throw this.failure(what, host, r, timeoutMs);
        return { ...splitStatus(r.stdout), host: host.name };
    }

    /** The body of a 2xx answer; anything else throws, naming the URL, the host and the status. */
    async get(url: string, o: Omit<HostRequestOptions, "method" | "body"> = {}): Promise<string> {
        const r = await this.request(url, o);
        if (r.status < 200 || r.status > 299) {
            throw new HostHttpError(`GET ${url} via ${r.host}: HTTP ${r.status}: ${r.body.trim().slice(0, 200)}`, r.status);
        }
        return r.body;
    }

    /** Streams a (large) 2xx body into `file`, never holding it in memory. */
    async getToFile(url: string, file: string, o: Omit<HostRequestOptions, "method" | "body"> = {}): Promise<void> {
        const host = this.origin(url, o.from);
        const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
        const r = await this.limited(() =>
            this.ssh.run(host.ssh, curlCommand(url, { timeoutMs, failOnStatus: true }), { stdoutFile: file, timeoutMs: timeoutMs + SSH_MARGIN_MS }),
        );
        if (r.code !== 0) throw this.failure(`GET ${url}`, host, r, timeoutMs);
    }

    close(): void {
        if (this.ownsSession) this.ssh.close();
    }
}
