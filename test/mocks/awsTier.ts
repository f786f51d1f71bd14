// The checks every AWS tier's mocks test runs (not a test file itself).
import { MAXCONN_HEADROOM } from "../../components/plan/capacity.ts";
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
    FAKE_PRIVATE_KEY,
    isSecretInput,
    OPERATOR_CIDR,
    ofType,
    outputsJson,
    reveal,
    revealDeep,
    runProgram,
    type ProgramRun,
    type Registered,
} from "./harness.ts";
import { outputShaped, providerDefaultTags } from "./outputShape.ts";
import type { ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { parseRecord } from "../../components/records/io.ts";
import { StackOutputsSchema } from "../../components/records/stackOutputs.ts";
import YAML from "yaml";
import { TERMINATE_TARGET_ARN } from "../../components/platform/aws/teardown.ts";
import { TUNING_SCRIPT } from "../../components/platform/aws/cloudInit.ts";
import { DEBIAN_AMI_PARAMETER } from "../../components/platform/aws/image.ts";
import { plannerInput } from "../../components/platform/aws/settings.ts";
import { planTier } from "../../components/plan/planner.ts";
import { EXPIRY_ENABLE, EXPIRY_UNIT, expiryRenewScript, onCalendar } from "../../components/platform/aws/expiry.ts";
import {
    EPHEMERAL_PORTS,
    LAB_NACL_EGRESS,
    LAB_SG_EGRESS,
    LAB_SG_INGRESS,
    labNaclIngress,
    type NetworkAclRule,
} from "../../components/platform/aws/trafficRules.ts";
import { ipToInt, readCidr } from "../../components/platform/addressPlan.ts";
import { isLabTarget } from "../../components/platform/addressPlan.ts";
import { budgetProblems, imdsProblems, POLICIES, STACK, trafficLayoutProblems, ttlTagProblems } from "../../policy/policies.ts";

export interface TierExpectation {
    stack: string;
    haproxyType: string;
    ttlHours: number;
    connections: number;
}

/** AWS types that carry no tags (the API has none for them). */
export const UNTAGGABLE = new Set(["aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:iam/rolePolicy:RolePolicy", "aws:scheduler/schedule:Schedule"]);

/** What a stateless ACL does with an inbound TCP packet from `source` to `port`: the first rule by number that matches, else `*` (deny). */
export function aclVerdict(rules: NetworkAclRule[], source: string, protocol: "tcp" | "udp", port: number): "allow" | "deny" {
    const inBlock = (cidr: string) => {
        const b = readCidr(cidr)!;
        const mask = b.prefix === 0 ? 0 : (~0 << (32 - b.prefix)) >>> 0;
        return (ipToInt(source) & mask) >>> 0 === (b.base & mask) >>> 0;
    };
    const rule = [...rules]
        .sort((a, b) => a.ruleNo - b.ruleNo)
        .find((r) => inBlock(r.cidrBlock) && (r.protocol === "-1" || (r.protocol === protocol && port >= r.fromPort && port <= r.toPort)));
    return rule?.action ?? "deny";
}

export function describeTier(e: TierExpectation): void {
    describe(`mocks: stack ${e.stack}`, () => {
        let run: ProgramRun;
        let startedAt: number;
        before(async () => {
            startedAt = Date.now();
            run = await runProgram(e.stack, { "c2m:aws": { operatorCidr: OPERATOR_CIDR } });
        });
        const instances = () => ofType(run, "aws:ec2/instance:Instance");
        const role = (r: Registered) => r.inputs.tags["lab:role"] as string;

        test("the metrics host by default (the seed's graphs and request log): priced in the plan, SSH-only like the rest", () => {
            const metrics = instances().filter((i) => role(i) === "metrics");
            assert.equal(metrics.length, 1);
            assert.equal(metrics[0].inputs.instanceType, "c6i.large");
            const plan = (run.exports.aws.value as any).plannedUsdPerHour as number;
            const withoutMetrics = planTier(
                plannerInput(
                    e.stack,
                    { ...(run.exports.labConfig.value as any), hosts: { ...(run.exports.labConfig.value as any).hosts, metrics: 0 } },
                    run.exports.capacityPlan.value as any,
                ),
            ).usd_per_hour;
            assert.ok(plan > withoutMetrics, `the plan (${plan}) does not price the metrics host (${withoutMetrics} without it)`);
            // Every host, the metrics one included, is behind the one ACL: only SSH from the operator reaches it from outside.
            const [subnet] = ofType(run, "aws:ec2/subnet:Subnet");
            assert.equal(metrics[0].inputs.subnetId, `${subnet.name}-id`);
            assert.equal(metrics[0].inputs.associatePublicIpAddress, true);
        });

        test("instance types and counts: 1 HAProxy of the tier, 8 backends, 20 clients × 32 vCPU", () => {
            const byRole = (x: string) => instances().filter((i) => role(i) === x);
            assert.equal(instances().length, 30);
            assert.deepEqual(
                byRole("haproxy").map((i) => i.inputs.instanceType),
                [e.haproxyType],
            );
            assert.deepEqual([...new Set(byRole("backend").map((i) => i.inputs.instanceType))], ["c6i.2xlarge"]);
            assert.equal(byRole("backend").length, 8);
            assert.deepEqual([...new Set(byRole("client").map((i) => i.inputs.instanceType))], ["c6i.8xlarge"]);
            assert.equal(byRole("client").length, 20);
        });

        test("Debian 12 from Debian's public SSM parameter, read once into a pin every instance follows (a re-created one gets the same)", () => {
            const reads = run.calls.filter((c) => c.token === "aws:ssm/getParameter:getParameter");
            assert.deepEqual(
                reads.map((c) => c.inputs.name),
                [DEBIAN_AMI_PARAMETER],
            );
            assert.equal(DEBIAN_AMI_PARAMETER, "/aws/service/debian/release/12/latest/amd64");
            assert.equal(run.calls.filter((c) => c.token === "aws:ec2/getAmi:getAmi").length, 0, "no lookup that moves on by itself");
            const pins = ofType(run, "command:local:Command").filter((c) => /^printf /.test(c.inputs.create));
            assert.equal(pins.length, 1);
            assert.deepEqual(pins[0].options.ignoreChanges, ["create"], "the pin keeps its first answer");
            for (const i of instances()) assert.equal(i.inputs.ami, "ami-0deb12a0c0ffee000", i.name);
        });

        test("IMDSv2 required on every instance; root volumes encrypted and deleted with it; no placement group (30 single launches of 4 types)", () => {
            for (const i of instances()) {
                assert.equal(i.inputs.metadataOptions?.httpTokens, "required", i.name);
                assert.equal(i.inputs.rootBlockDevice?.encrypted, true);
                assert.equal(i.inputs.rootBlockDevice?.deleteOnTermination, true);
                assert.equal(i.inputs.placementGroup, undefined, i.name);
            }
            assert.equal(ofType(run, "aws:ec2/placementGroup:PlacementGroup").length, 0);
        });

        test("each host's SSH host key is made by the program, given by cloud-init (no other key), and checked by every SSH to it", () => {
            const commands = ofType(run, "command:remote:Command");
            const inventory = run.exports.inventory.value as { name: string; ssh: { hostKey?: string } }[];
            for (const i of instances()) {
                assert.ok(isSecretInput(i.inputs.userData), `${i.name}: user data carries the host's private key and must be secret`);
                const doc = YAML.parse(reveal(i.inputs.userData));
                assert.equal(doc.ssh_deletekeys, true);
                assert.deepEqual(doc.ssh_genkeytypes, ["ed25519"], "only the type whose key is given");
                assert.match(doc.ssh_keys.ed25519_private, /BEGIN OPENSSH PRIVATE KEY/);
                const hostKey = doc.ssh_keys.ed25519_public as string;
                assert.match(hostKey, /^ssh-ed25519 /);
                const host = String(i.inputs.tags.Name).slice(`${e.stack}-`.length);
                const mine = commands.filter(
                    (c) => reveal(c.inputs.connection).host === reveal(commands.find((x) => x.name === `${i.name}-ready`)!.inputs.connection).host,
                );
                assert.ok(mine.length >= 2, host);
                for (const c of mine) assert.equal(reveal(c.inputs.connection).hostKey, hostKey, `${c.name} does not check ${host}'s host key`);
                assert.equal(inventory.find((h) => h.name === host)?.ssh.hostKey, hostKey, `${host}: the inventory carries no host key for the lab's ssh`);
            }
        });

        test("lab traffic is untracked: one security group, all protocols from and to 0.0.0.0/0, nothing else (no self or narrower rule)", () => {
            const groups = ofType(run, "aws:ec2/securityGroup:SecurityGroup");
            assert.equal(groups.length, 1);
            const strip = (rules: Record<string, any>[]) => rules.map(({ description: _, ...r }) => r);
            assert.deepEqual(strip(groups[0].inputs.ingress), strip([...LAB_SG_INGRESS]));
            assert.deepEqual(strip(groups[0].inputs.egress), strip([...LAB_SG_EGRESS]));
            assert.deepEqual(strip(groups[0].inputs.ingress), [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }]);
            assert.ok(!JSON.stringify(groups[0].inputs).includes("self"), "a rule referencing the group is tracked");
            assert.equal(ofType(run, "aws:ec2/securityGroupRule:SecurityGroupRule").length, 0);
            assert.equal(ofType(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").length, 0);
            for (const i of instances()) assert.deepEqual(i.inputs.vpcSecurityGroupIds, [`${groups[0].name}-id`], i.name);
        });

        test("the lab subnet's network ACL: the VPC, SSH from the operator, download replies; nothing else reaches a host", () => {
            const acls = ofType(run, "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl");
            assert.equal(acls.length, 1);
            assert.equal(ofType(run, "aws:ec2/networkAcl:NetworkAcl").length + ofType(run, "aws:ec2/networkAclRule:NetworkAclRule").length, 0);
            const [acl] = acls;
            const [subnet] = ofType(run, "aws:ec2/subnet:Subnet");
            assert.deepEqual(acl.inputs.subnetIds, [`${subnet.name}-id`], "the ACL governs the lab subnet");
            assert.equal(acl.inputs.defaultNetworkAclId, "acl-0mockdefault", "the lab VPC's own default ACL");
            const ingress = acl.inputs.ingress as NetworkAclRule[];
            const pick = (r: NetworkAclRule) => ({
                ruleNo: r.ruleNo,
                action: r.action,
                protocol: r.protocol,
                cidrBlock: r.cidrBlock,
                fromPort: r.fromPort,
                toPort: r.toPort,
            });
            assert.deepEqual(ingress.map(pick), labNaclIngress(OPERATOR_CIDR));
            assert.deepEqual((acl.inputs.egress as NetworkAclRule[]).map(pick), [...LAB_NACL_EGRESS]);
            // Every instance is in that subnet and starts only once the ACL and the route out are in place.
            const [association] = ofType(run, "aws:ec2/routeTableAssociation:RouteTableAssociation");
            assert.equal(association.inputs.subnetId, `${subnet.name}-id`);
            for (const i of instances()) {
                assert.equal(i.inputs.subnetId, `${subnet.name}-id`);
                assert.ok(
                    i.options.dependencies.some((urn) => urn.endsWith(`::${acl.name}`)),
                    `${i.name} does not wait for the ACL`,
                );
                assert.ok(
                    i.options.dependencies.some((urn) => urn.endsWith(`::${association.name}`)),
                    `${i.name} does not wait for the route table association (apt would have no route out)`,
                );
            }
            // Who reaches what, as the ACL decides (the group lets everything through).
            const internet = "192.0.2.44";
            assert.equal(aclVerdict(ingress, "203.0.113.7", "tcp", 22), "allow", "the operator's SSH");
            assert.equal(aclVerdict(ingress, internet, "tcp", 22), "deny", "SSH from anyone else");
            assert.equal(aclVerdict(ingress, "198.18.2.99", "tcp", 443), "allow", "lab traffic inside the VPC");
            assert.equal(aclVerdict(ingress, internet, "tcp", EPHEMERAL_PORTS.from + 5), "allow", "replies to the hosts' downloads");
            assert.equal(aclVerdict(ingress, internet, "udp", EPHEMERAL_PORTS.from + 5), "deny");
            const vips = run.exports.vips.value as { plain: string; tls?: string; stats: string[] };
            const labPorts = [vips.plain, vips.tls, ...vips.stats].filter(Boolean).map((u) => Number(new URL(u!).port) || (u!.startsWith("https") ? 443 : 80));
            const config = run.exports.labConfig.value as any;
            labPorts.push(...Array.from({ length: config.backend.serversPerHost }, (_, k) => config.backend.basePort + k));
            for (const port of labPorts) assert.equal(aclVerdict(ingress, internet, "tcp", port), "deny", `lab port ${port} reachable from the internet`);
        });

        test("fixed private addresses in 198.18.0.0/16; clients get 3 secondary IPs each", () => {
            const all = new Set<string>();
            for (const i of instances()) {
                const ips = [i.inputs.privateIp, ...(i.inputs.secondaryPrivateIps ?? [])] as string[];
                assert.equal(ips.length, role(i) === "client" ? 4 : 1, i.name);
                for (const ip of ips) {
                    assert.ok(isLabTarget(ip), ip);
                    assert.ok(!all.has(ip), `${ip} twice`);
                    all.add(ip);
                }
            }
            assert.equal(ofType(run, "aws:ec2/vpc:Vpc")[0].inputs.cidrBlock, "198.18.0.0/16");
        });

        test("every taggable resource carries lab:stack, lab:owner, lab:expires-at (TTL from config)", () => {
            const aws = run.resources.filter((r) => r.type.startsWith("aws:") && !UNTAGGABLE.has(r.type));
            assert.ok(aws.length >= 30 + 8, `only ${aws.length} AWS resources`);
            const expiries = new Set<string>();
            for (const r of aws) {
                const tags = r.inputs.tags as Record<string, string> | undefined;
                assert.ok(tags, `${r.type} ${r.name} has no tags`);
                assert.equal(tags["lab:stack"], e.stack, `${r.name}`);
                assert.equal(tags["lab:owner"], "operator");
                expiries.add(tags["lab:expires-at"]);
            }
            assert.equal(expiries.size, 1, "one expiry for the whole lab");
            const expiresAt = Date.parse([...expiries][0]);
            const ttl = e.ttlHours * 3_600_000;
            assert.ok(expiresAt >= startedAt + ttl - 60_000 && expiresAt <= Date.now() + ttl + 60_000, [...expiries][0]);
            for (const i of instances()) assert.equal(i.inputs.rootBlockDevice.tags["lab:expires-at"], [...expiries][0]);
            for (const r of aws) assert.match(r.provider ?? "", /pulumi:providers:aws::lab-aws::/, `${r.name} not on the lab's provider`);
            const provider = run.resources.find((r) => r.type === "pulumi:providers:aws");
            assert.ok(provider, "no AWS provider");
            const defaults = JSON.parse(JSON.stringify(provider.inputs.defaultTags ?? "{}"));
            const tags = typeof defaults === "string" ? JSON.parse(defaults).tags : defaults.tags;
            assert.equal(tags["lab:stack"], e.stack);
        });

        test("dead-man switch: one one-time schedule per instance at the expiry, each terminating exactly its instance", () => {
            const schedules = ofType(run, "aws:scheduler/schedule:Schedule");
            assert.equal(schedules.length, instances().length);
            const expiry = instances()[0].inputs.tags["lab:expires-at"] as string;
            const terminated: string[] = [];
            for (const schedule of schedules) {
                assert.equal(schedule.inputs.scheduleExpression, `at(${expiry.replace(/Z$/, "")})`);
                assert.equal(schedule.inputs.scheduleExpressionTimezone, "UTC");
                assert.equal(schedule.inputs.target.arn, TERMINATE_TARGET_ARN);
                assert.match(schedule.inputs.target.roleArn, /^arn:aws:iam::123456789012:role\//);
                const ids = JSON.parse(schedule.inputs.target.input).InstanceIds as string[];
                assert.equal(ids.length, 1, schedule.name);
                assert.ok(schedule.name.startsWith("lab-teardown-expiry-"), `${schedule.name}: the reaper's policy scopes schedules by this prefix`);
                assert.equal(ids[0], `lab-hosts-${schedule.name.slice("lab-teardown-expiry-".length)}-id`, `${schedule.name} terminates another host`);
                terminated.push(ids[0]);
            }
            assert.deepEqual(
                terminated.sort(),
                instances()
                    .map((i) => `${i.name}-id`)
                    .sort(),
            );
        });

        test("each instance ends itself at the expiry: user data of every role installs a timer due then, and powering off terminates", () => {
            const expiry = instances()[0].inputs.tags["lab:expires-at"] as string;
            const roles = new Set<string>();
            for (const i of instances()) {
                assert.equal(i.inputs.instanceInitiatedShutdownBehavior, "terminate", i.name);
                const doc = YAML.parse(reveal(i.inputs.userData)) as { write_files: { path: string; content: string }[]; runcmd: string[] };
                const timer = doc.write_files.find((f) => f.path === `/etc/systemd/system/${EXPIRY_UNIT}.timer`)?.content ?? "";
                assert.match(timer, new RegExp(`^OnCalendar=${onCalendar(expiry)}$`, "m"), `${i.name}: no timer at the stack's expiry ${expiry}`);
                assert.match(doc.write_files.find((f) => f.path === `/etc/systemd/system/${EXPIRY_UNIT}.service`)?.content ?? "", /poweroff/);
                assert.equal(doc.runcmd[0], EXPIRY_ENABLE, i.name);
                roles.add(role(i));
            }
            assert.deepEqual([...roles].sort(), ["backend", "client", "haproxy", "metrics"]);
            // Each up renews it over SSH on the running host (user data is not re-applied), before any role runs there.
            const commands = ofType(run, "command:remote:Command");
            for (const i of instances()) {
                const renew = commands.find((c) => c.name === `${i.name}-expiry`);
                assert.ok(renew, `${i.name}: no expiry renewal`);
                assert.equal(renew.inputs.create, expiryRenewScript(e.stack, expiry));
                assert.ok(renew.inputs.triggers.includes(expiry));
                const host = String(i.inputs.tags.Name).slice(`${e.stack}-`.length);
                const tuning = commands.find((c) => c.name === `tuning-${host}`)!;
                assert.ok(
                    tuning.options.dependencies.some((urn) => urn.endsWith(`::${renew.name}`)),
                    `tuning-${host} runs before the expiry is renewed`,
                );
            }
        });

        test("a second up replaces nothing behind the operator's back: user data changes ignored (the AMI is pinned), fixed addresses freed before a replacement", () => {
            for (const i of instances()) {
                assert.deepEqual([...i.options.ignoreChanges].sort(), ["userData"], i.name);
                assert.equal(i.options.deleteBeforeReplace, true, `${i.name} holds fixed private addresses`);
                assert.equal(i.inputs.userDataReplaceOnChange, false, i.name);
            }
        });

        test("the zone offers every instance type: asked before anything is created, the subnet is put there", () => {
            const ask = run.calls.find((c) => c.token === "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings");
            assert.ok(ask, "no DescribeInstanceTypeOfferings");
            assert.equal(ask.inputs.locationType, "availability-zone");
            assert.deepEqual([...ask.inputs.filters[0].values].sort(), [...new Set([e.haproxyType, "c6i.2xlarge", "c6i.8xlarge", "c6i.large"])].sort());
            assert.equal(ofType(run, "aws:ec2/subnet:Subnet")[0].inputs.availabilityZone, "us-east-1a");
            assert.equal((run.exports.aws.value as any).availabilityZone, "us-east-1a");
        });

        test("the schedule's role: trusted by the scheduler only, may only terminate this lab's tagged instances", () => {
            const [roleRes] = ofType(run, "aws:iam/role:Role");
            const trust = JSON.parse(roleRes.inputs.assumeRolePolicy);
            assert.deepEqual(
                trust.Statement.map((s: any) => s.Principal),
                [{ Service: "scheduler.amazonaws.com" }],
            );
            assert.equal(trust.Statement[0].Condition.StringEquals["aws:SourceAccount"], "123456789012");
            const policies = ofType(run, "aws:iam/rolePolicy:RolePolicy");
            assert.equal(policies.length, 1);
            assert.equal(ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").length, 0, "no managed policies");
            const doc = JSON.parse(policies[0].inputs.policy);
            assert.equal(doc.Statement.length, 1);
            assert.equal(doc.Statement[0].Action, "ec2:TerminateInstances");
            assert.equal(doc.Statement[0].Resource, "arn:aws:ec2:us-east-1:123456789012:instance/*");
            assert.deepEqual(doc.Statement[0].Condition, { StringEquals: { "aws:ResourceTag/lab:stack": e.stack } });
        });

        test(`tuning and HAProxy render for the tier's ${e.connections} planned connections`, () => {
            const capacity = run.exports.capacityPlan.value as any;
            assert.equal(capacity.connections, e.connections);
            // maxconn stands over the target by the plan's headroom, as the seed's 2M stood over its goal.
            assert.equal(capacity.haproxy.maxconnTotal, Math.ceil(e.connections * MAXCONN_HEADROOM));
            assert.equal(capacity.nofileCeiling, 4_194_304);
            const nofile = (run.exports.nofile.value as Record<string, number>)["haproxy-0"];
            assert.ok(nofile >= 2 * capacity.haproxy.maxconnTotal && nofile <= 4_194_304, `haproxy nofile ${nofile}`);
            const commands = ofType(run, "command:remote:Command");
            const tuning = commands.find((c) => c.name === "tuning-haproxy-0");
            assert.ok(tuning, "no tuning command for haproxy-0");
            assert.match(tuning.inputs.create, new RegExp(`ulimit -n ${nofile}`));
            assert.match(tuning.inputs.create, /fs\.nr_open/, "an EC2 host applies machine-wide settings itself");
            const cfg = String(run.exports.haproxyConfig.value);
            assert.match(cfg, new RegExp(`maxconn\\s+${capacity.haproxy.maxconnPerProcess}`));
            const lbAddress = instances().find((i) => role(i) === "haproxy")!.inputs.privateIp;
            assert.ok(cfg.includes(lbAddress), "HAProxy binds the LB's private address");
            for (const c of commands) assert.equal(reveal(c.inputs.connection).user, "root");
            for (const c of commands) assert.match(reveal(c.inputs.connection).host, /^203\.0\.113\.\d+$/, "SSH goes to the public IP");
        });

        test("cloud-init applies on each instance the settings the tuning role applies there, and gives its processes the role's nofile", () => {
            const applies = (script: string) => script.split("\n").filter((line) => line.startsWith("apply "));
            const nofile = run.exports.nofile.value as Record<string, number>;
            const commands = ofType(run, "command:remote:Command");
            for (const i of instances()) {
                const host = String(i.inputs.tags.Name).slice(`${e.stack}-`.length);
                const files = YAML.parse(reveal(i.inputs.userData)).write_files as { path: string; content: string }[];
                const file = (path: string) => files.find((f) => f.path === path)?.content ?? "";
                const tuning = commands.find((c) => c.name === `tuning-${host}`);
                assert.ok(tuning, `no tuning command for ${host}`);
                assert.ok(applies(file(TUNING_SCRIPT)).length > 0, host);
                assert.deepEqual(applies(file(TUNING_SCRIPT)), applies(tuning.inputs.create), host);
                assert.match(file("/etc/security/limits.d/60-c2m.conf"), new RegExp(`^root hard nofile ${nofile[host]}$`, "m"), host);
            }
        });

        test("inventory: public IP for SSH, private lab addresses for traffic, four source addresses per client", () => {
            const inventory = run.exports.inventory.value as any[];
            assert.equal(inventory.length, 30);
            for (const h of inventory) {
                assert.match(h.ssh.host, /^203\.0\.113\.\d+$/);
                assert.ok(isLabTarget(h.address));
                assert.equal(h.sourceAddresses.length, h.role === "client" ? 4 : 1);
            }
            const vips = run.exports.vips.value as { plain: string };
            assert.ok(isLabTarget(new URL(vips.plain).hostname));
            const aws = run.exports.aws.value as any;
            assert.equal(aws.instanceIds.length, 30);
            assert.equal(aws.teardownSchedules.length, 30);
            assert.equal(aws.region, "us-east-1");
        });

        test("the stack passes its own policy pack (TTL tags, SSH, IMDSv2, budget)", () => {
            const resources = run.resources.map((r) => ({ type: r.type, props: reveal(r.inputs) as Record<string, any> }));
            const problems = resources.flatMap((r) => [...ttlTagProblems(r.type, r.props), ...imdsProblems(r.type, r.props)].map((p) => `${r.type}: ${p}`));
            assert.deepEqual([...problems, ...trafficLayoutProblems(resources), ...budgetProblems(resources)], []);
            // A lower cap set in the policy config (e.g. by an organisation) rejects the same fleet.
            assert.ok(budgetProblems(resources, { maxUsdPerHour: 1 }).length === 1);
        });

        test('the pack passes as the engine runs it: validateResource on inputs, validateStack on outputs (protocol numbers, "" for unset, computed ids)', () => {
            const defaults = providerDefaultTags(run.resources);
            const outputs = run.resources.map((r) => ({ type: r.type, props: outputShaped(r.type, revealDeep(r.inputs), defaults) }));
            outputs.push({ type: STACK, props: { expiresAt: run.exports.expiresAt.value } });
            // The outputs really are the provider's spellings, not the program's.
            const acl = outputs.find((r) => r.type === "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl")!;
            assert.ok(
                acl.props.ingress.some((x: any) => x.protocol === "6" && x.ipv6CidrBlock === ""),
                JSON.stringify(acl.props.ingress),
            );
            const found: string[] = [];
            for (const policy of POLICIES) {
                const report = (m: string) => found.push(`${policy.name}: ${m}`);
                if ("validateStack" in policy) {
                    policy.validateStack({ resources: outputs, stackTags: new Map(), getConfig: () => ({}) } as unknown as StackValidationArgs, report);
                }
                if ("validateResource" in policy) {
                    const validate = [policy.validateResource ?? []].flat();
                    for (const r of run.resources) {
                        const args = { type: r.type, name: r.name, props: revealDeep(r.inputs), getConfig: () => ({}) } as unknown as ResourceValidationArgs;
                        for (const v of validate) v(args, report);
                    }
                }
            }
            assert.deepEqual(found, []);
        });

        test("the outputs are what the scripts read (StackOutputsSchema)", () => {
            const out = parseRecord(outputsJson(run), StackOutputsSchema, `outputs of the mocked ${e.stack} stack`);
            assert.equal(out.namespacePrefix, undefined);
            assert.ok(out.aws && out.inventory.length === 30);
        });

        test("secrets never appear in plain outputs, user data or tags", () => {
            assert.equal(run.exports.sshPrivateKey.secret, true);
            assert.equal(run.exports.sshPrivateKey.value, FAKE_PRIVATE_KEY);
            for (const [name, out] of Object.entries(run.exports)) {
                if (out.secret) continue;
                assert.ok(!JSON.stringify(out.value ?? null).includes("MOCK-SECRET-KEY-MATERIAL"), `export ${name} leaks the private key`);
            }
            for (const r of run.resources.filter((x) => x.type.startsWith("aws:"))) {
                assert.ok(!JSON.stringify(r.inputs).includes("MOCK-SECRET-KEY-MATERIAL"), `${r.type} ${r.name} carries the private key`);
            }
            for (const i of instances()) assert.match(reveal(i.inputs.userData), /^#cloud-config\n/);
            // Every SSH connection (it holds the private key) goes to state as a secret.
            for (const c of ofType(run, "command:remote:Command")) assert.ok(isSecretInput(c.inputs.connection), `${c.name}: connection not secret`);
            // The key pair registers the public half only.
            assert.match(ofType(run, "aws:ec2/keyPair:KeyPair")[0].inputs.publicKey, /^ssh-ed25519 /);
        });
    });
}
