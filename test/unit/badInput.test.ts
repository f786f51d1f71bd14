// Bad input through the operator CLI, as an operator meets it: `node scripts/lab.ts …` run as a
// child process. Each case must exit non-zero with one clear message that names the flag or
// config key and the limit it breaks, and nothing may be created: no Pulumi stack, namespace,
// process, file under /run/c2m or run directory. (The schema's own table of refusals is
// test/unit/config.test.ts; these cases go through the CLI and the stack file instead.)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { labEnv, REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { stackConfigFile, writeGeneratedStack } from "../../scripts/lib/stackSettings.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { localResidue } from "../../components/platform/local/residue.ts";
import { detectNofileCeiling } from "../../components/platform/local/limits.ts";
import { FD_OVERHEAD, PORTS_PER_SOURCE_ADDRESS } from "../../components/plan/capacity.ts";
import { runLab, type LabOutcome } from "./helpers.ts";

// Stacks of this test run only (the pid keeps two runs on one checkout apart); none of them may
// ever exist. Their subnet is this developer's own, in case.
const PREFIX = `relbad${process.pid}-`;
const SUBNET = "198.18.82.0/24";
const runsDir = mkdtempSync(join(tmpdir(), "c2m-badinput-runs-"));
/** A stack's settings: the committed local's, or a generated one in the cache (never the checkout). */
const stackFile = (stack: string) => stackConfigFile(stack);

type Outcome = LabOutcome;

/** `lab <args>`; runs would go to a temporary directory. */
const lab = (args: string[], timeoutMs = 60_000): Promise<Outcome> => runLab(args, { runsDir, timeoutMs });

function assertRefused(r: Outcome, mentions: string[]): void {
    assert.notEqual(r.code, 0, `accepted (exit 0):\n${r.out}`);
    for (const m of mentions) assert.ok(r.out.includes(m), `the message does not mention "${m}":\n${r.out}`);
    assert.doesNotMatch(r.out, /\n\s+at .+\.[jt]s:\d+/, `a stack trace instead of a message:\n${r.out}`);
}

// ---- flags: refused by the CLI before any stack is read ----------------------------------------
interface FlagCase {
    name: string;
    args: string[];
    mentions: string[];
}

const FLAGS: FlagCase[] = [
    { name: "negative rate", args: ["attack", "--rate", "-1"], mentions: ["--rate", "positive", "-1"] },
    { name: "zero rate", args: ["attack", "--rate", "0"], mentions: ["--rate", "positive", '"0"'] },
    { name: "rate that is not a number", args: ["attack", "--rate", "fast"], mentions: ["--rate", "fast"] },
    { name: "zero duration", args: ["attack", "--duration", "0"], mentions: ["--duration", "positive"] },
    { name: "negative timeout", args: ["attack", "--timeout", "-5"], mentions: ["--timeout", "positive"] },
    { name: "fractional sleep", args: ["attack", "--sleep", "1.5"], mentions: ["--sleep", "whole number ≥ 0", "1.5"] },
    { name: "negative times", args: ["attack", "--times", "-2"], mentions: ["--times", "≥ 0"] },
    { name: "zero workers", args: ["attack", "--workers", "0"], mentions: ["--workers", "positive"] },
    { name: "negative connections", args: ["attack", "--connections", "-100"], mentions: ["--connections", "positive"] },
    { name: "unknown preset", args: ["attack", "--preset", "huge"], mentions: ["--preset", "huge", "seed, smoke"] },
    { name: "unknown frontend", args: ["attack", "--frontends", "plain,quic"], mentions: ["--frontends", "plain,quic", "plain, tls"] },
    { name: "empty frontend list", args: ["attack", "--frontends", ""], mentions: ["--frontends"] },
    { name: "unknown attack option", args: ["attack", "--rps", "10"], mentions: ["unknown option", "--rps"] },
    { name: "unknown command", args: ["launch"], mentions: ["unknown command", "launch"] },
    { name: "tipping without a start rate", args: ["tipping"], mentions: ["--start"] },
    { name: "tipping start rate zero", args: ["tipping", "--start", "0"], mentions: ["--start", "positive"] },
    {
        name: "tipping factor that never ramps",
        args: ["tipping", "--start", "10", "--factor", "1", "--stack", `${PREFIX}missing`],
        mentions: ["factor", "> 1", "got 1"],
    },
    {
        name: "tipping error threshold not a number",
        args: ["tipping", "--start", "10", "--max-errors", "lots"],
        mentions: ["--max-errors", "[0, 100)", "lots"],
    },
    { name: "tipping error threshold of 100 %", args: ["tipping", "--start", "10", "--max-errors", "100"], mentions: ["--max-errors", "[0, 100)"] },
    { name: "tipping unknown frontend", args: ["tipping", "--start", "10", "--frontend", "quic"], mentions: ["--frontend", "plain, tls"] },
    { name: "plan with a TLS share above 1", args: ["plan", "--stack", "aws-16c64g", "--tls-share", "2"], mentions: ["--tls-share", "between 0 and 1", "2"] },
    { name: "runs with zero last", args: ["runs", "--last", "0"], mentions: ["--last", "positive"] },
    { name: "stack name that cannot name local resources", args: ["reap", "--stack", "a b"], mentions: ["a b", "cannot name local resources"] },
    { name: "stack name with a shell metacharacter", args: ["down", "--stack", "x;rm"], mentions: ["x;rm", "cannot name local resources"] },
    { name: "up on a stack with no config file", args: ["up", "--stack", `${PREFIX}missing`], mentions: [`Pulumi.${PREFIX}missing.yaml`, "no stack config"] },
    {
        name: "attack on a stack that does not exist",
        args: ["attack", "--stack", `${PREFIX}missing`],
        mentions: [`stack ${PREFIX}missing does not exist`, "lab up"],
    },
    {
        name: "tipping on a stack that does not exist",
        args: ["tipping", "--start", "10", "--stack", `${PREFIX}missing`],
        mentions: [`stack ${PREFIX}missing does not exist`],
    },
    { name: "plan of an unknown tier", args: ["plan", "--stack", "aws-99c1g"], mentions: ["Pulumi.aws-99c1g.yaml", "no stack config"] },
];

// ---- stack files: `lab up` refuses them before a stack exists ----------------------------------
interface ConfigCase {
    slug: string;
    name: string;
    config?: Record<string, unknown>;
    text?: string;
    mentions: string[];
}

const ceiling = detectNofileCeiling();
const CONFIGS: ConfigCase[] = [
    { slug: "ttl0", name: "TTL of zero hours (expires at once)", config: { "c2m:ttlHours": 0 }, mentions: ["c2m:ttlHours", ">0"] },
    { slug: "ttlpast", name: "TTL in the past", config: { "c2m:ttlHours": -2 }, mentions: ["c2m:ttlHours", ">0"] },
    { slug: "ttltext", name: "TTL as text", config: { "c2m:ttlHours": "4h" }, mentions: ["c2m:ttlHours", "number", "string"] },
    { slug: "ttllong", name: "TTL longer than a week", config: { "c2m:ttlHours": 169 }, mentions: ["c2m:ttlHours", "168"] },
    { slug: "backendstext", name: "host count as text", config: { "c2m:hosts": { backends: "two" } }, mentions: ["c2m:hosts.backends", "number"] },
    { slug: "noclients", name: "zero clients", config: { "c2m:hosts": { clients: 0 } }, mentions: ["c2m:hosts.clients", ">=1"] },
    {
        slug: "negservers",
        name: "negative pong servers per host",
        config: { "c2m:backend": { serversPerHost: -3 } },
        mentions: ["c2m:backend.serversPerHost", ">=1"],
    },
    {
        slug: "curve",
        name: "unknown TLS curve",
        config: { "c2m:haproxy": { maxconn: 4000, tls: { curve: "X25519" } } },
        mentions: ["c2m:haproxy.tls.curve", "P-256", "P-384"],
    },
    {
        slug: "tlsflag",
        name: "TLS switch that is not a boolean",
        config: { "c2m:haproxy": { maxconn: 4000, tls: { enabled: "on" } } },
        mentions: ["c2m:haproxy.tls.enabled", "boolean"],
    },
    {
        slug: "cidr",
        name: "malformed CIDR",
        config: { "c2m:local": { subnet: "198.18.300.0/24" } },
        mentions: ["c2m:local.subnet", '"198.18.300.0" is not an IPv4 address'],
    },
    {
        slug: "cidrlan",
        name: "subnet outside the benchmarking range",
        config: { "c2m:local": { subnet: "10.1.0.0/24" } },
        mentions: ["c2m:local.subnet", "10.1.0.0/24", "198.18.0.0/15"],
    },
    {
        slug: "dupports",
        name: "plain and TLS frontends on one port",
        config: { "c2m:haproxy": { maxconn: 4000, plainPort: 8443, tlsPort: 8443 } },
        mentions: ["c2m:haproxy", "8443", "must not overlap"],
    },
    { slug: "typo", name: "unknown key (typo)", config: { "c2m:haproxy": { maxconns: 4000 } }, mentions: ["c2m:haproxy", "maxconns"] },
    {
        slug: "namespace",
        name: "key outside the c2m namespace",
        config: { "aws:region": "us-east-1" },
        mentions: ["unknown config key aws:region", "c2m:<name>"],
    },
    { slug: "preset", name: "unknown attack preset", config: { "c2m:attack": { preset: "2m" } }, mentions: ["c2m:attack.preset", "seed", "smoke"] },
    {
        // 150000 connections per client through one address: more than one port range
        slug: "ports",
        name: "more connections than ports × source addresses",
        config: { "c2m:plan": { connections: 300_000, tlsShare: 0, sourceAddressesPerClient: 1 }, "c2m:haproxy": { maxconn: 300_000 } },
        mentions: ["c2m:plan.sourceAddressesPerClient", "300000", String(PORTS_PER_SOURCE_ADDRESS), "config gives 1"],
    },
    {
        // one HAProxy process holding 2 sockets per connection cannot stay under the fd ceiling
        slug: "fds",
        name: "more connections than one process's open files",
        config: { "c2m:plan": { connections: ceiling }, "c2m:haproxy": { maxconn: ceiling, processes: 1 } },
        mentions: ["c2m:haproxy.processes", String(2 * ceiling + FD_OVERHEAD), String(ceiling)],
    },
    {
        slug: "memory",
        name: "more connections than the machine's memory holds",
        config: { "c2m:plan": { connections: 9_000_000 }, "c2m:haproxy": { maxconn: 9_000_000 } },
        mentions: ["c2m:plan.connections", "9000000", "GB"],
    },
    {
        slug: "timeouts",
        name: "HAProxy timeouts shorter than the attack's",
        config: { "c2m:haproxy": { maxconn: 4000, timeouts: { serverMs: 1000 } } },
        mentions: ["c2m:haproxy.timeouts", "1000", "70000"],
    },
    { slug: "platform", name: "unknown platform", config: { "c2m:platform": "gcp" }, mentions: ["c2m:platform", "local", "aws"] },
    { slug: "awscidr", name: "AWS tier without the operator's CIDR", config: { "c2m:platform": "aws" }, mentions: ["c2m:aws.operatorCidr", "required"] },
    {
        slug: "awsopen",
        name: "AWS tier with SSH open to the internet",
        config: { "c2m:platform": "aws", "c2m:aws": { operatorCidr: "0.0.0.0/0" } },
        mentions: ["c2m:aws.operatorCidr", "whole internet"],
    },
    {
        slug: "awstype",
        name: "AWS tier with an unknown instance type",
        config: { "c2m:platform": "aws", "c2m:aws": { operatorCidr: "203.0.113.7/32", instanceTypes: { client: "z9.huge" } } },
        mentions: ["c2m:aws.instanceTypes.client", "z9.huge"],
    },
    {
        slug: "yaml",
        name: "stack file that is not YAML",
        text: "config:\n  c2m:hosts: {backends: 2\n  c2m:plan: [\n",
        mentions: [`Pulumi.${PREFIX}yaml.yaml`, "not valid YAML"],
    },
];

const stacks = CONFIGS.map((c) => `${PREFIX}${c.slug}`);

before(() => {
    const base = YAML.parse(readFileSync(stackFile("local"), "utf8"));
    for (const c of CONFIGS) {
        const doc = { ...base, config: { ...base.config, "c2m:local": { subnet: SUBNET }, ...c.config } };
        writeGeneratedStack(`${PREFIX}${c.slug}`, c.text ?? YAML.stringify(doc));
    }
});

after(() => {
    for (const s of stacks) rmSync(stackFile(s), { force: true });
    rmSync(runsDir, { recursive: true, force: true });
});

describe("bad CLI flags and arguments", { concurrency: 4 }, () => {
    test("at least 20 cases", () => assert.ok(FLAGS.length >= 20));
    for (const c of FLAGS) {
        test(`lab ${c.args.join(" ")} — ${c.name}`, async () => assertRefused(await lab(c.args), c.mentions));
    }
});

describe("bad stack config: lab up refuses before anything exists", { concurrency: 4 }, () => {
    test("at least 20 cases", () => assert.ok(CONFIGS.length >= 20));
    for (const c of CONFIGS) {
        test(`lab up --stack ${PREFIX}${c.slug} — ${c.name}`, async () => assertRefused(await lab(["up", "--stack", `${PREFIX}${c.slug}`]), c.mentions));
    }
});

describe("nothing was created by any refused command", () => {
    test("no Pulumi stack of these names exists", () => {
        const ls = spawnSync("pulumi", ["stack", "ls", "--json"], { cwd: REPO_ROOT, env: labEnv(), encoding: "utf8" });
        assert.equal(ls.status, 0, ls.stderr);
        const names = (JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name.split("/").at(-1)!);
        assert.deepEqual(
            names.filter((n) => n.startsWith(PREFIX)),
            [],
        );
    });

    test("no namespace, link, process or file of these stacks, no run directory", async () => {
        for (const s of [...stacks, `${PREFIX}missing`]) {
            const residue = await localResidue(s);
            assert.equal(residueCount(residue), 0, `${s}: ${describeResidue(residue)}`);
        }
        assert.deepEqual(readdirSync(runsDir), []);
    });
});
