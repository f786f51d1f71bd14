// Mocks test of stack aws-smoke, the cents-per-hour first AWS run: the seed tiers' code path at
// the smallest cost (own file: the program module is imported once per process).
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import YAML from "yaml";
import { OPERATOR_CIDR, ofType, reveal, revealDeep, runProgram, type ProgramRun } from "./harness.ts";
import { outputShaped, providerDefaultTags } from "./outputShape.ts";
import { budgetProblems, imdsProblems, trafficLayoutProblems, ttlTagProblems } from "../../policy/policies.ts";
import { awsStringProblems } from "../../components/platform/aws/limits.ts";
import { fleetUsdPerHour, INSTANCE_TYPES } from "../../components/plan/prices.ts";

describe("mocks: stack aws-smoke", () => {
    let run: ProgramRun;
    let startedAt: number;
    before(async () => {
        startedAt = Date.now();
        run = await runProgram("aws-smoke", { "c2m:aws": { operatorCidr: OPERATOR_CIDR } });
    });
    const instances = () => ofType(run, "aws:ec2/instance:Instance");
    const byRole = (role: string) => instances().filter((i) => i.inputs.tags["lab:role"] === role);

    test("one LB, one client, one backend and the metrics host, of small types; no placement group", () => {
        assert.equal(instances().length, 4);
        for (const role of ["haproxy", "client", "backend", "metrics"]) assert.equal(byRole(role).length, 1, role);
        for (const i of instances()) assert.ok(INSTANCE_TYPES[i.inputs.instanceType].vcpu <= 2, `${i.name}: ${i.inputs.instanceType}`);
        assert.equal(ofType(run, "aws:ec2/placementGroup:PlacementGroup").length, 0);
    });

    test("well under $1/h (list prices, components/plan/prices.ts), and the budget tag caps it at $1/h", () => {
        const counts = new Map<string, number>();
        for (const i of instances()) counts.set(i.inputs.instanceType, (counts.get(i.inputs.instanceType) ?? 0) + 1);
        const usd = fleetUsdPerHour(
            [...counts].map(([t, count]) => ({ role: t, instanceType: t, count })),
            16,
        );
        assert.ok(usd < 0.5, `~$${usd}/h`);
        assert.equal((run.exports.aws.value as any).plannedUsdPerHour, usd);
        for (const i of instances()) assert.equal(i.inputs.tags["lab:budget-usd-per-hour"], "1");
    });

    test("a 1 h lease: tags, exported expiry and each host's own timer", () => {
        const expiry = Date.parse(run.exports.expiresAt.value as string);
        assert.ok(Math.abs(expiry - startedAt - 3_600_000) < 120_000, `expires ${run.exports.expiresAt.value}`);
        for (const i of instances()) {
            assert.equal(i.inputs.tags["lab:expires-at"], run.exports.expiresAt.value);
            assert.match(reveal(i.inputs.userData), /OnCalendar=/);
        }
    });

    test("the same code path: Debian 12 pin, host keys, schedules, ACL, metrics, every role's user data", () => {
        assert.equal(ofType(run, "aws:scheduler/schedule:Schedule").length, 4);
        assert.equal(ofType(run, "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl").length, 1);
        assert.ok(run.calls.some((c) => c.token === "aws:ssm/getParameter:getParameter"));
        for (const i of instances()) {
            const doc = YAML.parse(reveal(i.inputs.userData));
            assert.match(doc.ssh_keys.ed25519_public, /^ssh-ed25519 /);
            assert.ok((doc.packages as string[]).includes("prometheus-node-exporter"));
        }
        assert.ok((YAML.parse(reveal(byRole("metrics")[0].inputs.userData)).packages as string[]).includes("prometheus"));
    });

    test("passes the policy pack (inputs and output-shaped) and AWS's string limits", () => {
        const inputs = run.resources.map((r) => ({ type: r.type, props: revealDeep(r.inputs) }));
        const outputs = run.resources.map((r) => ({ type: r.type, props: outputShaped(r.type, revealDeep(r.inputs), providerDefaultTags(run.resources)) }));
        assert.deepEqual(
            inputs.flatMap((r) => [...ttlTagProblems(r.type, r.props), ...imdsProblems(r.type, r.props)]),
            [],
        );
        assert.deepEqual([...trafficLayoutProblems(outputs), ...budgetProblems(outputs)], []);
        assert.deepEqual(
            run.resources.flatMap((r) => awsStringProblems(r.type, r.name, revealDeep(r.inputs))),
            [],
        );
    });
});
