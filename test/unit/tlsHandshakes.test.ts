// The planner's TLS ramp is paced by the certificate's own handshake rate (measured by
// bench/tlsHandshakes.ts), not the ECDSA one whatever the key: RSA-2048 ramps slower.
import { test } from "node:test";
import assert from "node:assert/strict";
import { handshakesPerCore, MEASURED_AT, TLS_HANDSHAKES_PER_CORE_PER_S, tlsRampSeconds } from "../../components/plan/tlsHandshakes.ts";
import { planTier } from "../../components/plan/planner.ts";
import { plannerInput } from "../../components/platform/aws/settings.ts";
import { planCapacity } from "../../components/plan/capacity.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { CERTIFICATES } from "../../components/config.ts";
import { instanceType } from "../../components/plan/prices.ts";
import { seedTierPlannerInput } from "./helpers.ts";

const input = seedTierPlannerInput;

test("every certificate key has a measured rate; RSA-2048 and P-384 handshakes are slower than P-256's", () => {
    for (const c of CERTIFICATES) assert.ok(TLS_HANDSHAKES_PER_CORE_PER_S[c] > 0, c);
    assert.ok(handshakesPerCore("rsa-2048") < handshakesPerCore("ecdsa-p256"));
    assert.ok(handshakesPerCore("ecdsa-p384") < handshakesPerCore("ecdsa-p256"));
    assert.equal(handshakesPerCore(), handshakesPerCore("ecdsa-p256"), "no key given: the default ecdsa-p256");
    assert.match(MEASURED_AT, /^\d{4}-\d\d-\d\d/);
});

test("the TLS ramp follows the certificate: RSA-2048 takes its own rate, not ECDSA's", () => {
    const vcpu = instanceType("m6i.4xlarge")!.vcpu;
    const ecdsa = planTier(input());
    const rsa = planTier(input({ certificate: "rsa-2048" }));
    assert.equal(ecdsa.tls_certificate, "ecdsa-p256");
    assert.equal(rsa.tls_certificate, "rsa-2048");
    assert.equal(rsa.tls_handshakes_per_core_s, TLS_HANDSHAKES_PER_CORE_PER_S["rsa-2048"]);
    assert.equal(rsa.tls_ramp_s, Math.ceil(1_050_000 / (TLS_HANDSHAKES_PER_CORE_PER_S["rsa-2048"] * vcpu)));
    assert.equal(ecdsa.tls_ramp_s, Math.ceil(1_050_000 / (TLS_HANDSHAKES_PER_CORE_PER_S["ecdsa-p256"] * vcpu)));
    assert.ok(rsa.tls_ramp_s > ecdsa.tls_ramp_s);
    assert.equal(planTier(input({ certificate: "rsa-2048", tlsShare: 0 })).tls_ramp_s, 0, "no TLS connection, no ramp");
});

test("a stack's c2m:haproxy.tls.certificate (or curve) reaches the planner", () => {
    const plan = (raw: Record<string, unknown>) => {
        const config = parseLabConfig(raw);
        return planTier(plannerInput("t", config, planCapacity(config)));
    };
    assert.equal(plan({ haproxy: { tls: { certificate: "rsa-2048" } } }).tls_certificate, "rsa-2048");
    assert.equal(plan({ haproxy: { tls: { curve: "P-384" } } }).tls_certificate, "ecdsa-p384");
    assert.equal(plan({}).tls_certificate, "ecdsa-p256");
});

test("a ramp needs the LB's cores", () => {
    assert.throws(() => tlsRampSeconds(1000, 0), /the LB's cores must be > 0, got 0/);
    assert.equal(tlsRampSeconds(0, 4, "rsa-2048"), 0);
});
