// `node test/unit/tierUserData.ts <aws stack> [<extra config JSON>]`: prints, as JSON by role, the user data the program
// gives the stack's EC2 instances (index.ts under Pulumi's mocks, the stack's Pulumi.<stack>.yaml).
// A process per stack: the program module can be imported once per process. Not a test file;
// test/unit/awsUserDataSchema.test.ts runs it.
import { OPERATOR_CIDR, ofType, reveal, runProgram } from "../mocks/harness.ts";

const stack = process.argv[2];
if (!stack) throw new Error("usage: tierUserData.ts <aws stack> [<extra config JSON>]");
const extra = JSON.parse(process.argv[3] ?? "{}") as Record<string, unknown>;
const run = await runProgram(stack, { "c2m:aws": { operatorCidr: OPERATOR_CIDR }, ...extra });
const byRole: Record<string, { host: string; userData: string }[]> = {};
for (const i of ofType(run, "aws:ec2/instance:Instance")) {
    const role = String(i.inputs.tags?.["lab:role"]);
    (byRole[role] ??= []).push({ host: i.name, userData: String(reveal(i.inputs.userData)) });
}
process.stdout.write(JSON.stringify(byRole));
