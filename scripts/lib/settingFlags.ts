// The attack settings as command-line flags and as one line of text, both read off the config's
// schema (components/config.ts AttackSettingsSchema): a setting added there gets its flag on
// `lab attack`, `lab sweep` and `lab tipping` (unless its schema meta says why not: `noFlag`), its
// help (the schema's description), its parsing and checks (the schema's own), and its place in the
// progress line and the run's report, with no code here. Pure.
import { z } from "zod";
import { type AttackSettings, AttackSettingsSchema } from "../../components/config.ts";

export type SettingKey = keyof AttackSettings;

/** A unit at the end of a setting's name: dropped from its flag, shown after its value. */
const UNITS = [
    { suffix: "Ms", unit: "ms" },
    { suffix: "S", unit: "s" },
] as const;

const unitOf = (key: string) => UNITS.find((u) => key.endsWith(u.suffix) && key.length > u.suffix.length);

/** A setting's flag: its name without the unit, in kebab case (holdMs → --hold, durationS → --duration). */
export function flagOf(key: string): string {
    const u = unitOf(key);
    const bare = u ? key.slice(0, -u.suffix.length) : key;
    return `--${bare.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export interface SettingFlag {
    key: SettingKey;
    /** "--sleep" */
    flag: string;
    /** Commander's flag spec: "--sleep <ms>". */
    spec: string;
    /** The schema's description of the setting. */
    help: string;
    /** The flag's text to the setting's value, or a message naming the flag and what it takes. */
    parse: (text: string) => { value: unknown } | { error: string };
}

type Field = z.ZodType & { description?: string };
const inner = (f: Field): Field => (f instanceof z.ZodOptional ? (f.unwrap() as Field) : f);

/** What a number setting takes, in words, from its checks: "a whole number ≥ 0", "a positive number". */
function numberWords(f: z.ZodNumber): string {
    let positive = false;
    const bounds: string[] = [];
    for (const check of f._zod.def.checks ?? []) {
        const d = check._zod.def as { check: string; value?: number; inclusive?: boolean };
        if (d.check === "greater_than" && d.value === 0 && !d.inclusive) positive = true;
        else if (d.check === "greater_than") bounds.push(`${d.inclusive ? "≥" : ">"} ${d.value}`);
        else if (d.check === "less_than") bounds.push(`${d.inclusive ? "≤" : "<"} ${d.value}`);
    }
    return `a ${positive ? "positive " : ""}${f.isInt ? "whole number" : "number"}${bounds.length ? ` ${bounds.join(" and ")}` : ""}`;
}

function flagFor(key: SettingKey): SettingFlag {
    const field = AttackSettingsSchema.shape[key] as Field;
    const type = inner(field);
    const flag = flagOf(key);
    const help = field.description ?? type.description;
    if (!help) throw new Error(`attack setting ${key} has no description in components/config.ts (it is its flag's help)`);
    const checked = (text: string, value: unknown, words: string) => {
        const r = type.safeParse(value);
        return r.success ? { value: r.data } : { error: `${flag} must be ${words}, got "${text}"` };
    };
    if (type instanceof z.ZodNumber) {
        const words = numberWords(type);
        return {
            key,
            flag,
            spec: `${flag} <${unitOf(key)?.unit ?? "n"}>`,
            help,
            parse: (text) => checked(text, text.trim() === "" ? Number.NaN : Number(text), words),
        };
    }
    if (type instanceof z.ZodArray && type.element instanceof z.ZodEnum) {
        const options = type.element.options as string[];
        return {
            key,
            flag,
            spec: `${flag} <list>`,
            help,
            parse: (text) => checked(text, text === "" ? [] : text.split(",").map((v) => v.trim()), `a comma list of ${options.join(", ")}`),
        };
    }
    throw new Error(`attack setting ${key}: no flag for its type (scripts/lib/settingFlags.ts takes numbers and lists of names)`);
}

const KEYS = Object.keys(AttackSettingsSchema.shape) as SettingKey[];

/** Why a setting has no flag (its schema meta `noFlag`), or undefined when it has one. */
export function noFlagReason(key: SettingKey): string | undefined {
    return (AttackSettingsSchema.shape[key].meta() as { noFlag?: string } | undefined)?.noFlag;
}

/** Every attack setting's flag, in the schema's order (but those that say why they have none). */
export const SETTING_FLAGS: readonly SettingFlag[] = KEYS.filter((k) => noFlagReason(k) === undefined).map(flagFor);

/** A setting's value as the progress line and the report show it: "20 ms", "plain+tls", "200/s per client". */
export function formatSetting(key: SettingKey, value: unknown): string {
    const meta = AttackSettingsSchema.shape[key].meta() as { unit?: string } | undefined;
    const unit = meta?.unit ?? (unitOf(key) ? ` ${unitOf(key)?.unit}` : "");
    return `${Array.isArray(value) ? value.join("+") : value}${unit}`;
}

/** The settings given, one line in the schema's order, each under its flag's name: "rate 200/s per client, duration 5 s, sleep 20 ms, …". */
export function describeSettings(s: Partial<AttackSettings>): string {
    return KEYS.filter((k) => s[k] !== undefined)
        .map((k) => `${flagOf(k).slice(2)} ${formatSetting(k, s[k])}`)
        .join(", ");
}
