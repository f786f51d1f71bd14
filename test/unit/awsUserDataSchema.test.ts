// The EC2 hosts' user data, as each aws tier's program renders it (index.ts under mocks, with the
// tier's Pulumi.aws-*.yaml), passes `cloud-init schema` (Debian's cloud-init 22.4, which
// `npm run bootstrap` unpacks into the tool cache) for every role. The tool is required: a missing
// cloud-init fails these tests.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labEnv } from "../../scripts/toolchain/toolchain.ts";
import { AWS_TIERS, tierRun } from "../mocks/tierRuns.ts";
import { olderThan } from "../../scripts/toolchain/installTools.ts";
import { PINS } from "../../components/pins.ts";

// Every aws tier, the cents-per-hour smoke stack included; each has its metrics host by default.
const TIERS = AWS_TIERS;
const ROLES = ["haproxy", "backend", "client", "metrics"];
const dir = mkdtempSync(join(tmpdir(), "c2m-cloud-init-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function cloudInit(args: string[]): { status: number | null; out: string } {
    const r = spawnSync("cloud-init", args, { env: labEnv(), encoding: "utf8", timeout: 60_000 });
    assert.ifError(r.error); // ENOENT: cloud-init is missing, run `npm run bootstrap`
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** `cloud-init schema` on one document: passes only as "Valid cloud-config" without deprecations. */
function schema(name: string, text: string): { valid: boolean; out: string } {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, text);
    const r = cloudInit(["schema", "--config-file", file]);
    return { valid: r.status === 0 && /Valid cloud-config/.test(r.out) && !/deprecat/i.test(r.out), out: r.out };
}

type UserDataByRole = Record<string, { host: string; userData: string }[]>;

/** User data by role of a tier's instances, from the tier's shared program run (test/mocks/tierRuns.ts). */
async function tierUserData(stack: string): Promise<UserDataByRole> {
    const byRole: UserDataByRole = {};
    for (const i of (await tierRun(stack)).filter((r) => r.type === "aws:ec2/instance:Instance")) {
        const role = String(i.inputs.tags?.["lab:role"]);
        byRole[role] = [...(byRole[role] ?? []), { host: i.name, userData: String(i.inputs.userData) }];
    }
    return byRole;
}

const rendered: Record<string, Promise<UserDataByRole>> = Object.fromEntries(TIERS.map((stack) => [stack, tierUserData(stack)]));
// A rejection is reported by the test that awaits it, not as an unhandled one before then.
for (const p of Object.values(rendered)) p.catch(() => undefined);

describe("cloud-init schema of the EC2 user data", () => {
    before(() => {
        const v = cloudInit(["--version"]);
        assert.equal(v.status, 0, v.out);
        const version = /\d+\.\d+(\.\d+)?/.exec(v.out)?.[0];
        assert.ok(version && !olderThan(version, PINS.cloudInit), `cloud-init ${version}, the rig pins >= ${PINS.cloudInit}`);
    });

    test("the checker is real: it rejects a cloud-config with a wrongly typed key", () => {
        const r = schema("broken", "#cloud-config\npackages: 5\nruncmd: echo not a list\n");
        assert.equal(r.valid, false, r.out);
        assert.match(r.out, /packages: 5 is not of type 'array'/);
    });

    for (const stack of TIERS) {
        test(`${stack}: every role's user data is valid cloud-config`, async () => {
            const byRole = await rendered[stack];
            assert.deepEqual(Object.keys(byRole).sort(), [...ROLES].sort());
            for (const role of ROLES) {
                const [first] = byRole[role];
                const r = schema(`${stack}-${role}`, first.userData);
                assert.ok(r.valid, `${stack} ${first.host}: ${r.out}`);
            }
        });
    }
});
