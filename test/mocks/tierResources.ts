// `node test/mocks/tierResources.ts <aws stack> [<extra config JSON>]`: prints, as JSON, every
// resource the program registers for the stack under Pulumi's mocks (type, logical name, inputs
// with secrets revealed, the engine options). One process per stack: the program module can be
// imported once per process. Not a test file; test/unit/awsLimits.test.ts runs it per tier.
import { OPERATOR_CIDR, revealDeep, runProgram } from "./harness.ts";

const stack = process.argv[2];
if (!stack) throw new Error("usage: tierResources.ts <aws stack> [<extra config JSON>]");
const extra = JSON.parse(process.argv[3] ?? "{}") as Record<string, unknown>;
const run = await runProgram(stack, { "c2m:aws": { operatorCidr: OPERATOR_CIDR }, ...extra });
process.stdout.write(
    JSON.stringify({
        resources: run.resources.map((r) => ({ type: r.type, name: r.name, inputs: revealDeep(r.inputs), options: r.options })),
        calls: run.calls,
    }),
);
