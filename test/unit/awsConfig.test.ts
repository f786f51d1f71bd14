import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../components/config.ts";
import { parseLabConfig } from "../../components/loadConfig.ts";
import { awsSettings, sourceIpsPerClient } from "../../components/platform/aws/settings.ts";
import { hostAddresses, MAX_HOSTS } from "../../components/platform/aws/addressPlan.ts";
import { expiryFrom, isExpired, labTags, schedulerAt } from "../../components/platform/labTags.ts";
import { isLabTarget } from "../../components/platform/addressPlan.ts";

function problems(raw: Record<string, unknown>, fn: (cfg: ReturnType<typeof parseLabConfig>) => unknown = () => undefined): string[] {
    try {
        fn(parseLabConfig(raw));
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
        return err.problems;
    }
    assert.fail(`accepted: ${JSON.stringify(raw)}`);
}

const tier = (aws: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
    platform: "aws",
    hosts: { haproxy: 1, backends: 8, clients: 20 },
    plan: { connections: 1_050_000, tlsShare: 1 },
    aws: { operatorCidr: "203.0.113.7/32", secondaryIpsPerClient: 3, ...aws },
    ...extra,
});

describe("c2m:aws schema", () => {
    test("defaults: us-east-1, seed-shaped instance types, nofile 4M, a budget", () => {
        const cfg = parseLabConfig({ platform: "aws" });
        assert.equal(cfg.platform, "aws");
        assert.equal(cfg.aws.region, "us-east-1");
        assert.deepEqual(cfg.aws.instanceTypes, { haproxy: "m6i.4xlarge", backend: "c6i.2xlarge", client: "c6i.8xlarge" });
        assert.equal(cfg.aws.nofileCeiling, 4_194_304);
        assert.equal(cfg.aws.operatorCidr, undefined);
        assert.ok(cfg.aws.budgetUsdPerHour > 0);
    });
    test("the local stack does not need an aws section", () => {
        assert.equal(parseLabConfig({}).platform, "local");
    });
    for (const cidr of ["0.0.0.0/0", "10.0.0.0/4"]) {
        test(`operatorCidr ${cidr} is refused, naming the key`, () => {
            const p = problems({ platform: "aws", aws: { operatorCidr: cidr } });
            assert.match(p[0], /^c2m:aws\.operatorCidr: /);
            assert.match(p[0], /whole internet|huge range/);
        });
    }
    for (const cidr of ["203.0.113.7", "203.0.113.7/33", "300.1.1.1/32", "example.com/32"]) {
        test(`operatorCidr "${cidr}" is not a CIDR block`, () => {
            assert.match(problems({ aws: { operatorCidr: cidr } })[0], /^c2m:aws\.operatorCidr: .*not an IPv4 CIDR/);
        });
    }
    test("operatorCidr with host bits set is refused", () => {
        assert.match(problems({ aws: { operatorCidr: "203.0.113.7/24" } })[0], /^c2m:aws\.operatorCidr: .*host bits/);
    });
    test("a /32 and a /16 are accepted", () => {
        for (const cidr of ["203.0.113.7/32", "198.51.0.0/16"]) assert.equal(parseLabConfig({ aws: { operatorCidr: cidr } }).aws.operatorCidr, cidr);
    });
    test("unknown keys, bad regions and bad instance types name their key", () => {
        assert.match(problems({ aws: { regoin: "us-east-1" } })[0], /^c2m:aws: /);
        assert.match(problems({ aws: { region: "mars" } })[0], /^c2m:aws\.region: /);
        assert.match(problems({ aws: { instanceTypes: { client: "huge" } } })[0], /^c2m:aws\.instanceTypes\.client: /);
        assert.match(problems({ aws: { budgetUsdPerHour: -1 } })[0], /^c2m:aws\.budgetUsdPerHour: /);
        assert.match(problems({ platform: "gcp" })[0], /^c2m:platform: /);
    });
});

describe("awsSettings: what the platform refuses before creating anything", () => {
    test("a seed tier passes and keeps the operator CIDR", () => {
        const s = awsSettings("aws-16c64g", parseLabConfig(tier()));
        assert.equal(s.operatorCidr, "203.0.113.7/32");
        assert.equal(s.sourceIpsPerClient, 4);
        assert.ok(s.plan.fits);
    });
    test("operatorCidr is required on platform aws", () => {
        const p = problems(tier({ operatorCidr: undefined }), (cfg) => awsSettings("s", cfg));
        assert.match(p[0], /^c2m:aws\.operatorCidr: required/);
    });
    test("an instance type without a known price is refused", () => {
        const p = problems(tier({ instanceTypes: { haproxy: "x9.mega" } }), (cfg) => awsSettings("s", cfg));
        assert.match(p[0], /^c2m:aws\.instanceTypes\.haproxy: /);
    });
    test("more secondary IPs than the client's interface holds is refused", () => {
        const p = problems(tier({ instanceTypes: { client: "c6i.xlarge" }, secondaryIpsPerClient: 20 }), (cfg) => awsSettings("s", cfg));
        assert.ok(
            p.some((x) => /^c2m:aws\.secondaryIpsPerClient: c6i\.xlarge holds 15/.test(x)),
            p.join("\n"),
        );
    });
    test("too few source addresses for the planned connections is refused", () => {
        const p = problems(tier({ secondaryIpsPerClient: 0 }, { hosts: { haproxy: 1, backends: 8, clients: 4 } }), (cfg) => awsSettings("s", cfg));
        assert.ok(
            p.some((x) => /^c2m:aws\.secondaryIpsPerClient: 0 gives each client 1 source addresses/.test(x)),
            p.join("\n"),
        );
    });
    test("a fleet above the budget is refused, naming the budget key", () => {
        const p = problems(tier({ budgetUsdPerHour: 5 }), (cfg) => awsSettings("s", cfg));
        assert.ok(
            p.some((x) => /^c2m:aws\.budgetUsdPerHour: the fleet costs ~\$\d+/.test(x)),
            p.join("\n"),
        );
    });
    test("c2m:aws.ami pins the image (an AMI id) and reaches the platform; absent by default", () => {
        assert.equal(awsSettings("s", parseLabConfig(tier())).ami, undefined);
        assert.equal(awsSettings("s", parseLabConfig(tier({ ami: "ami-0123456789abcdef0" }))).ami, "ami-0123456789abcdef0");
        const p = problems(tier({ ami: "ubuntu-noble" }));
        assert.ok(
            p.some((x) => /^c2m:aws\.ami: an AMI id like ami-/.test(x)),
            p.join("\n"),
        );
    });
    test("c2m:image on EC2: each role's Debian release; c2m:aws.ami with a debian-13 role is refused before anything exists, naming both keys", () => {
        assert.deepEqual(awsSettings("s", parseLabConfig(tier({}, { image: { haproxy: "debian-13" } }))).images, {
            haproxy: "debian-13",
            backend: "machine",
            client: "machine",
            metrics: "machine",
        });
        const p = problems(tier({ ami: "ami-0123456789abcdef0" }, { image: { haproxy: "debian-13" } }), (cfg) => awsSettings("s", cfg));
        assert.ok(
            p.some((x) => /^c2m:aws\.ami: pins every instance to ami-0123456789abcdef0, but c2m:image asks haproxy debian-13: remove c2m:aws\.ami/.test(x)),
            p.join("\n"),
        );
        assert.equal(awsSettings("s", parseLabConfig(tier({ ami: "ami-0123456789abcdef0" }, { image: "debian-12" }))).ami, "ami-0123456789abcdef0");
    });
    test("a lab service on a port the lab ACL opens to download replies (32768-60999) is refused, naming its key", () => {
        const p = problems(tier({}, { backend: { basePort: 40000 } }), (cfg) => awsSettings("s", cfg));
        assert.ok(
            p.some((x) => /^c2m:backend\.basePort: port\(s\) 40000, 40001, .* are in 32768-60999, where the lab subnet's network ACL/.test(x)),
            p.join("\n"),
        );
        const stats = problems(tier({}, { haproxy: { statsPort: 60999 } }), (cfg) => awsSettings("s", cfg));
        assert.ok(
            stats.some((x) => /^c2m:haproxy\.statsPort: port\(s\) 60999 /.test(x)),
            stats.join("\n"),
        );
        assert.doesNotThrow(() => awsSettings("s", parseLabConfig(tier())));
    });
    test("the metrics host is priced too (its type, or the default one)", () => {
        const withMetrics = awsSettings("s", parseLabConfig(tier({}, { hosts: { haproxy: 1, backends: 8, clients: 20, metrics: 1 } })));
        const without = awsSettings("s", parseLabConfig(tier()));
        assert.equal(withMetrics.plan.roles.metrics?.instance_type, "c6i.large");
        assert.ok(withMetrics.plan.usd_per_hour > without.plan.usd_per_hour);
        assert.equal(without.plan.roles.metrics, undefined);
    });
    test("without secondaryIpsPerClient, addresses come from the capacity plan", () => {
        const cfg = parseLabConfig(tier({ secondaryIpsPerClient: undefined }, { hosts: { haproxy: 1, backends: 8, clients: 4 } }));
        assert.equal(sourceIpsPerClient(cfg), Math.ceil(1_050_000 / 4 / 64512));
    });
});

describe("AWS address plan", () => {
    test("hosts get disjoint blocks inside 198.18.0.0/19, all lab targets", () => {
        const seen = new Set<string>();
        for (let i = 0; i < MAX_HOSTS; i++) {
            for (const ip of hostAddresses(i, 31)) {
                assert.ok(!seen.has(ip), `${ip} twice`);
                seen.add(ip);
                assert.ok(isLabTarget(ip), `${ip} outside the lab range`);
                const last = Number(ip.split(".")[3]);
                assert.ok(!(ip.startsWith("198.18.0.") && last < 4), `${ip} is reserved by AWS`);
            }
        }
        assert.deepEqual(hostAddresses(0, 3), ["198.18.0.32", "198.18.0.33", "198.18.0.34"]);
        assert.throws(() => hostAddresses(MAX_HOSTS, 1), /outside/);
        assert.throws(() => hostAddresses(0, 32), /addresses per host/);
    });
});

describe("lab tags and expiry", () => {
    test("expiry is ttl hours later, UTC, to the second; the schedule fires then", () => {
        const at = expiryFrom(new Date("2026-11-25T23:10:00.250Z"), 4);
        assert.equal(at, "2026-11-26T03:10:01Z");
        assert.equal(schedulerAt(at), "at(2026-11-26T03:10:01)");
        assert.throws(() => schedulerAt("tomorrow"), /not a UTC instant/);
        assert.equal(isExpired(at, new Date("2026-11-26T03:10:01Z")), true);
        assert.equal(isExpired(at, new Date("2026-11-26T03:10:00Z")), false);
    });
    test("the three lab tags", () => {
        assert.deepEqual(Object.keys(labTags({ stack: "s", owner: "o", expiresAt: "x" })), ["lab:stack", "lab:owner", "lab:expires-at"]);
    });
});
