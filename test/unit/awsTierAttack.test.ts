// Each aws tier's default attack goes through the frontends its plan is sized for: a tier planned
// 100 % TLS attacks the TLS frontend only (its memory plan would not hold for plain), a plain one
// the plain frontend, a mix both.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { attackSettings } from "../../components/render/attack.ts";
import { readTierConfig } from "../../scripts/lib/tierPlan.ts";
import { REPO_ROOT } from "../../scripts/toolchain/toolchain.ts";

const TIERS = readdirSync(REPO_ROOT).flatMap((f) => /^Pulumi\.(aws-[\w-]+)\.yaml$/.exec(f)?.[1] ?? []);

/** The frontends a plan with this TLS share is sized for. */
function plannedFrontends(tlsShare: number): string[] {
    if (tlsShare === 1) return ["tls"];
    if (tlsShare === 0) return ["plain"];
    return ["plain", "tls"];
}

describe("aws tiers: the default attack matches the plan", () => {
    test("the seed's three tiers are there", () => {
        for (const t of ["aws-4c30g", "aws-16c30g", "aws-16c64g"]) assert.ok(TIERS.includes(t), TIERS.join(", "));
    });
    for (const stack of TIERS) {
        test(`${stack}: attack frontends = what plan.tlsShare sizes for`, () => {
            const config = readTierConfig(stack);
            const frontends = attackSettings(config.attack).frontends;
            assert.deepEqual(
                [...frontends].sort(),
                plannedFrontends(config.plan.tlsShare),
                `${stack} plans ${config.plan.tlsShare * 100} % TLS but attacks ${frontends.join("+")}`,
            );
            if (frontends.includes("tls")) assert.equal(config.haproxy.tls.enabled, true);
        });
    }
});
