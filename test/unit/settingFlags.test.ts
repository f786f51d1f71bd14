// An attack setting is added in the schema (components/config.ts AttackSettingsSchema, its
// description the flag's help), rendered in components/render/attack.ts, and nowhere else: every
// other place reads it off the schema. These checks fail when a new setting misses one of them.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { AttackSettingsSchema, type AttackSettings } from "../../components/config.ts";
import { PRESET_SETTINGS, planVegetaProcesses, vegetaCommandLine } from "../../components/render/attack.ts";
import { RunRecordSchema } from "../../components/records/runRecord.ts";
import { stepLoadOf, TippingStepLoadSchema, type TippingArgs } from "../../components/records/tippingRecord.ts";
import { TIPPING_DEFAULTS } from "../../scripts/analysis/tippingSearch.ts";
import { addAttackCommand } from "../../scripts/commands/attack.ts";
import { loadFlags } from "../../scripts/commands/options.ts";
import { addSweepCommand } from "../../scripts/commands/sweep.ts";
import { addTippingCommand } from "../../scripts/commands/tipping.ts";
import { describeSettings, flagOf, noFlagReason, SETTING_FLAGS, type SettingKey } from "../../scripts/lib/settingFlags.ts";

const KEYS = Object.keys(AttackSettingsSchema.shape) as SettingKey[];
/** The settings that are flags: all but those whose schema meta says why not. */
const FLAGGED = KEYS.filter((k) => noFlagReason(k) === undefined);
/** Every setting given, none at a preset's value: the seed's command with each number moved. */
const FULL: AttackSettings = {
    ...PRESET_SETTINGS.seed,
    rate: 1234,
    durationS: 7,
    timeoutS: 9,
    sleepMs: 11,
    times: 3,
    holdMs: 13,
    bodyBytes: 17,
    workers: 19,
    cpus: 5,
    connections: 23,
    frontends: ["tls", "plain"],
};
const asText = (v: unknown) => (Array.isArray(v) ? v.join(",") : String(v));

/** A `lab <name>` command as the CLI builds it, its options parsed from argv (its action not run). */
function parsed(add: (lab: Command) => void, name: string, argv: string[]): Record<string, unknown> {
    const lab = new Command("lab");
    add(lab);
    const command = lab.commands.find((c) => c.name() === name)!;
    command.exitOverride();
    command.parseOptions(argv);
    return command.opts();
}

describe("attack settings: one schema, everything else read off it", () => {
    test("the full example gives every setting (extend FULL with a new one)", () => {
        assert.deepEqual(Object.keys(FULL).sort(), [...KEYS].sort());
        assert.deepEqual(AttackSettingsSchema.parse(FULL), FULL);
    });

    test("every setting has one flag of its own, with the schema's description as help, or says why it has none", () => {
        assert.deepEqual(
            SETTING_FLAGS.map((f) => f.key),
            FLAGGED,
        );
        for (const k of KEYS) assert.ok(FLAGGED.includes(k) || (noFlagReason(k) ?? "").length > 10, `${k}: neither a flag nor a reason`);
        assert.deepEqual(
            KEYS.filter((k) => !FLAGGED.includes(k)),
            ["bodyBytes"],
        );
        for (const f of SETTING_FLAGS) {
            assert.equal(f.flag, flagOf(f.key));
            assert.ok(f.help.length > 3, `${f.key}: no help`);
        }
        assert.equal(new Set(KEYS.map(flagOf)).size, KEYS.length, "two settings share a flag");
    });

    test("the flags' names are those the CLI has always had", () => {
        assert.deepEqual(Object.fromEntries(SETTING_FLAGS.map((f) => [f.key, f.spec])), {
            rate: "--rate <n>",
            durationS: "--duration <s>",
            timeoutS: "--timeout <s>",
            sleepMs: "--sleep <ms>",
            times: "--times <n>",
            frontends: "--frontends <list>",
            workers: "--workers <n>",
            cpus: "--cpus <n>",
            connections: "--connections <n>",
            holdMs: "--hold <ms>",
        });
    });

    for (const [name, add] of [
        ["attack", addAttackCommand],
        ["sweep", addSweepCommand],
    ] as const) {
        test(`lab ${name} takes every setting as a flag and hands it on under its name`, () => {
            const argv = FLAGGED.flatMap((k) => [flagOf(k), asText(FULL[k])]);
            assert.deepEqual(loadFlags(parsed(add, name, argv)), Object.fromEntries(FLAGGED.map((k) => [k, FULL[k]])));
        });
    }

    test("lab tipping takes every setting but the rate and the frontends, with its step defaults, and records them", () => {
        assert.deepEqual(Object.keys(TippingStepLoadSchema.shape).sort(), KEYS.filter((k) => k !== "rate" && k !== "frontends").sort());
        const stepKeys = FLAGGED.filter((k) => k !== "rate" && k !== "frontends");
        const argv = ["--start", "10", ...stepKeys.flatMap((k) => [flagOf(k), asText(FULL[k])])];
        const given = loadFlags(parsed(addTippingCommand, "tipping", argv));
        assert.deepEqual(given, Object.fromEntries(stepKeys.map((k) => [k, FULL[k]])));
        const defaults = loadFlags(parsed(addTippingCommand, "tipping", ["--start", "10"]));
        assert.deepEqual(defaults, { durationS: TIPPING_DEFAULTS.durationS, timeoutS: TIPPING_DEFAULTS.timeoutS, sleepMs: 0, times: 0 });
        const args = { ...TIPPING_DEFAULTS, stack: "local", startRate: 10, ...given } as TippingArgs;
        assert.deepEqual(stepLoadOf(args), given);
    });

    test("a bad value is refused by its flag, in the words of the schema's checks", () => {
        const parse = (key: SettingKey, text: string) => SETTING_FLAGS.find((f) => f.key === key)!.parse(text);
        assert.deepEqual(parse("sleepMs", "1.5"), { error: '--sleep must be a whole number ≥ 0, got "1.5"' });
        assert.deepEqual(parse("rate", "0"), { error: '--rate must be a positive whole number, got "0"' });
        assert.deepEqual(parse("durationS", "fast"), { error: '--duration must be a positive number, got "fast"' });
        assert.deepEqual(parse("frontends", "plain,quic"), { error: '--frontends must be a comma list of plain, tls, got "plain,quic"' });
        assert.deepEqual(parse("frontends", "tls, plain"), { value: ["tls", "plain"] });
        assert.throws(() => parsed(addAttackCommand, "attack", ["--hold", "-1"]), /--hold must be a whole number ≥ 0/);
    });

    test("the progress line and the run's report name every setting given", () => {
        const line = describeSettings(FULL);
        for (const k of KEYS) assert.ok(line.includes(`${flagOf(k).slice(2)} ${asText(FULL[k]).replace(",", "+")}`), `${k} missing from: ${line}`);
        assert.match(line, /^rate 1234\/s per client, duration 7 s, timeout 9 s, sleep 11 ms, times 3, frontends tls\+plain, /);
        assert.doesNotMatch(describeSettings({ ...FULL, cpus: undefined }), /cpus/);
    });

    test("run.json keeps the settings whole, as the schema has them", () => {
        assert.equal(RunRecordSchema.shape.settings, AttackSettingsSchema);
        for (const [name, preset] of Object.entries(PRESET_SETTINGS)) assert.doesNotThrow(() => AttackSettingsSchema.parse(preset), name);
    });

    test("every setting reaches vegeta: changing it changes the rendered command lines", () => {
        const client = { name: "client-1", workDir: "/w", sourceAddresses: ["198.18.0.10", "198.18.0.11"] };
        const urls = { plain: "http://198.18.0.2/", tls: "https://198.18.0.2/" };
        const rendered = (s: AttackSettings) => planVegetaProcesses(s, [client], urls, "run").map((p) => vegetaCommandLine(s, p));
        const base = rendered(FULL);
        const other: AttackSettings = {
            ...FULL,
            rate: 4321,
            durationS: 8,
            timeoutS: 10,
            sleepMs: 12,
            times: 4,
            holdMs: 14,
            bodyBytes: 18,
            workers: 20,
            cpus: 6,
            connections: 9999,
            frontends: ["plain"],
        };
        assert.deepEqual(Object.keys(other).sort(), [...KEYS].sort());
        for (const k of KEYS) {
            if (noFlagReason(k)) continue; // set at `lab up`, not on the command line (bodyBytes: each client's body file)
            assert.notDeepEqual(rendered({ ...FULL, [k]: other[k] }), base, `${k} does not reach vegeta's command line`);
        }
    });
});
