// lab preflight against a fake AWS client, one answer at a time: each failure names the number or
// setting and its fix, and nothing reaches AWS.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
    formatChecks,
    preflightChecks,
    stateChecks,
    STANDARD_VCPU_QUOTA,
    type Check,
    type PreflightClient,
    type StateSettings,
} from "../../components/platform/aws/preflight.ts";
import { loadConfig, readConfigFile } from "../../components/loadConfig.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { DEBIAN_AMI_OWNER } from "../../components/platform/aws/image.ts";
import { preflightBeforeUp } from "../../scripts/lib/awsPreflight.ts";
import { up } from "../../scripts/lib/pulumiStack.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const CIDR = "203.0.113.7/32";
const DEBIAN = { id: "ami-0deb12a0c0ffee000", ownerId: DEBIAN_AMI_OWNER, name: "debian-12-amd64-20261201-1950", state: "available" };
const TRIXIE = { id: "ami-0deb13a0c0ffee000", ownerId: DEBIAN_AMI_OWNER, name: "debian-13-amd64-20261201-2300", state: "available" };
const GOOD_STATE: StateSettings = {
    backendUrl: "s3://lab-state/c2m",
    passphraseSet: true,
    passphraseFile: undefined,
    bootstrapPassphraseFile: "/cache/passphrase",
};

/** A client that answers like a ready account; `over` replaces one answer. */
function fakeClient(over: Partial<PreflightClient> = {}): PreflightClient & { asked: string[] } {
    const asked: string[] = [];
    const base: PreflightClient = {
        async callerIdentity() {
            return { account: "123456789012", arn: "arn:aws:iam::123456789012:user/operator" };
        },
        async vcpuQuota() {
            return { value: 1000, source: "applied" };
        },
        async instancesInUse() {
            return [];
        },
        async zones() {
            return ["us-east-1a", "us-east-1b"];
        },
        async offerings(types) {
            return { instanceTypes: [...types, ...types], locations: [...types.map(() => "us-east-1a"), ...types.map(() => "us-east-1b")] };
        },
        async image(id) {
            return [DEBIAN, TRIXIE].find((i) => i.id === id);
        },
        async debianAmi(parameter) {
            return parameter.includes("/release/13/") ? TRIXIE.id : DEBIAN.id;
        },
        async publicIp() {
            return "203.0.113.7";
        },
    };
    const client = { ...base, ...over } as PreflightClient;
    const recorded = Object.fromEntries(
        Object.entries(client).map(([k, fn]) => [
            k,
            (...a: unknown[]) => {
                asked.push(k);
                return (fn as Function)(...a);
            },
        ]),
    );
    return Object.assign(recorded, { asked }) as unknown as PreflightClient & { asked: string[] };
}

function stackConfig(stack: string, aws: Record<string, unknown> = { operatorCidr: CIDR }) {
    const raw = readConfigFile(REPO_ROOT, stack);
    return loadConfig(stack, { ...raw, aws: { ...(raw.aws as object), ...aws } });
}

async function run(stack: string, client: PreflightClient, state = GOOD_STATE, aws?: Record<string, unknown>): Promise<Check[]> {
    const l = stackConfig(stack, aws);
    return preflightChecks(stack, l.config, l.capacity, client, state);
}
const failed = (checks: Check[]) => checks.filter((c) => !c.ok);

describe("lab preflight", () => {
    test("a ready account passes every check, and only read-only questions are asked", async () => {
        const client = fakeClient();
        const checks = await run("aws-smoke", client);
        assert.deepEqual(failed(checks), []);
        assert.deepEqual(
            checks.map((c) => c.name),
            ["config", "identity", "vCPU quota", "zone offerings", "image", "state backend", "passphrase", "operator CIDR"],
        );
        assert.deepEqual([...new Set(client.asked)].sort(), [
            "callerIdentity",
            "debianAmi",
            "image",
            "instancesInUse",
            "offerings",
            "publicIp",
            "vcpuQuota",
            "zones",
        ]);
        assert.match(formatChecks("aws-smoke", checks), /preflight aws-smoke: all 8 checks passed/);
    });

    test("no credentials: identity fails with AWS's error and how to give them", async () => {
        const err = Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
        const [c] = failed(
            await run(
                "aws-smoke",
                fakeClient({
                    callerIdentity: async () => {
                        throw err;
                    },
                }),
            ),
        );
        assert.equal(c.name, "identity");
        assert.match(c.detail, /CredentialsProviderError: Could not load credentials/);
        assert.match(c.fix!, /AWS_PROFILE|aws configure/);
    });

    test("a new account's vCPU quota under the tier's plan: the numbers, the quota code and the request command", async () => {
        const checks = await run("aws-16c64g", fakeClient({ vcpuQuota: async () => ({ value: 32, source: "default" }) }));
        const [c] = failed(checks);
        assert.equal(c.name, "vCPU quota");
        // m6i.4xlarge 16 + 8 × c6i.2xlarge 8 + 20 × c6i.8xlarge 32 + metrics c6i.large 2
        const needed = 16 + 8 * 8 + 20 * 32 + 2;
        assert.match(c.detail, new RegExp(`runs ${needed} vCPUs .*${STANDARD_VCPU_QUOTA.quotaCode}.*quota is 32 \\(default\\).*VcpuLimitExceeded`));
        assert.match(
            c.fix!,
            new RegExp(`request-service-quota-increase --service-code ec2 --quota-code L-1216C47A --desired-value ${needed} --region us-east-1`),
        );
        assert.match(formatChecks("aws-16c64g", checks), /FAIL vCPU quota: .*\n     fix: aws service-quotas/);
        assert.deepEqual(
            failed(await run("aws-smoke", fakeClient({ vcpuQuota: async () => ({ value: 32, source: "default" }) }))),
            [],
            "the smoke stack fits a new account",
        );
    });

    test("vCPUs other instances already use count against the quota; this stack's own, spot and other families do not", async () => {
        const running = [
            { instanceType: "c6i.8xlarge", vcpus: 32, stack: "someone-else" },
            { instanceType: "m6i.large", vcpus: 2 },
            { instanceType: "c6i.large", vcpus: 2, stack: "aws-smoke" }, // this stack's own (a second up)
            { instanceType: "c6i.large", vcpus: 2, spot: true }, // spot: another quota
            { instanceType: "p4d.24xlarge", vcpus: 96 }, // P family: another quota
            { instanceType: "inf2.xlarge", vcpus: 4 }, // Inf: another quota
        ];
        const c = failed(
            await run("aws-smoke", fakeClient({ vcpuQuota: async () => ({ value: 40, source: "applied" }), instancesInUse: async () => running })),
        )[0];
        assert.equal(c.name, "vCPU quota");
        assert.match(c.detail, /runs 8 vCPUs .*quota is 40 \(applied\), 34 already used by 2 running instance\(s\), so 6 are free/);
        assert.match(c.fix!, /--desired-value 42 --region us-east-1 \(or stop the other instances\)/);
        assert.deepEqual(
            failed(await run("aws-smoke", fakeClient({ vcpuQuota: async () => ({ value: 42, source: "applied" }), instancesInUse: async () => running }))),
            [],
        );
    });

    test("without an operator CIDR yet, the quota and zones are still asked (the plan does not need it)", async () => {
        const checks = await run("aws-16c64g", fakeClient({ vcpuQuota: async () => ({ value: 32, source: "default" }) }), GOOD_STATE, {});
        assert.deepEqual(
            failed(checks).map((c) => c.name),
            ["config", "vCPU quota", "operator CIDR"],
        );
    });

    test("a type no zone offers: the zone check names each type and where it is offered", async () => {
        const c = failed(
            await run(
                "aws-smoke",
                fakeClient({
                    offerings: async (types) => ({
                        instanceTypes: types.filter((t) => t !== "c6i.large"),
                        locations: types.filter((t) => t !== "c6i.large").map(() => "us-east-1a"),
                    }),
                }),
            ),
        )[0];
        assert.equal(c.name, "zone offerings");
        assert.match(c.detail, /haproxy c6i\.large not offered in any zone of us-east-1/);
        assert.match(c.fix!, /c2m:aws\.instanceTypes/);
    });

    test("the image: a pinned AMI missing from the region, or not Debian's, fails naming c2m:aws.ami", async () => {
        const missing = failed(await run("aws-smoke", fakeClient(), GOOD_STATE, { operatorCidr: CIDR, ami: "ami-0123456789abcdef0" }))[0];
        assert.equal(missing.name, "image");
        assert.match(missing.detail, /c2m:aws\.ami ami-0123456789abcdef0: no such image in us-east-1/);
        assert.match(missing.fix!, /aws ssm get-parameter --name \/aws\/service\/debian\/release\/12\/latest\/amd64/);
        const ubuntu = failed(
            await run(
                "aws-smoke",
                fakeClient({ image: async (id) => ({ id, ownerId: "099720109477", name: "ubuntu-noble-24.04", state: "available" }) }),
                GOOD_STATE,
                { operatorCidr: CIDR, ami: "ami-0123456789abcdef0" },
            ),
        )[0];
        assert.match(ubuntu.detail, /not Debian 12 amd64 from Debian's account 136693071363/);
    });

    test("c2m:image: the AMI of each image's Debian release is checked, from its own parameter", async () => {
        const l = loadConfig("aws-smoke", {
            ...readConfigFile(REPO_ROOT, "aws-smoke"),
            aws: { ...(readConfigFile(REPO_ROOT, "aws-smoke").aws as object), operatorCidr: CIDR },
            image: { haproxy: "debian-13" },
        });
        const checks = await preflightChecks("aws-smoke", l.config, l.capacity, fakeClient(), GOOD_STATE);
        assert.deepEqual(failed(checks), []);
        assert.deepEqual(
            checks.filter((c) => c.name === "image").map((c) => c.detail.split(" ").slice(0, 2).join(" ")),
            ["ami-0deb12a0c0ffee000 debian-12-amd64-20261201-1950", "ami-0deb13a0c0ffee000 debian-13-amd64-20261201-2300"],
        );
        // A parameter naming the wrong release is caught by the name.
        const swapped = await preflightChecks("aws-smoke", l.config, l.capacity, fakeClient({ debianAmi: async () => TRIXIE.id }), GOOD_STATE);
        assert.match(
            failed(swapped)[0].detail,
            /\/aws\/service\/debian\/release\/12\/latest\/amd64 ami-0deb13a0c0ffee000 is "debian-13-amd64-20261201-2300" of account 136693071363, not Debian 12 amd64/,
        );
    });

    test("state on this machine, or the bootstrap's random passphrase, is refused: the scheduled reaper could not reap the stack", () => {
        const file = stateChecks("aws-smoke", { ...GOOD_STATE, backendUrl: "file:///root/.cache/c2m-lab/state" });
        assert.equal(file[0].ok, false);
        assert.match(file[0].detail, /PULUMI_BACKEND_URL is "file:\/\/\/root\/\.cache\/c2m-lab\/state".*scheduled reaper/);
        assert.match(file[0].fix!, /export PULUMI_BACKEND_URL=s3:\/\//);
        const random = stateChecks("aws-smoke", { ...GOOD_STATE, passphraseSet: false, passphraseFile: "/cache/passphrase" });
        assert.equal(random[1].ok, false);
        assert.match(random[1].detail, /lab bootstrap's random one \(\/cache\/passphrase\)/);
        assert.match(random[1].fix!, /PULUMI_CONFIG_PASSPHRASE=<the value of the repository secret/);
        assert.equal(stateChecks("aws-smoke", { ...GOOD_STATE, passphraseSet: false, passphraseFile: undefined })[1].ok, false);
        assert.equal(stateChecks("aws-smoke", { ...GOOD_STATE, passphraseSet: false, passphraseFile: "/secure/team-passphrase" })[1].ok, true);
    });

    test("the operator CIDR: unset, or not holding this machine's address, fails with the command that sets it", async () => {
        const unset = failed(await run("aws-smoke", fakeClient(), GOOD_STATE, {}));
        assert.deepEqual(
            unset.map((c) => c.name),
            ["config", "operator CIDR"],
        );
        assert.match(unset[1].fix!, /pulumi config set --path 'c2m:aws\.operatorCidr' <your public IP>\/32 --stack aws-smoke/);
        const moved = failed(await run("aws-smoke", fakeClient({ publicIp: async () => "198.51.100.20" })))[0];
        assert.match(moved.detail, /203\.0\.113\.7\/32 does not hold this machine's public address 198\.51\.100\.20/);
        assert.match(moved.fix!, /198\.51\.100\.20\/32/);
        assert.deepEqual(
            failed(await run("aws-smoke", fakeClient({ publicIp: async () => undefined }))),
            [],
            "unknown address: a warning in the detail, not a failure",
        );
    });

    test("an AWS error on one question fails that check only; the others still answer", async () => {
        const denied = Object.assign(new Error("User is not authorized to perform: servicequotas:GetServiceQuota"), { name: "AccessDeniedException" });
        const checks = await run(
            "aws-smoke",
            fakeClient({
                vcpuQuota: async () => {
                    throw denied;
                },
            }),
        );
        assert.deepEqual(
            failed(checks).map((c) => c.name),
            ["vCPU quota"],
        );
        assert.match(failed(checks)[0].detail, /AccessDeniedException/);
    });
});

describe("every path that brings an aws stack up runs preflight first", () => {
    test("lab up (up()) on an aws stack that fails a check stops there, naming the checks, before any stack exists", async () => {
        const client = fakeClient();
        // The committed aws-smoke has no operator CIDR (each operator sets theirs): config and CIDR fail.
        await assert.rejects(
            () => up("aws-smoke", { preflightClient: client }),
            /preflight of aws-smoke failed \(config, .*operator CIDR\): nothing was created/,
        );
        assert.ok(client.asked.includes("callerIdentity"));
    });
    test("a sweep cell's or demo's up (settings replacing the stack's) is preflighted on its own config", async () => {
        const client = fakeClient();
        const settings = readFileSync(join(REPO_ROOT, "Pulumi.aws-smoke.yaml"), "utf8");
        await assert.rejects(() => up("aws-smoke", { settings, preflightClient: client }), /preflight of aws-smoke failed/);
        assert.ok(client.asked.includes("callerIdentity"));
    });
    test("a local stack asks AWS nothing", async () => {
        const none = fakeClient();
        const loaded = loadConfig("local", readConfigFile(REPO_ROOT, "local"));
        assert.equal(await preflightBeforeUp("local", loaded, none), undefined);
        assert.deepEqual(none.asked, []);
    });
});
