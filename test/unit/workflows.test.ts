// The GitHub workflows: every .github/workflows/*.yml passes actionlint (v1.7.12 from the tool cache,
// with shellcheck on the run: scripts); the reap workflow only installs tools and runs the lab CLI;
// its IAM policy covers the deletion of every AWS resource type the platform creates.
// actionlint and shellcheck are required: `npm run bootstrap` installs them; missing, these tests fail.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { labEnv, REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { PINS } from "../../components/pins.ts";

const WORKFLOWS = join(REPO_ROOT, ".github", "workflows");
const workflowFiles = () => readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const workflow = (file: string) => YAML.parse(readFileSync(join(WORKFLOWS, file), "utf8"));
type Step = { uses?: string; run?: string; with?: Record<string, unknown>; name?: string };
const steps = (file: string): Step[] => Object.values(workflow(file).jobs as Record<string, { steps?: Step[] }>).flatMap((j) => j.steps ?? []);

function run(cmd: string, args: string[], cwd = REPO_ROOT): { status: number | null; out: string } {
    const r = spawnSync(cmd, args, { cwd, env: labEnv(), encoding: "utf8", timeout: 120_000 });
    assert.ifError(r.error); // ENOENT: the tool is missing, run `npm run bootstrap`
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("workflows", () => {
    test(`actionlint is v${PINS.actionlint} and shellcheck is there for it`, () => {
        const v = run("actionlint", ["-version"]);
        assert.equal(v.status, 0, v.out);
        assert.equal(v.out.split("\n")[0].trim(), `v${PINS.actionlint}`);
        const s = run("shellcheck", ["--version"]);
        assert.equal(s.status, 0, s.out);
    });

    test("actionlint catches a broken workflow (and its shell script)", () => {
        const dir = mkdtempSync(join(tmpdir(), "c2m-actionlint-"));
        try {
            mkdirSync(join(dir, ".github", "workflows"), { recursive: true });
            writeFileSync(
                join(dir, ".github", "workflows", "bad.yml"),
                [
                    "on: push",
                    "jobs:",
                    "  a:",
                    "    runs-on: ubuntu-latest",
                    "    steps:",
                    "      - run: echo ${{ github.nope }}",
                    "      - run: cd $DIR && ls",
                    "",
                ].join("\n"),
            );
            const r = run("actionlint", ["-no-color", join(".github", "workflows", "bad.yml")], dir);
            assert.notEqual(r.status, 0, r.out);
            assert.match(r.out, /property "nope" is not defined/);
            assert.match(r.out, /shellcheck reported issue/);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    test("every workflow passes actionlint", () => {
        assert.ok(workflowFiles().length > 0);
        const r = run("actionlint", ["-no-color", ...workflowFiles().map((f) => join(".github", "workflows", f))]);
        assert.equal(r.status, 0, r.out);
    });

    test("pulumi/actions: install-only steps name no command; the CLI is the toolchain's pin", () => {
        for (const file of workflowFiles()) {
            for (const step of steps(file).filter((s) => s.uses?.startsWith("pulumi/actions@"))) {
                const command = step.with?.command;
                assert.ok(
                    command === undefined || ["up", "update", "preview", "refresh", "destroy", "output"].includes(String(command)),
                    `${file}: pulumi/actions command "${command}" (install only: leave command out)`,
                );
                if (command === undefined) assert.equal(String(step.with?.["pulumi-version"]), PINS.pulumiCli, `${file}: pulumi-version`);
            }
        }
    });

    test("reap: installs node (package.json engines), pulumi and the dependencies, then runs `lab reap --expired` and nothing else", () => {
        const all = steps("reap.yml");
        const node = all.find((s) => s.uses?.startsWith("actions/setup-node@"));
        assert.equal(node?.with?.["node-version-file"], "package.json");
        assert.ok(
            all.some((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command === undefined),
            "pulumi installed, install-only",
        );
        assert.ok(all.some((s) => s.run?.trim() === "npm ci"));
        assert.equal(all.at(-1)?.run?.trim(), "npm run lab -- reap --expired");
        const scripts = all.flatMap((s) => (s.run ? [s.run] : []));
        for (const script of scripts) {
            assert.doesNotMatch(script, /\|\|\s*true|2>\s*\/dev\/null|set \+e|continue-on-error/, `an error would be swallowed: ${script}`);
            assert.doesNotMatch(script, /\bpulumi\b/, `the lab CLI, not the workflow, drives pulumi: ${script}`);
        }
        assert.ok(!JSON.stringify(workflow("reap.yml")).includes("continue-on-error"));
    });
});

describe("the reaper's IAM policy", () => {
    const policy = JSON.parse(readFileSync(join(REPO_ROOT, ".github", "iam", "reaper-policy.json"), "utf8"));
    const trust = JSON.parse(readFileSync(join(REPO_ROOT, ".github", "iam", "reaper-trust-policy.json"), "utf8"));
    const actions = new Set<string>(policy.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));

    /** What `pulumi destroy` calls to delete each AWS resource type the platform creates. */
    const DELETE_ACTIONS: Record<string, string[]> = {
        "ec2.Instance": ["ec2:TerminateInstances", "ec2:DescribeInstances"],
        "ec2.PlacementGroup": ["ec2:DeletePlacementGroup", "ec2:DescribePlacementGroups"],
        "ec2.KeyPair": ["ec2:DeleteKeyPair", "ec2:DescribeKeyPairs"],
        "ec2.Vpc": ["ec2:DeleteVpc", "ec2:DescribeVpcs"],
        "ec2.InternetGateway": ["ec2:DetachInternetGateway", "ec2:DeleteInternetGateway", "ec2:DescribeInternetGateways"],
        "ec2.Subnet": ["ec2:DeleteSubnet", "ec2:DescribeSubnets"],
        "ec2.RouteTable": ["ec2:DeleteRouteTable", "ec2:DescribeRouteTables"],
        "ec2.RouteTableAssociation": ["ec2:DisassociateRouteTable"],
        "ec2.SecurityGroup": ["ec2:DeleteSecurityGroup", "ec2:DescribeSecurityGroups"],
        // The VPC's default ACL: destroy only forgets it (AWS deletes it with the VPC); reading it is all.
        "ec2.DefaultNetworkAcl": ["ec2:DescribeNetworkAcls"],
        "iam.Role": ["iam:DeleteRole", "iam:GetRole", "iam:ListInstanceProfilesForRole"],
        "iam.RolePolicy": ["iam:DeleteRolePolicy", "iam:GetRolePolicy"],
        "scheduler.Schedule": ["scheduler:DeleteSchedule", "scheduler:GetSchedule"],
        // a provider resource has nothing to delete
        Provider: [],
    };

    test("every AWS resource type the platform creates can be deleted by the reaper", () => {
        const dir = join(REPO_ROOT, "components", "platform", "aws");
        const types = new Set<string>();
        for (const f of readdirSync(dir).filter((x) => x.endsWith(".ts"))) {
            for (const m of readFileSync(join(dir, f), "utf8").matchAll(/new aws\.((?:\w+\.)?[A-Z]\w*)\(/g)) types.add(m[1]);
        }
        assert.ok(types.has("ec2.Instance") && types.size >= 10, [...types].join(", "));
        for (const type of types) {
            assert.ok(DELETE_ACTIONS[type], `aws.${type} is new: add its delete actions to .github/iam/reaper-policy.json and to this table`);
            for (const action of DELETE_ACTIONS[type]) assert.ok(actions.has(action), `${action} (to delete aws.${type}) missing from the reaper policy`);
        }
    });

    test("it can create nothing and pass no role; deletions are scoped to lab stacks", () => {
        for (const a of actions) {
            assert.match(a, /^[a-z0-9]+:[A-Z][A-Za-z]+$/, `not one action: ${a}`);
            assert.doesNotMatch(a, /:(Create|Run|Put(?!Object)|Attach|Associate|Authorize|Import|Pass)/, a);
        }
        for (const s of policy.Statement as { Sid: string; Action: string | string[]; Resource: string; Condition?: object }[]) {
            const deletes = [s.Action].flat().some((a) => /:(Delete|Terminate|Detach|Disassociate|Revoke|Modify)/.test(a));
            if (!deletes || s.Sid === "StateBackendObjects") continue;
            assert.ok(JSON.stringify(s.Condition ?? {}).includes("lab:stack") || /lab-teardown-/.test(s.Resource), `${s.Sid} is not scoped to lab resources`);
        }
    });

    test("the names it scopes the teardown role and schedule by are the platform's", () => {
        const src = (f: string) => readFileSync(join(REPO_ROOT, "components", "platform", "aws", f), "utf8");
        assert.match(src("aws.ts"), /new AwsPlatform\(\s*"lab"/);
        assert.match(src("awsPlatform.ts"), /new LabTeardown\(\s*`\$\{name\}-teardown`/);
        assert.match(src("teardown.ts"), /new aws\.iam\.Role\(\s*`\$\{name\}-role`/);
        // One schedule per instance: lab-teardown-expiry-<host>.
        assert.match(src("teardown.ts"), /new aws\.scheduler\.Schedule\(\s*`\$\{name\}-expiry-\$\{host\}`/);
        const resources = JSON.stringify(policy.Statement.map((s: { Resource: string }) => s.Resource));
        assert.match(resources, /role\/lab-teardown-role-\*/);
        assert.match(resources, /schedule\/default\/lab-teardown-expiry-\*/);
    });

    test("only this repository's default branch may assume the role, through GitHub OIDC", () => {
        const [s] = trust.Statement;
        assert.equal(trust.Statement.length, 1);
        assert.equal(s.Action, "sts:AssumeRoleWithWebIdentity");
        assert.match(s.Principal.Federated, /oidc-provider\/token\.actions\.githubusercontent\.com$/);
        assert.equal(s.Condition.StringEquals["token.actions.githubusercontent.com:aud"], "sts.amazonaws.com");
        assert.match(s.Condition.StringEquals["token.actions.githubusercontent.com:sub"], /^repo:<OWNER>\/<REPOSITORY>:ref:refs\/heads\/<DEFAULT_BRANCH>$/);
    });
});
