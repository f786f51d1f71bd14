// `node test/mocks/runFailing.ts <aws stack> <resource name>`: runs the program under mocks with
// that resource's creation failing, and prints the registered resources (type, name, inputs,
// options) and the exports as JSON. Not a test file: a failed resource leaves rejections the
// program does not handle (as with the real engine), which a test process would count against
// itself; test/mocks/awsPartialFailure.test.ts runs this in a process of its own.
import { OPERATOR_CIDR, runProgram } from "./harness.ts";

const [stack, failing] = process.argv.slice(2);
if (!stack || !failing) throw new Error("usage: runFailing.ts <aws stack> <resource name>");
process.on("unhandledRejection", () => {
    /* what depends on the failed resource fails: expected */
});
const run = await runProgram(stack, { "c2m:aws": { operatorCidr: OPERATOR_CIDR } }, { failResources: [failing] });
process.stdout.write(JSON.stringify({ resources: run.resources, exports: run.exports }));
