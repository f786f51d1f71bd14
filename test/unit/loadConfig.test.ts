// The one config loader: file or pulumi.Config → schema → the platform's machine limits →
// capacity plan (once) → plan checks; and the declared platforms it hands back.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { ConfigError } from "../../components/config.ts";
import { loadConfig, readConfigFile, readPulumiConfig, teardownConfig } from "../../components/loadConfig.ts";
import { planCapacity } from "../../components/plan/capacity.ts";
import { detectNofileCeiling } from "../../components/platform/local/limits.ts";
import { platformFor } from "../../components/platform/registry.ts";
import { describeResidue, residueCount } from "../../components/platform/platform.ts";
import { residueIn } from "../../components/platform/local/residue.ts";
import { localNames } from "../../components/platform/local/scripts.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "c2m-loadconfig-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const writeStack = (stack: string, text: string) => writeFileSync(join(dir, `Pulumi.${stack}.yaml`), text);

describe("loadConfig", () => {
    test("local: this machine's limits fill what the stack leaves unset; the capacity plan comes with it", () => {
        const loaded = loadConfig("s", { plan: { connections: 1000 } });
        assert.equal(loaded.platform.name, "local");
        assert.equal(loaded.config.local.nofileCeiling, detectNofileCeiling());
        assert.ok((loaded.config.local.memoryBytes ?? 0) > 0);
        assert.deepEqual(loaded.capacity, planCapacity(loaded.config));
        assert.equal(loadConfig("s", { local: { nofileCeiling: 5000 } }).config.local.nofileCeiling, 5000, "the stack's value wins");
    });

    test("aws: no local limits (EC2 hosts bring their own); without machine limits, none either", () => {
        const aws = loadConfig("s", { platform: "aws" });
        assert.equal(aws.platform.name, "aws");
        assert.equal(aws.config.local.nofileCeiling, undefined);
        assert.equal(aws.capacity.nofileCeiling, aws.config.aws.nofileCeiling);
        assert.equal(loadConfig("s", {}, { machineLimits: false }).config.local.nofileCeiling, undefined);
    });

    test("schema errors, then plan errors, as ConfigError naming the key", () => {
        assert.throws(
            () => loadConfig("s", { hosts: { backends: 0 } }),
            (e: unknown) => e instanceof ConfigError && /c2m:hosts\.backends/.test(e.message),
        );
        assert.throws(
            () => loadConfig("s", { haproxy: { plainPort: 443 } }),
            (e: unknown) => e instanceof ConfigError && /c2m:haproxy: plainPort 443/.test(e.message),
        );
    });

    test("the program's pulumi.Config and the stack file give the same raw config", () => {
        const values: Record<string, unknown> = { platform: "local", ttlHours: 2, hosts: { backends: 3 }, plan: { connections: 500 } };
        const reader = {
            get: (k: string) => values[k] as string | undefined,
            getNumber: (k: string) => values[k] as number | undefined,
            getObject: <T>(k: string) => values[k] as T | undefined,
        };
        writeStack("same", YAML.stringify({ config: Object.fromEntries(Object.entries(values).map(([k, v]) => [`c2m:${k}`, v])) }));
        assert.deepEqual(readPulumiConfig(reader), readConfigFile(dir, "same"));
    });

    test("stack files: missing, not YAML, a key outside c2m: each refused with the file named", () => {
        assert.throws(() => readConfigFile(dir, "missing"), /no stack config .*Pulumi\.missing\.yaml/);
        writeStack("broken", "config:\n  c2m:hosts: {backends: 2\n");
        assert.throws(() => readConfigFile(dir, "broken"), /Pulumi\.broken\.yaml: not valid YAML/);
        writeStack("foreign", YAML.stringify({ config: { "aws:region": "us-east-1" } }));
        assert.throws(() => readConfigFile(dir, "foreign"), /unknown config key aws:region/);
    });

    test("teardown never refuses: no file is local; an aws stack whose config no longer passes is still aws, in its region", () => {
        assert.equal(teardownConfig(dir, "nothing-here").platform, "local");
        writeStack(
            "gone-bad",
            YAML.stringify({ config: { "c2m:platform": "aws", "c2m:aws": { region: "eu-west-3", bogus: 1 }, "c2m:hosts": { clients: 0 } } }),
        );
        const config = teardownConfig(dir, "gone-bad");
        assert.equal(config.platform, "aws");
        assert.equal(config.aws.region, "eu-west-3");
    });
});

describe("platforms", () => {
    test("one per c2m:platform, each its own answers", () => {
        const local = platformFor({ platform: "local" });
        const aws = platformFor({ platform: "aws" });
        assert.deepEqual([local.name, local.sharedKernel, local.needsPolicyPack], ["local", true, false]);
        assert.deepEqual([aws.name, aws.sharedKernel, aws.needsPolicyPack], ["aws", false, true]);
        const config = loadConfig("s", { platform: "aws" }).config;
        assert.equal(aws.hostMemoryBytes(config, "haproxy"), 64 * 1024 ** 3, "m6i.4xlarge");
    });

    test("aws checks refuse before anything exists; local has none of its own", () => {
        const aws = loadConfig("s", { platform: "aws" });
        assert.throws(() => aws.platform.check(aws), /c2m:aws\.operatorCidr/);
        const local = loadConfig("s", {});
        assert.doesNotThrow(() => local.platform.check(local));
    });

    test("no platform-name branch outside components/platform/", () => {
        const files = [
            "index.ts",
            ...["components", "scripts", "bench"].flatMap((d) =>
                readdirSync(join(ROOT, d), { recursive: true, encoding: "utf8" })
                    .filter((f) => f.endsWith(".ts"))
                    .map((f) => join(d, f)),
            ),
        ];
        const branches = files
            .filter((f) => !f.startsWith(join("components", "platform")))
            .filter((f) => /\bplatform\s*[!=]==?\s*["'](aws|local)["']/.test(readFileSync(join(ROOT, f), "utf8")));
        assert.deepEqual(branches, []);
    });
});

describe("local residue", () => {
    const names = localNames("lab");
    test("picks the stack's namespaces, links, firewall table and processes out of the machine's listings", () => {
        const left = residueIn(names, {
            netns: `${names.namespace("backend-0")} (id: 3)\n${localNames("lab-2").namespace("backend-0")} (id: 4)\nother\n`,
            links: `1: lo: <LOOPBACK>\n7: ${names.bridge}: <BROADCAST>\n8: ${names.veth(0)}@if2: <BROADCAST>\n9: eth0: <UP>\n`,
            nftTables: `table inet ${names.firewallTable}\ntable inet ${localNames("lab-2").firewallTable}\ntable ip nat\n`,
            processes: `123 sshd -f /dev/null -h ${names.runDir}/backend-0/ssh/host_key\n`,
            runDirExists: true,
            cgroups: ["/sys/fs/cgroup/memory/c2m/lab/backend-0"],
        });
        assert.deepEqual(left, {
            namespaces: [names.namespace("backend-0")],
            links: [names.bridge, names.veth(0)],
            firewallTables: [`inet ${names.firewallTable}`],
            processes: [`123 sshd -f /dev/null -h ${names.runDir}/backend-0/ssh/host_key`],
            files: [names.runDir],
            cgroups: ["/sys/fs/cgroup/memory/c2m/lab/backend-0"],
        });
        assert.equal(residueCount(left), 7);
        assert.match(describeResidue(left), /^residue check: LEFT BEHIND\n {2}namespaces: /);
    });

    test('nothing: the same "none" line as ever', () => {
        const left = residueIn(names, { netns: "", links: "1: lo: <LOOPBACK>\n", nftTables: "table ip nat\n", processes: "", runDirExists: false });
        assert.equal(describeResidue(left), "residue check: none (0 namespaces, 0 links, 0 firewall tables, 0 processes, 0 files, 0 cgroups)");
    });
});
