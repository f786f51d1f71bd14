// Live progress of a bootstrap step: what it is doing (phase, a count such as Go's packages,
// the last item), how long it has run, and how long it typically takes on this machine kind.
// On a terminal the line is redrawn in place; elsewhere (CI logs, pipes) one line is printed
// when a long phase starts and then one every ~15 s, so a log shows that it is alive and where.
//
// Kept minimal on purpose rather than using ora or listr2: neither prints a periodic line when
// the output is not a terminal (ora prints nothing until the end, listr2's fallback renderers
// print only on state changes), and the counting (Go's `-v` output, apt's) is ours either way.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** What a step is doing right now. */
export interface Activity {
    /** e.g. "compiling packages", "downloading modules", "apt-get install". */
    phase: string;
    done?: number;
    total?: number;
    /** the item last seen (a package, a module), shown at the end of the line. */
    last?: string;
}

/** A step's typical duration on this machine kind, e.g. { seconds: 240, when: "cold, 2 cores" }. */
export interface Typical {
    seconds: number;
    when: string;
}

export interface ProgressSink {
    write(text: string): void;
    isTTY: boolean;
    columns?: number;
}

export interface LiveStepOptions {
    sink?: ProgressSink;
    now?: () => number;
    /** Non-TTY: a line at least this often while a step runs. */
    heartbeatMs?: number;
    /** TTY: redraw this often. 0 = no timer (tests call tick()). */
    redrawMs?: number;
}

export const HEARTBEAT_MS = 15_000;

/** 7 → "0:07", 725 → "12:05". */
export function clock(ms: number): string {
    const s = Math.max(0, Math.floor(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** 45 → "~45 s", 150 → "~2.5 min", 660 → "~11 min". */
export function roughDuration(seconds: number): string {
    if (seconds < 90) return `~${Math.round(seconds)} s`;
    const min = seconds / 60;
    return `~${min < 10 ? (Math.round(min * 2) / 2).toString() : Math.round(min).toString()} min`;
}

export function describeActivity(a: Activity | undefined): string {
    if (!a) return "";
    const count = a.done === undefined ? "" : a.total ? ` ${a.done}/${a.total}` : ` ${a.done}`;
    return `${a.phase}${count}${a.last ? ` (${a.last})` : ""}`;
}

/** "[4/11] pulumi CLI v3.274.1 · 2:31 · compiling packages 412/1733 (github.com/…) · typically ~4 min cold, 2 cores" */
export function progressLine(label: string, elapsedMs: number, activity: Activity | undefined, typical: Typical | undefined): string {
    const parts = [label, clock(elapsedMs)];
    const doing = describeActivity(activity);
    if (doing) parts.push(doing);
    if (typical) parts.push(`typically ${roughDuration(typical.seconds)} ${typical.when}`);
    return parts.join(" · ");
}

/** Cuts a line to the terminal's width (the last item is the part that goes). */
export function fit(line: string, columns: number | undefined): string {
    if (!columns || line.length < columns) return line;
    return `${line.slice(0, Math.max(0, columns - 2))}…`;
}

const stderrSink = (): ProgressSink => ({
    write: (t) => {
        process.stderr.write(t);
    },
    isTTY: Boolean(process.stderr.isTTY),
    get columns() {
        return process.stderr.columns;
    },
});

/**
 * One running step. `update()` as it goes, then `finish(detail)` (or `fail()`): a TTY shows a
 * redrawn line; otherwise nothing for a quick step, and for a long one a line when a phase is
 * announced (`begin`) and every heartbeat, then the final line.
 */
export class LiveStep {
    readonly label: string;
    private readonly typical?: Typical;
    private readonly sink: ProgressSink;
    private readonly now: () => number;
    private readonly heartbeatMs: number;
    private readonly started: number;
    private lastPrinted: number;
    private activity?: Activity;
    private timer?: NodeJS.Timeout;

    constructor(label: string, typical: Typical | undefined, options: LiveStepOptions = {}) {
        this.label = label;
        this.typical = typical;
        this.sink = options.sink ?? stderrSink();
        this.now = options.now ?? Date.now;
        this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
        this.started = this.now();
        this.lastPrinted = this.started;
        const redrawMs = options.redrawMs ?? (this.sink.isTTY ? 500 : 1000);
        if (redrawMs > 0) {
            this.timer = setInterval(() => this.tick(), redrawMs);
            this.timer.unref();
        }
        if (this.sink.isTTY) this.draw();
    }

    get elapsedMs(): number {
        return this.now() - this.started;
    }

    line(): string {
        return progressLine(this.label, this.elapsedMs, this.activity, this.typical);
    }

    /** A new phase of real work (a build, a download): announced at once, also in a log. */
    begin(phase: string, extra: Omit<Activity, "phase"> = {}): void {
        this.activity = { phase, ...extra };
        if (this.sink.isTTY) this.draw();
        else this.print();
    }

    update(change: Partial<Activity>): void {
        this.activity = { phase: "", ...this.activity, ...change };
    }

    /** Called by the timer; tests call it with a fake clock. */
    tick(): void {
        if (this.sink.isTTY) this.draw();
        else if (this.now() - this.lastPrinted >= this.heartbeatMs) this.print();
    }

    finish(detail: string): void {
        this.stop();
        this.sink.write(`${this.sink.isTTY ? "\r\x1b[K" : ""}${this.label} … ${detail} (${(this.elapsedMs / 1000).toFixed(1)} s)\n`);
    }

    /** Ends the live line (the caller reports the error). */
    fail(): void {
        this.stop();
        this.sink.write(this.sink.isTTY ? `\r\x1b[K${this.line()} · FAILED\n` : `${this.line()} · FAILED\n`);
    }

    private stop(): void {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
    }

    private draw(): void {
        this.sink.write(`\r\x1b[K${fit(this.line(), this.sink.columns)}`);
    }

    private print(): void {
        this.lastPrinted = this.now();
        this.sink.write(`${this.line()}\n`);
    }
}

export interface RunLinesOptions {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    /** Each line of stdout and stderr, as it arrives. */
    onLine?: (line: string) => void;
}

/** Runs a command, hands over each output line; throws with the last lines on failure. Returns stdout's lines. */
export function runLines(file: string, args: string[], options: RunLinesOptions = {}): Promise<string[]> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
        const stdout: string[] = [];
        const tail: string[] = [];
        const keep = (line: string) => {
            tail.push(line);
            if (tail.length > 40) tail.shift();
            options.onLine?.(line);
        };
        const out = createInterface({ input: child.stdout });
        const err = createInterface({ input: child.stderr });
        out.on("line", (l) => {
            stdout.push(l);
            keep(l);
        });
        err.on("line", keep);
        const closed = Promise.all([new Promise((r) => out.once("close", r)), new Promise((r) => err.once("close", r))]);
        child.on("error", reject);
        child.on("close", (code, signal) => {
            void closed.then(() => {
                if (code === 0) resolve(stdout);
                else reject(new Error(`${file} ${args.join(" ")} exited ${code ?? signal}:\n${tail.join("\n")}`));
            });
        });
    });
}

/** A Go import path as `go build -v` prints one per package it compiles. */
const IMPORT_PATH = /^[A-Za-z0-9_.~-]+(\/[A-Za-z0-9_.~+-]+)*$/;

/** Reads `go get` / `go build -v` output lines: modules downloaded, packages compiled. */
export function goLine(line: string): { downloaded?: string; compiled?: string } {
    const dl = /^go: downloading (\S+) (\S+)$/.exec(line);
    if (dl) return { downloaded: `${dl[1]}@${dl[2]}` };
    if (IMPORT_PATH.test(line) && !line.startsWith("go:")) return { compiled: line };
    return {};
}

/** Reads apt-get output lines: an index or package fetched, a package unpacked or set up. */
export function aptLine(line: string): { fetched?: string; unpacking?: string; settingUp?: string; toInstall?: number } {
    const get = /^(?:Get|Hit|Ign):\d+ \S+ (.*?)(?: \[[^\]]*\])?$/.exec(line);
    if (get) return { fetched: get[1] };
    const unpack = /^Unpacking (\S+)/.exec(line);
    if (unpack) return { unpacking: unpack[1] };
    const setup = /^Setting up (\S+)/.exec(line);
    if (setup) return { settingUp: setup[1] };
    const count = /^(\d+) upgraded, (\d+) newly installed/.exec(line);
    if (count) return { toInstall: Number(count[1]) + Number(count[2]) };
    return {};
}
