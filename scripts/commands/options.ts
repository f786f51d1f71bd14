// What the `lab` commands share: flag parsers that reject bad values with the flag's name, the
// --stack option, the load flags of `lab attack` and `lab sweep`, and a timer for long steps.
import { type Command, InvalidArgumentError, Option } from "commander";

export const positiveNumber = (flag: string) => (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number, got "${v}"`);
    return n;
};
export const nonNegativeInt = (flag: string) => (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 0, got "${v}"`);
    return n;
};
export const percent = (flag: string) => (v: string) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < 0 || n >= 100) throw new InvalidArgumentError(`${flag} must be a percentage in [0, 100), got "${v}"`);
    return n;
};
const frontendList = (v: string) => {
    const list = v.split(",").map((f) => f.trim());
    if (list.some((f) => f !== "plain" && f !== "tls")) throw new InvalidArgumentError(`--frontends takes plain, tls or plain,tls, got "${v}"`);
    return list as ("plain" | "tls")[];
};

export async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const result = await fn();
    process.stderr.write(`${what} took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return result;
}

export const stackOption = () => new Option("-s, --stack <name>", "Pulumi stack").default("local");

/** The load flags `lab attack` and `lab sweep` share (sweep applies them to every cell). */
export function withLoadOptions(command: Command, whose: string): Command {
    for (const option of [
        new Option("--rate <n>", `${whose}requests/s per client host`).argParser(positiveNumber("--rate")),
        new Option("--duration <s>", `${whose}seconds of load`).argParser(positiveNumber("--duration")),
        new Option("--timeout <s>", `${whose}per-request timeout, seconds`).argParser(positiveNumber("--timeout")),
        new Option("--sleep <ms>", `${whose}pong \`sleep\` header`).argParser(nonNegativeInt("--sleep")),
        new Option("--times <n>", `${whose}pong \`times\` header`).argParser(nonNegativeInt("--times")),
        new Option("--frontends <list>", `${whose}frontends: plain,tls`).argParser(frontendList),
    ])
        command.addOption(option);
    return command;
}

/** The load flags' values under their attack-settings names, the ones given only. */
export function loadFlags(o: { rate?: number; duration?: number; timeout?: number; sleep?: number; times?: number; frontends?: ("plain" | "tls")[] }) {
    return {
        rate: o.rate,
        durationS: o.duration,
        timeoutS: o.timeout,
        sleepMs: o.sleep,
        times: o.times,
        frontends: o.frontends,
    };
}
