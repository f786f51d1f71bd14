// A stack's lease (c2m:ttlHours after its last up) and the scheduled teardown of every stack past
// it (`lab reap --expired`). The lease is read from the stack's outputs, or from its state's tags
// when an up failed before it saved outputs.
import { isExpired, LAB_TAG } from "../../components/platform/labTags.ts";
import { residueCount } from "../../components/platform/platform.ts";
import { failure, listStacks, outputValues, teardownStack, workspace } from "./pulumiStack.ts";

/**
 * The lease a stack's outputs carry. No outputs at all means nothing is deployed (never up, or
 * destroyed): undefined. Outputs without a readable `expiresAt` are an error, never "not expired":
 * scheduled teardown must not skip a lab it cannot judge. Pure.
 */
export function expiryOf(stack: string, outputs: Record<string, unknown>): string | undefined {
    if (Object.keys(outputs).length === 0) return undefined;
    const value = outputs.expiresAt;
    if (typeof value !== "string" || !Number.isFinite(Date.parse(value))) {
        throw new Error(`stack ${stack}: its outputs have no readable expiresAt (got ${JSON.stringify(value)}): cannot tell whether it expired`);
    }
    return value;
}

interface StateResource {
    type: string;
    inputs?: { tags?: Record<string, string> };
    outputs?: { tags?: Record<string, string> };
}

/**
 * The lease of a stack without outputs, from its state: an `up` that failed part-way saves no
 * outputs, yet may have created billed resources. Undefined when the state holds nothing but the
 * stack and its providers; the earliest `lab:expires-at` tag when one is found; else an error. Pure.
 */
export function expiryFromState(stack: string, resources: StateResource[]): string | undefined {
    const created = resources.filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"));
    if (created.length === 0) return undefined;
    const tagged = created
        .map((r) => r.outputs?.tags?.[LAB_TAG.expiresAt] ?? r.inputs?.tags?.[LAB_TAG.expiresAt])
        .filter((t): t is string => typeof t === "string" && Number.isFinite(Date.parse(t)))
        .sort((a, b) => Date.parse(a) - Date.parse(b));
    if (tagged.length) return tagged[0];
    throw new Error(
        `stack ${stack}: no outputs (a failed up?) and none of its ${created.length} resources carries ${LAB_TAG.expiresAt}: cannot tell whether it expired`,
    );
}

/** A stack's lease: its `expiresAt` output, else its state's tags; undefined when nothing is deployed; throws when it cannot be read (backend, passphrase). */
export async function stackExpiry(stack: string): Promise<string | undefined> {
    const values = await outputValues(stack);
    if (Object.keys(values).length > 0) return expiryOf(stack, values);
    const exported = await (await workspace()).exportStack(stack).catch((err: Error) => {
        throw new Error(`stack ${stack}: pulumi stack export failed (${failure(err)})`);
    });
    return expiryFromState(stack, (exported.deployment as { resources?: StateResource[] } | undefined)?.resources ?? []);
}

/**
 * Scheduled teardown from a shell (the GitHub workflow runs it for s3:// backends): every stack
 * whose lease has run out is destroyed, removed and reaped by name. A stack whose lease cannot be
 * read, or whose teardown leaves something, does not stop the others, and ends in an error naming it.
 */
export async function reapExpired(now = new Date(), only?: string[]): Promise<{ stack: string; expiresAt: string; residue: number }[]> {
    const reaped = [];
    const failures: string[] = [];
    for (const stack of (await listStacks()).filter((s) => !only || only.includes(s))) {
        let expiresAt: string | undefined;
        try {
            expiresAt = await stackExpiry(stack);
        } catch (err) {
            failures.push((err as Error).message);
            continue;
        }
        if (!expiresAt || !isExpired(expiresAt, now)) continue;
        process.stderr.write(`reap: ${stack} expired at ${expiresAt}: tearing it down\n`);
        const residue = residueCount(await teardownStack(stack));
        if (residue > 0) failures.push(`stack ${stack}: ${residue} item(s) left after teardown`);
        reaped.push({ stack, expiresAt, residue });
    }
    if (failures.length) throw new Error(`reap --expired: ${failures.length} problem(s):\n  ${failures.join("\n  ")}`);
    return reaped;
}
