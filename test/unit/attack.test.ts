import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
    PRESET_SETTINGS,
    attackSettings,
    planVegetaProcesses,
    vegetaAttackArgs,
    vegetaCommandLine,
    type AttackSettings,
    type ClientInfo,
    type VegetaProcess,
    vegetaRate,
} from "../../components/render/attack.ts";
import { LabConfigSchema } from "../../components/config.ts";
import { checkAttackOverrides } from "../../scripts/lib/attackRun.ts";
import { formatSummary, type AttackResult } from "../../scripts/lib/attackOutcome.ts";
import { serversDownAfter } from "../../scripts/lib/runReadings.ts";
import { parseStatsCsv } from "../../scripts/analysis/haproxyStats.ts";
import { BACKEND_NAME } from "../../components/render/haproxyConfig.ts";
import { bashSyntax, runBash, tempDir } from "./helpers.ts";

describe("attackSettings", () => {
    test("a bare preset gives the preset's values", () => {
        assert.deepEqual(attackSettings({ preset: "seed" }), PRESET_SETTINGS.seed);
        assert.deepEqual(attackSettings({ preset: "smoke" }), PRESET_SETTINGS.smoke);
    });

    test("the seed preset is the reference article's final command", () => {
        // vegeta attack -connections=1000000 -header=sleep:20 -header=times:2 -timeout=2h -rate=3000 -workers=500
        const s = PRESET_SETTINGS.seed;
        assert.deepEqual([s.connections, s.sleepMs, s.times, s.timeoutS, s.rate, s.workers], [1_000_000, 20, 2, 2 * 3600, 3000, 500]);
    });

    test("overrides beat preset values, the rest stays the preset's", () => {
        const s = attackSettings({ preset: "seed", rate: 10, timeoutS: 5, frontends: ["tls"] });
        assert.equal(s.rate, 10);
        assert.equal(s.timeoutS, 5);
        assert.deepEqual(s.frontends, ["tls"]);
        assert.equal(s.connections, PRESET_SETTINGS.seed.connections);
        assert.equal(s.workers, PRESET_SETTINGS.seed.workers);
    });

    test("an override of 0 is an override (only undefined falls back to the preset)", () => {
        const s = attackSettings({ preset: "seed", sleepMs: 0, times: 0 });
        assert.equal(s.sleepMs, 0);
        assert.equal(s.times, 0);
    });

    test("explicit undefined does not override", () => {
        const s = attackSettings({ preset: "smoke", rate: undefined, durationS: undefined, frontends: undefined });
        assert.equal(s.rate, PRESET_SETTINGS.smoke.rate);
        assert.equal(s.durationS, PRESET_SETTINGS.smoke.durationS);
        assert.deepEqual(s.frontends, PRESET_SETTINGS.smoke.frontends);
    });

    test("the result has no 'preset' key and leaves the preset table untouched", () => {
        const before = structuredClone(PRESET_SETTINGS);
        const s = attackSettings({ preset: "smoke", rate: 1 });
        assert.ok(!("preset" in s));
        s.rate = 999;
        assert.deepEqual(PRESET_SETTINGS, before);
    });
});

const s: AttackSettings = { ...PRESET_SETTINGS.smoke, rate: 600, connections: 1000, frontends: ["plain", "tls"] };
const clients: ClientInfo[] = [
    { name: "client-0", workDir: "/run/c2m/local/client-0", sourceAddresses: ["198.18.0.10", "198.18.0.11", "198.18.0.12"] },
    { name: "client-1", workDir: "/run/c2m/local/client-1", sourceAddresses: ["198.18.0.20", "198.18.0.21", "198.18.0.22"] },
];
const urls = { plain: "http://198.18.0.2:80/ping", tls: "https://198.18.0.2:443/ping" };

describe("planVegetaProcesses", () => {
    const plan = planVegetaProcesses(s, clients, urls, "run42");

    test("one process per client × frontend × source address, each combination once", () => {
        assert.equal(plan.length, 2 * 2 * 3);
        const keys = new Set(plan.map((p) => `${p.client}|${p.frontend}|${p.laddr}`));
        assert.equal(keys.size, plan.length);
        for (const c of clients)
            for (const f of s.frontends)
                for (const a of c.sourceAddresses) {
                    assert.ok(keys.has(`${c.name}|${f}|${a}`), `${c.name} ${f} ${a}`);
                }
    });

    test("a process only binds addresses of its own client and targets its frontend's URL", () => {
        for (const p of plan) {
            const client = clients.find((c) => c.name === p.client);
            assert.ok(client?.sourceAddresses.includes(p.laddr));
            assert.equal(p.url, urls[p.frontend]);
        }
    });

    test("a client's rate and connection cap are split over its processes", () => {
        for (const c of clients) {
            const mine = plan.filter((p) => p.client === c.name);
            const rate = mine.reduce((a, p) => a + p.ratePerSecond, 0);
            const conns = mine.reduce((a, p) => a + p.connections, 0);
            assert.equal(rate, s.rate, "600 req/s over 6 processes splits evenly");
            assert.ok(conns >= s.connections && conns < s.connections + mine.length, `connections ${conns}`);
            for (const p of mine) assert.equal(p.ratePerSecond, 100);
        }
    });

    test("uneven splits still add up to the wanted rate (fractional shares, rendered exactly)", () => {
        const odd = planVegetaProcesses({ ...s, rate: 1001, connections: 7 }, clients.slice(0, 1), urls, "r");
        const rate = odd.reduce((a, p) => a + p.ratePerSecond, 0);
        assert.ok(Math.abs(rate - 1001) < 1e-9, `total ${rate}`);
        assert.equal(vegetaRate(1001 / 6), "166833/1000s", "166.833 requests per second");
        assert.equal(vegetaRate(7), "7/s");
        // the connection cap is never split below what was asked for
        assert.ok(odd.reduce((a, p) => a + p.connections, 0) >= 7);
        assert.ok(odd.every((p) => p.connections >= 1));
    });

    test("tiny rates are shared, not multiplied: every process sends a little, all together the rate", () => {
        const tiny = planVegetaProcesses({ ...s, rate: 1, connections: 1 }, clients, urls, "r");
        const perClient = tiny.filter((p) => p.client === clients[0].name);
        assert.ok(tiny.every((p) => p.ratePerSecond > 0 && p.connections >= 1));
        assert.ok(Math.abs(perClient.reduce((a, p) => a + p.ratePerSecond, 0) - 1) < 1e-9);
    });

    test("remote output paths are unique and live in the client's own work dir", () => {
        const outputs = plan.map((p) => p.remoteOutput);
        assert.equal(new Set(outputs).size, outputs.length);
        for (const p of plan) {
            const client = clients.find((c) => c.name === p.client)!;
            assert.ok(p.remoteOutput.startsWith(`${client.workDir}/`), p.remoteOutput);
            assert.ok(p.bodyFile.startsWith(`${client.workDir}/`), p.bodyFile);
            assert.ok(p.remoteOutput.includes("run42"));
        }
    });

    test("different runs write different files", () => {
        const other = planVegetaProcesses(s, clients, urls, "run43").map((p) => p.remoteOutput);
        for (const out of plan.map((p) => p.remoteOutput)) assert.ok(!other.includes(out));
    });

    test("throws when TLS is attacked but the stack serves no TLS URL", () => {
        assert.throws(() => planVegetaProcesses(s, clients, { plain: urls.plain }, "r"), /frontend tls is not served/);
    });

    test("no TLS URL is fine when only the plain frontend is attacked", () => {
        const only = planVegetaProcesses({ ...s, frontends: ["plain"] }, clients, { plain: urls.plain }, "r");
        assert.equal(only.length, 6);
        assert.ok(only.every((p) => p.frontend === "plain"));
    });
});

describe("vegetaAttackArgs", () => {
    const args = vegetaAttackArgs(PRESET_SETTINGS.seed, { url: "http://198.18.0.2/", laddr: "198.18.0.9" }, 1234, "/w/body.txt", "/w/out.bin");

    test("is an attack with the seed's flags (-cpus is vegeta's global flag, before the subcommand)", () => {
        assert.deepEqual(args.slice(0, 2), ["-cpus=32", "attack"]);
        for (const flag of [
            "-rate=3000/s",
            "-connections=1234",
            "-workers=500",
            "-timeout=7200s",
            "-header=sleep:20",
            "-header=times:2",
            "-body=/w/body.txt",
            "-laddr=198.18.0.9",
            "-insecure",
            "-output=/w/out.bin",
        ]) {
            assert.ok(args.includes(flag), `missing ${flag} in ${args.join(" ")}`);
        }
    });

    test("every flag is a single -name=value (or bare) token, each name once except -header", () => {
        const names = args.slice(args.indexOf("attack") + 1).map((a) => {
            assert.match(a, /^-[a-z]+(=.+)?$/);
            return a.split("=")[0];
        });
        const counts = new Map<string, number>();
        for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
        for (const [name, count] of counts) assert.equal(count, name === "-header" ? 2 : 1, name);
    });

    test("sends the hold header only when a hold is asked for", () => {
        assert.ok(!args.some((a) => a.startsWith("-header=hold:")), "the seed's command has no hold");
        const held = vegetaAttackArgs({ ...PRESET_SETTINGS.seed, holdMs: 1500 }, { url: "u", laddr: "198.18.0.9" }, 1, "b", "o");
        assert.equal(held.filter((a) => a === "-header=hold:1500").length, 1);
    });

    test("without cpus the subcommand comes first (vegeta's default: all cores)", () => {
        const noCpus = vegetaAttackArgs({ ...PRESET_SETTINGS.seed, cpus: undefined }, { url: "u", laddr: "198.18.0.9" }, 1, "b", "o");
        assert.equal(noCpus[0], "attack");
    });

    test("has a duration (the seed had none; the lab never runs forever)", () => {
        assert.ok(args.includes(`-duration=${PRESET_SETTINGS.seed.durationS}s`));
    });

    test("the URL travels on stdin (vegeta targets), not as an argument", () => {
        assert.ok(!args.some((a) => a.includes("198.18.0.2")));
    });
});

describe("vegetaCommandLine", () => {
    const nasty = "http://198.18.0.2/p?q='a b'&x=$(touch PWNED)`touch PWNED2`;\"c\"\\d";
    const process_: VegetaProcess = {
        client: "client-0",
        frontend: "plain",
        laddr: "198.18.0.10",
        url: nasty,
        ratePerSecond: 7,
        connections: 3,
        remoteOutput: "/run/c2m/it's here/vegeta/out.bin",
        bodyFile: "/run/c2m/it's here/vegeta/body.txt",
    };

    test("bash parses the line", () => {
        const r = bashSyntax(vegetaCommandLine(s, process_));
        assert.equal(r.status, 0, r.stderr);
    });

    test("arguments and the target line reach vegeta intact, and nothing in them runs", (t) => {
        const dir = tempDir(t);
        const line = vegetaCommandLine(s, process_);
        // A stand-in vegeta: the target line it reads goes to stderr, its arguments to stdout (NUL-separated).
        const r = runBash(`vegeta() { cat >&2; printf '%s\\0' "$@"; }\n${line}`, { cwd: dir });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, `POST ${nasty}\n`);
        const received = r.stdout.split("\0").slice(0, -1);
        const expected = vegetaAttackArgs(
            { ...s, rate: process_.ratePerSecond },
            { url: nasty, laddr: process_.laddr },
            process_.connections,
            process_.bodyFile,
            process_.remoteOutput,
        );
        assert.deepEqual(received, expected);
        assert.ok(received.includes("-rate=7/s"), "the process's share of the rate, not the client's");
        assert.equal(existsSync(join(dir, "PWNED")), false);
        assert.equal(existsSync(join(dir, "PWNED2")), false);
    });

    test("a planned process round-trips through the line", (t) => {
        const dir = tempDir(t);
        const [p] = planVegetaProcesses(s, clients, urls, "r1");
        const r = runBash(`vegeta() { cat >&2; printf '%s\\0' "$@"; }\n${vegetaCommandLine(s, p)}`, { cwd: dir });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, `POST ${p.url}\n`);
        const received = r.stdout.split("\0").slice(0, -1);
        assert.ok(received.includes(`-laddr=${p.laddr}`));
        assert.ok(received.includes(`-connections=${p.connections}`));
        assert.ok(received.includes(`-output=${p.remoteOutput}`));
    });
});

describe("checkAttackOverrides", () => {
    test("an override the lab refuses is named by its `lab attack` flag", () => {
        assert.throws(
            () => checkAttackOverrides(LabConfigSchema.parse({}), { cpus: 2000, workers: 8 }),
            (err: Error) => {
                assert.match(err.message, /^attack options --cpus 2000 --workers 8 do not fit this lab: .*c2m:attack\.cpus/s);
                return true;
            },
        );
    });
});

describe("HAProxy's statistics after the run", () => {
    const page = (status: string) =>
        parseStatsCsv(["# pxname,svname,status,scur,stot", `${BACKEND_NAME},pong-0,${status},0,10`, `${BACKEND_NAME},BACKEND,UP,0,10`].join("\n"));
    const result = (serversDown: AttackResult["serversDown"]) =>
        ({
            runId: "r",
            dir: "/tmp/r",
            interrupted: false,
            perFrontend: {},
            haproxy: {},
            failedProcesses: [],
            serversDown,
        }) as unknown as AttackResult;

    test("unreadable: servers down is unknown in the record and the summary, not an empty list", () => {
        assert.equal(serversDownAfter(new Error("timed out")), "unknown");
        assert.match(formatSummary(result("unknown")), /servers down in HAProxy at the end: unknown \(its statistics could not be read after the run\)/);
    });

    test("read: the servers not UP, or none", () => {
        assert.deepEqual(serversDownAfter(page("DOWN")), ["pong-0"]);
        assert.deepEqual(serversDownAfter(page("UP")), []);
        assert.match(formatSummary(result(["pong-0"])), /DOWN in HAProxy at the end: pong-0/);
        assert.doesNotMatch(formatSummary(result([])), /servers down|DOWN/);
    });
});
