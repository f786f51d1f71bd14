// bench/scale's attacks: the first and its top-ups, paused, resumed and ended by signal, and what
// each planned, sent and returned.
import { runsRoot } from "../scripts/toolchain/toolchain.ts";
import { attack, type VegetaSignal } from "../scripts/lib/attackRun.ts";
import type { AttackResult } from "../scripts/lib/attackOutcome.ts";
import type { AttackAccount } from "./figures.ts";
import { sendingsToStop, type Sending } from "./ramp.ts";

/**
 * The attacks of one run: the first and its top-ups. An attack is paused (SIGSTOP: it sends no
 * more, its connections stay open; vegeta's own SIGINT would cancel them all) when the ramp backs
 * off or memory runs low, resumed once the hold is over and its duration has passed (so it sends
 * nothing more), and ended (SIGINT) when it has not returned long after the release.
 */
export class Attacks {
    readonly sendings: Sending[] = [];
    readonly results: (AttackResult | undefined)[] = [];
    private readonly vegeta: {
        signal?: (name: VegetaSignal) => Promise<void>;
        paused: boolean;
        plannedEndT: number;
        /** Requests it was launched to send (total rate × duration). */
        planned: number;
        /** When the bench paused it before its duration was over, s. */
        pausedAt?: number;
        /** The bench ended it (SIGINT) before it returned: its results miss what it still waited for. */
        ended: boolean;
        /** When it returned, s (undefined while running). */
        returnedAt?: number;
    }[] = [];
    private readonly running = new Set<Promise<void>>();
    private readonly stack: string;
    private readonly t0: number;

    constructor(stack: string, t0: number) {
        this.stack = stack;
        this.t0 = t0;
    }

    get over(): boolean {
        return this.running.size === 0;
    }
    get count(): number {
        return this.running.size;
    }
    private now(): number {
        return (Date.now() - this.t0) / 1000;
    }

    launch(overrides: { rate?: number; durationS?: number }, total: { rate: number; durationS: number }): void {
        const i = this.results.push(undefined) - 1;
        const startT = this.now();
        this.sendings.push({ startT, ...total });
        const v: (typeof this.vegeta)[number] = {
            paused: false,
            plannedEndT: startT + total.durationS,
            planned: Math.round(total.rate * total.durationS),
            ended: false,
        };
        this.vegeta.push(v);
        // The bench prints its own progress: the attack's would cost an SSH login per HAProxy process every 5 s.
        const p: Promise<void> = attack(this.stack, overrides, runsRoot(), {
            progress: false,
            onVegeta: (signal) => {
                v.signal = signal;
            },
        })
            .then(
                (r) => {
                    this.results[i] = r;
                },
                (err: Error) => {
                    process.stderr.write(`attack ${i + 1} failed: ${err.message}\n`);
                },
            )
            .finally(() => {
                v.returnedAt = this.now();
                this.running.delete(p);
            });
        this.running.add(p);
    }

    private async send(i: number, name: VegetaSignal): Promise<void> {
        const v = this.vegeta[i];
        if (!v.signal) return;
        await v.signal(name).catch((err: Error) => process.stderr.write(`signalling vegeta (${name}) failed: ${err.message}\n`));
    }

    /** Pauses attack i's vegeta now: its sending ends at `t` for the ramp's decisions and for its plan (accounts). */
    private async pause(i: number, t: number): Promise<void> {
        const x = this.sendings[i];
        if (t < x.startT + x.durationS) {
            x.durationS = Math.max(0, t - x.startT);
            this.vegeta[i].pausedAt = t;
        }
        this.vegeta[i].paused = true;
        await this.send(i, "STOP");
    }

    /** Pauses the last attack's sending now. */
    pauseLast(t: number): Promise<void> {
        return this.pause(this.sendings.length - 1, t);
    }

    /** Pauses every attack still sending when the target is reached (sendingsToStop): the indices paused. */
    async stopAtTarget(t: number): Promise<number[]> {
        const still = sendingsToStop(this.sendings, t, (i) => this.vegeta[i].paused);
        await Promise.all(still.map((i) => this.pause(i, t)));
        return still;
    }

    /** Pauses every attack still sending. */
    async pauseAll(t: number): Promise<void> {
        await Promise.all(this.vegeta.map((v, i) => (v.paused || t >= v.plannedEndT ? undefined : this.pause(i, t))));
    }

    /**
     * Resumes the paused attacks once their planned duration is over (before, vegeta would catch up
     * on what it did not send); at once when `now` (interrupted: they are ended next).
     */
    async resumeAll(now = false): Promise<void> {
        const paused = this.vegeta.map((v, i) => ({ v, i })).filter(({ v }) => v.paused);
        const lastEnd = Math.max(0, ...paused.map(({ v }) => v.plannedEndT));
        if (!now && paused.length && this.now() < lastEnd + 1) {
            process.stderr.write(`scale: waiting ${Math.ceil(lastEnd + 1 - this.now())} s for the paused attacks' durations to pass before resuming them\n`);
            await new Promise((r) => setTimeout(r, (lastEnd + 1 - this.now()) * 1000));
        }
        await Promise.all(
            paused.map(async ({ v, i }) => {
                await this.send(i, "CONT");
                v.paused = false;
            }),
        );
    }

    /**
     * Ends every attack still running (SIGINT). On the local platform every client host's signal
     * reaches every vegeta of the run (one PID namespace), and vegeta's second SIGINT makes it exit
     * at once: the requests it still waited for get no result, and count as errors (countErrors).
     */
    endAll(): Promise<void> {
        return Promise.all(
            this.vegeta.map((v, i) => {
                if (v.returnedAt !== undefined) return undefined;
                v.ended = true;
                return this.send(i, "INT");
            }),
        ).then(() => undefined);
    }

    /** Resolves when every attack has returned, or after `ms`. */
    async settle(ms: number): Promise<void> {
        const all = (async () => {
            while (this.running.size) await Promise.all([...this.running]);
        })();
        await Promise.race([all, new Promise((r) => setTimeout(r, ms).unref())]);
    }

    /** Each attack's plan, pause and results for the error count (bench/figures.ts countErrors). */
    accounts(): AttackAccount[] {
        return this.vegeta.map((v, i) => {
            const r = this.results[i];
            const x = this.sendings[i];
            return {
                planned: v.planned,
                ...(v.pausedAt === undefined ? {} : { sentByPauseAtMost: Math.min(v.planned, Math.ceil(x.rate * Math.max(0, v.pausedAt - x.startT))) }),
                ...(r?.summary ? { summary: { requests: r.summary.requests, success: r.summary.success } } : {}),
                failedProcesses: r ? r.failedProcesses.length : 0,
                complete: r !== undefined && !v.ended,
            };
        });
    }

    /** Each attack for the JSON: when it was paused and returned, s since the attack started. */
    timeline(): { paused_at_s: number | null; returned_s: number | null; ended_by_bench: boolean }[] {
        const s1 = (n: number | undefined) => (n === undefined ? null : Math.round(n * 10) / 10);
        return this.vegeta.map((v) => ({ paused_at_s: s1(v.pausedAt), returned_s: s1(v.returnedAt), ended_by_bench: v.ended }));
    }
}
