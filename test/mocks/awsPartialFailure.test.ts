// Mocks test of a first `up` where one launch fails (client-3: e.g. no capacity): every instance
// that exists still has its dead-man switch, and the expiry is known (own file: the program
// module is imported once per process).
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ofType, reveal, type ProgramRun } from "./harness.ts";
import { TERMINATE_TARGET_ARN } from "../../components/platform/aws/teardown.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";

const FAILED = "lab-hosts-client-3";

describe(`mocks: aws-16c30g, the launch of ${FAILED} fails`, () => {
    let run: ProgramRun;
    before(() => {
        // In a process of its own: what depends on the failed launch rejects, unhandled (runFailing.ts).
        const r = spawnSync(process.execPath, [join(REPO_ROOT, "test", "mocks", "runFailing.ts"), "aws-16c30g", FAILED], {
            cwd: REPO_ROOT,
            encoding: "utf8",
            timeout: 120_000,
            maxBuffer: 64 * 1024 * 1024,
        });
        assert.equal(r.status, 0, r.stderr);
        run = { ...JSON.parse(r.stdout), calls: [] };
    });
    const instances = () => ofType(run, "aws:ec2/instance:Instance");

    test("the other 29 instances exist", () => {
        assert.equal(instances().length, 29);
        assert.ok(!instances().some((i) => i.name === FAILED));
    });

    test("each of them has its own termination schedule at the expiry; the failed one takes none with it", () => {
        const schedules = ofType(run, "aws:scheduler/schedule:Schedule");
        const expiry = instances()[0].inputs.tags["lab:expires-at"] as string;
        const terminated = schedules.map((s) => {
            assert.equal(s.inputs.scheduleExpression, `at(${expiry.replace(/Z$/, "")})`);
            assert.equal(s.inputs.target.arn, TERMINATE_TARGET_ARN);
            return (JSON.parse(s.inputs.target.input).InstanceIds as string[]).join(",");
        });
        assert.deepEqual(
            terminated.sort(),
            instances()
                .map((i) => `${i.name}-id`)
                .sort(),
        );
    });

    test("the schedules' role and its terminate-by-tag policy exist", () => {
        assert.equal(ofType(run, "aws:iam/role:Role").length, 1);
        assert.equal(ofType(run, "aws:iam/rolePolicy:RolePolicy").length, 1);
    });

    test("each existing host still ends itself: its user data has the timer, and the expiry is renewed on it", () => {
        for (const i of instances()) assert.match(reveal(i.inputs.userData), /OnCalendar=/, i.name);
        const renewals = ofType(run, "command:remote:Command").filter((c) => c.name.endsWith("-expiry"));
        assert.equal(renewals.length, 29);
    });

    test("the expiry comes from the config, not from the instances: its output resolves; the summary lists what exists", () => {
        const expiry = instances()[0].inputs.tags["lab:expires-at"] as string;
        assert.equal(run.exports.expiresAt.error, undefined);
        assert.equal(run.exports.expiresAt.value, expiry);
        const aws = run.exports.aws.value as { instanceIds: string[]; teardownSchedules: string[]; expiresAt: string };
        assert.equal(run.exports.aws.error, undefined);
        assert.equal(aws.expiresAt, expiry);
        assert.equal(aws.instanceIds.length, 29);
        assert.equal(aws.teardownSchedules.length, 29);
        // What needs the failed host does fail (the engine reports the update as failed).
        assert.match(run.exports.inventory.error ?? "", /mocked failure|failed/);
    });
});
