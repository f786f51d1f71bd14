// A Pulumi resource provider that serves the `command` package's Command resources
// (command:local:Command, command:remote:Command) for the @pulumi/command SDK.
//
// Why it exists: the upstream provider is a Go module the module proxy here does not
// serve (and its npm install script downloads a binary, which cannot work offline), so
// the rig ships this implementation of the subset it uses. `lab bootstrap` prefers a real
// `pulumi-resource-command` found on PATH. Remote commands go through the system OpenSSH
// client by way of scripts/lib/remote.ts, the operator's own way to the hosts.
//
// Supported inputs: create, update, delete, environment, stdin, triggers, dir, logging,
// connection {host, port, user, privateKey, hostKey, dialErrorLimit, perDialTimeout}.
import * as provider from "@pulumi/pulumi/provider/index.js";
import { spawn } from "node:child_process";
import { quote, Remote } from "../lib/remote.ts";
import { randomUUID } from "node:crypto";

const VERSION = "1.2.1";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

type Props = Record<string, unknown>;

/** Strips the engine's secret wrappers so values can be used. */
export function reveal(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(reveal);
    if (value && typeof value === "object") {
        const obj = value as Props;
        if (obj[SECRET_SIG] === SECRET_VALUE) return reveal(obj.value);
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, reveal(v)]));
    }
    return value;
}

/** A remote Command's connection (the `command` package's ConnectionArgs, as this provider serves them). */
interface Connection {
    host: string;
    port?: number;
    user?: string;
    privateKey?: string;
    /** The host's expected SSH host key (OpenSSH public key line): ssh accepts that key only, as the upstream provider does. */
    hostKey?: string;
    /** Attempts at reaching the host (a host still booting answers late); the package's default is 10. */
    dialErrorLimit?: number;
    /** ssh's ConnectTimeout, in seconds (default 15). */
    perDialTimeout?: number;
}

interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

function run(file: string, args: string[], stdin: string | undefined, env: NodeJS.ProcessEnv, cwd?: string): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
            stdout += d;
        });
        child.stderr.on("data", (d) => {
            stderr += d;
        });
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
        child.stdin.on("error", () => {
            /* the command may exit without reading stdin */
        });
        child.stdin.end(stdin ?? "");
    });
}

/** Exports in front of a remote command, read by the connection user's shell (root's: bash, zx's quoting). */
function envPrefix(environment: Record<string, string> | undefined): string {
    return Object.entries(environment ?? {})
        .map(([k, v]) => `export ${k}=${quote(String(v))}\n`)
        .join("");
}

/** 255 is ssh's own failure; with these words it could not reach the host (the command never ran). */
const unreachable = (r: RunResult) => r.code === 255 && /connect|Connection|timed out|refused|reset|No route/i.test(r.stderr);

/** Dial attempts of a delete: the host was up when the command was created; one that stopped answering is gone. */
const DELETE_DIAL_ATTEMPTS = 3;

/**
 * A remote command's time limit. The `command` package sets none; this one only ends an SSH
 * call that hangs (a host's longest step, an EC2 host's first boot, takes minutes).
 */
const REMOTE_COMMAND_TIMEOUT_MS = 2 * 60 * 60_000;

/**
 * Runs a command over SSH (remote.ts: the key and known host in a 0600 directory of the call's
 * own, gone at close or at exit). Only reaching the host is retried, `dialErrorLimit` times:
 * the command itself runs once.
 */
async function runRemote(
    conn: Connection,
    script: string,
    stdin: string | undefined,
    environment: Record<string, string> | undefined,
    maxAttempts = Infinity,
): Promise<RunResult> {
    const port = conn.port ?? 22;
    const remote = new Remote({
        privateKey: conn.privateKey ?? "",
        hosts: [{ host: conn.host, port, hostKey: conn.hostKey }],
        connectTimeoutS: conn.perDialTimeout ?? 15,
        connectAttempts: Math.min(conn.dialErrorLimit ?? 10, maxAttempts),
    });
    try {
        const r = await remote.run({ host: conn.host, port, user: conn.user ?? "root" }, envPrefix(environment) + script, {
            timeoutMs: REMOTE_COMMAND_TIMEOUT_MS,
            ...(stdin ? { input: stdin } : {}),
        });
        return r.timedOut ? { ...r, stderr: `${r.stderr}\nno end within ${REMOTE_COMMAND_TIMEOUT_MS / 60_000} min: killed` } : r;
    } finally {
        await remote.close();
    }
}

async function execute(urn: string, inputs: Props, script: string | undefined, maxAttempts?: number): Promise<RunResult> {
    if (script === undefined || script === "") return { code: 0, stdout: "", stderr: "" };
    const plain = reveal(inputs) as Props;
    const environment = plain.environment as Record<string, string> | undefined;
    const stdin = plain.stdin as string | undefined;
    if (urn.includes("command:remote:Command")) {
        return runRemote(plain.connection as Connection, script, stdin, environment, maxAttempts);
    }
    return run("/bin/sh", ["-c", script], stdin, { ...process.env, ...environment }, plain.dir as string | undefined);
}

function failure(what: string, result: RunResult): Error {
    const tail = (s: string) => s.trim().split("\n").slice(-20).join("\n");
    return new Error(`${what} exited with code ${result.code}\nstdout: ${tail(result.stdout)}\nstderr: ${tail(result.stderr)}`);
}

async function runOrFail(what: string, urn: string, inputs: Props, script: string | undefined): Promise<Props> {
    const result = await execute(urn, inputs, script);
    if (result.code !== 0) throw failure(what, result);
    return { ...inputs, stdout: result.stdout.replace(/\n$/, ""), stderr: result.stderr.replace(/\n$/, "") };
}

const UPDATE_KEYS = ["create", "update", "delete", "environment", "stdin", "connection", "dir", "logging"];

export const commandProvider: provider.Provider = {
    version: VERSION,
    async check(_urn, _olds, news) {
        return { inputs: news };
    },
    async diff(_id, _urn, olds: Props, news: Props) {
        const same = (k: string) => JSON.stringify(olds[k] ?? null) === JSON.stringify(news[k] ?? null);
        const replaces = same("triggers") ? [] : ["triggers"];
        const changed = UPDATE_KEYS.filter((k) => !same(k));
        return { changes: replaces.length + changed.length > 0, replaces };
    },
    async create(urn, inputs: Props) {
        const outs = await runOrFail("create", urn, inputs, reveal(inputs.create) as string);
        return { id: randomUUID(), outs };
    },
    async update(_id, urn, _olds, news: Props) {
        const script = (reveal(news.update) ?? reveal(news.create)) as string;
        return { outs: await runOrFail("update", urn, news, script) };
    },
    async delete(_id, urn, props: Props) {
        const remote = urn.includes("command:remote:Command");
        const result = await execute(urn, props, reveal(props.delete) as string | undefined, remote ? DELETE_DIAL_ATTEMPTS : undefined);
        // A lost host (sshd dead, network cut, namespace or instance gone) took what ran on it along, and its own
        // teardown follows in the same destroy: failing here would leave a lab that can never be destroyed.
        if (remote && unreachable(result)) return;
        if (result.code !== 0) throw failure("delete", result);
    },
    async read(id, _urn, props) {
        return { id, props };
    },
};

// The engine that started this provider stops it. If the engine itself was killed (pulumi got
// SIGKILL), exit instead of lingering as an orphan.
const engine = process.ppid;
setInterval(() => {
    if (process.ppid !== engine) process.exit(0);
}, 2000).unref();

provider.main(commandProvider, process.argv.slice(2));
