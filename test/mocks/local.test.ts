// Mocks test of the local stack: the platform switch keeps AWS out of it entirely.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { outputsJson, runProgram, type ProgramRun } from "./harness.ts";
import { parseRecord } from "../../components/records/io.ts";
import { StackOutputsSchema } from "../../components/records/stackOutputs.ts";

describe("mocks: stack local", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("local");
    });

    test("registers no AWS resource, provider or lookup (no AWS plugin needed)", () => {
        assert.ok(run.resources.length > 0);
        const aws = run.resources.filter((r) => r.type.startsWith("aws:") || r.type === "pulumi:providers:aws");
        assert.deepEqual(
            aws.map((r) => r.type),
            [],
        );
        assert.deepEqual(
            run.calls.filter((c) => c.token.startsWith("aws:")),
            [],
        );
        assert.equal(run.exports.aws.value, undefined);
    });
    test("local hosts keep SSH on their lab address", () => {
        for (const h of run.exports.inventory.value as { address: string; ssh: { host: string } }[]) assert.equal(h.ssh.host, h.address);
    });
    test("the outputs are what the scripts read (StackOutputsSchema)", () => {
        const out = parseRecord(outputsJson(run), StackOutputsSchema, "outputs of the mocked local stack");
        assert.equal(out.aws, undefined);
    });
});
