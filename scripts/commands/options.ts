// What the `lab` commands share: flag parsers that reject bad values with the flag's name, the
// --stack option, the load flags of `lab attack`, `lab sweep` and `lab tipping`, and a timer for long steps.
import { type Command, InvalidArgumentError, Option } from "commander";
import type { AttackSettings } from "../../components/config.ts";
import { SETTING_FLAGS, type SettingKey } from "../lib/settingFlags.ts";

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

export async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const result = await fn();
    process.stderr.write(`${what} took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return result;
}

export const stackOption = () => new Option("-s, --stack <name>", "Pulumi stack").default("local");

/**
 * The load flags: one per attack setting, read off the config's schema (scripts/lib/settingFlags.ts),
 * its help the schema's description after `whose` ("every cell's "). `lab attack` and `lab sweep`
 * take them all; `lab tipping` all but those in `omit`, with its own defaults.
 */
export function withLoadOptions(
    command: Command,
    whose: string,
    o: { omit?: readonly SettingKey[]; defaults?: Partial<Record<SettingKey, unknown>> } = {},
): Command {
    for (const f of SETTING_FLAGS) {
        if (o.omit?.includes(f.key)) continue;
        const option = new Option(f.spec, `${whose}${f.help}`).argParser((text: string) => {
            const r = f.parse(text);
            if ("error" in r) throw new InvalidArgumentError(r.error);
            return r.value;
        });
        const fallback = o.defaults?.[f.key];
        command.addOption(fallback === undefined ? option : option.default(fallback));
    }
    return command;
}

/** The load flags' values under their attack-settings names, the ones given only. */
export function loadFlags(o: Record<string, unknown>): Partial<AttackSettings> {
    const given: Record<string, unknown> = {};
    for (const f of SETTING_FLAGS) {
        const value = o[new Option(f.spec).attributeName()];
        if (value !== undefined) given[f.key] = value;
    }
    return given as Partial<AttackSettings>;
}
