// docs/aws.md against the code: its table of tiers is what `lab plan` computes, every test it cites
// exists, and every item of "Unverified without an account" carries the command that settles it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";
import { planStack, readTierConfig } from "../../scripts/lib/tierPlan.ts";

const DOC = readFileSync(join(REPO_ROOT, "docs", "aws.md"), "utf8");

describe("docs/aws.md", () => {
    test("the tiers table: each stack's hourly cost (rounded as written) and vCPUs are the plan's", () => {
        const rows = [...DOC.matchAll(/^\| `(aws-[\w-]+)` \|[^|]*\|[^|]*\| ~([\d.]+) \| (\d+) \|$/gm)];
        assert.ok(rows.length >= 4, `${rows.length} tier rows`);
        for (const [, stack, usd, vcpus] of rows) {
            const p = planStack(stack, readTierConfig(stack));
            assert.equal(Number(vcpus), p.vcpu_quota.vcpus_needed, stack);
            const digits = usd.includes(".") ? usd.split(".")[1].length : 0;
            assert.equal(Number(usd), Number(p.usd_per_hour.toFixed(digits)), `${stack}: ~${usd} $/h written, plan ${p.usd_per_hour}`);
        }
    });
    test("every test file it cites exists", () => {
        const cited = [...new Set([...DOC.matchAll(/`(test\/[\w/.-]+\.ts)`/g)].map((m) => m[1]))];
        assert.ok(cited.length >= 8, cited.join(" "));
        for (const f of cited) assert.ok(existsSync(join(REPO_ROOT, f)), f);
    });
    test("every unverified item names its first verifying command", () => {
        const section = DOC.slice(DOC.indexOf("## Unverified without an account"));
        const items = section.split(/\n(?=\d+\. )/).slice(1);
        assert.ok(items.length >= 8, `${items.length} items`);
        for (const item of items) assert.match(item, /`[^`]*\b(aws|ssh|jq|pulumi|gh)\b[^`]*`/, item.slice(0, 80));
    });
});
