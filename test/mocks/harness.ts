// Runs the Pulumi program (index.ts) for one stack under Pulumi's mocks: no engine, no
// provider plugin, no network. Records every resource the program registers with its inputs.
// Not a test file itself; each stack's test file imports it (one process per file, since the
// program module can only be imported once).
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import YAML from "yaml";

export interface Registered {
    type: string;
    name: string;
    inputs: Record<string, any>;
    provider?: string;
    /** Resource options as the program sent them to the engine (the mock monitor does not pass them to newResource). */
    options: { ignoreChanges: string[]; deleteBeforeReplace: boolean; replaceOnChanges: string[]; dependencies: string[] };
}

export const OPERATOR_CIDR = "203.0.113.7/32";
/** What the mocked keygen prints: base64(private) base64(public), like KEYGEN_SCRIPT. */
export const FAKE_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nMOCK-SECRET-KEY-MATERIAL\n-----END OPENSSH PRIVATE KEY-----\n";
export const FAKE_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockPublicKey c2m-lab";

function stackConfig(stack: string, extra: Record<string, unknown>): Record<string, string> {
    const doc = YAML.parse(readFileSync(new URL(`../../Pulumi.${stack}.yaml`, import.meta.url), "utf8"));
    const config: Record<string, unknown> = { ...doc.config };
    for (const [key, value] of Object.entries(extra)) {
        const current = config[key];
        config[key] = typeof current === "object" && current !== null && typeof value === "object" ? { ...current, ...value } : value;
    }
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** What the mocked keygen of a host's SSH host key prints: a pair per host, unlike the lab key. */
export function fakeHostKey(name: string): { privateKey: string; publicKey: string } {
    return {
        privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\nMOCK-HOST-KEY-${name}\n-----END OPENSSH PRIVATE KEY-----\n`,
        publicKey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockHostKey${name.replace(/[^A-Za-z0-9]/g, "")} c2m-lab`,
    };
}

let publicIp = 10;
/** Instance types the mocked EC2 does not offer, by zone (RunOptions.offeringsMissing). */
let offeringsMissing: Record<string, string[]> = {};
function mockState(args: pulumi.runtime.MockResourceArgs): Record<string, any> {
    const i = args.inputs;
    switch (args.type) {
        case "command:local:Command":
            // The AMI pin prints the id it was given; every other local command is a keygen.
            if (/^printf '%s\\n' ami-/.test(String(i.create))) return { ...i, stdout: `${String(i.create).split(" ").pop()}\n`, stderr: "" };
            // A host's own SSH key (EC2 hosts): a pair of its own, never the lab's.
            if (args.name.endsWith("-hostkey")) {
                const pair = fakeHostKey(args.name);
                return { ...i, stdout: `${Buffer.from(pair.privateKey).toString("base64")} ${Buffer.from(pair.publicKey).toString("base64")}`, stderr: "" };
            }
            return { ...i, stdout: `${Buffer.from(FAKE_PRIVATE_KEY).toString("base64")} ${Buffer.from(FAKE_PUBLIC_KEY).toString("base64")}`, stderr: "" };
        case "command:remote:Command":
            return { ...i, stdout: "1234", stderr: "" };
        case "aws:ec2/instance:Instance":
            return { ...i, publicIp: `203.0.113.${publicIp++}`, arn: `arn:aws:ec2:us-east-1:123456789012:instance/i-${args.name}` };
        case "aws:ec2/keyPair:KeyPair":
            return { ...i, keyName: args.name };
        case "aws:iam/role:Role":
            return { ...i, arn: `arn:aws:iam::123456789012:role/${args.name}` };
        case "aws:scheduler/schedule:Schedule":
            return { ...i, name: args.name, arn: `arn:aws:scheduler:us-east-1:123456789012:schedule/default/${args.name}` };
        case "aws:ec2/placementGroup:PlacementGroup":
            return { ...i, name: args.name };
        case "aws:ec2/vpc:Vpc":
            return { ...i, defaultNetworkAclId: "acl-0mockdefault" };
        default:
            return { ...i };
    }
}

function mockCall(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    switch (args.token) {
        case "aws:ssm/getParameter:getParameter":
            // Debian's public parameter names the region's current Debian 12 AMI.
            // Debian's public parameters name each release's current AMI (12 and 13 differ).
            return {
                id: args.inputs.name,
                name: args.inputs.name,
                type: "String",
                version: 42,
                arn: `arn:aws:ssm:us-east-1::parameter${args.inputs.name}`,
                value: /\/release\/13\//.test(args.inputs.name) ? "ami-0deb13a0c0ffee000" : "ami-0deb12a0c0ffee000",
            };
        case "aws:ec2/getAmi:getAmi":
            return { id: "ami-0mockubuntu2404", name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261101", ownerId: "099720109477" };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/operator", userId: "AIDAMOCK" };
        case "aws:index/getAvailabilityZones:getAvailabilityZones":
            return { names: ["us-east-1a", "us-east-1b"], zoneIds: ["use1-az1", "use1-az2"] };
        case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {
            // Every type asked is offered in every zone, except where OFFERINGS_MISSING says (type → zones without it).
            const asked: string[] = args.inputs.filters?.find((f: { name: string }) => f.name === "instance-type")?.values ?? [];
            const pairs = ["us-east-1a", "us-east-1b"].flatMap((zone) => asked.filter((t) => !offeringsMissing[t]?.includes(zone)).map((t) => [t, zone]));
            return {
                id: "us-east-1",
                instanceTypes: pairs.map((p) => p[0]),
                locations: pairs.map((p) => p[1]),
                locationTypes: pairs.map(() => "availability-zone"),
                region: "us-east-1",
            };
        }
        default:
            return args.inputs;
    }
}

/** Resolves an output (or plain value) and says whether it is secret. */
export async function resolve<T>(value: pulumi.Input<T>): Promise<{ value: T; secret: boolean }> {
    if (!pulumi.Output.isInstance(value)) return { value: value as T, secret: false };
    const out = value as pulumi.Output<T>;
    const [v, secret] = await Promise.all([
        new Promise<T>((r) =>
            out.apply((x) => {
                r(x);
                return x;
            }),
        ),
        pulumi.isSecret(out),
    ]);
    return { value: v, secret };
}

export interface ProgramRun {
    resources: Registered[];
    calls: { token: string; inputs: Record<string, any> }[];
    /** Each export resolved; `error` when it failed (a resource it depends on could not be created). */
    exports: Record<string, { value: unknown; secret: boolean; error?: string }>;
}

export interface RunOptions {
    /** The mocked engine fails the creation of these resources (by name), as a failed launch would. */
    failResources?: string[];
    /** Instance types not offered in some zones: type → zones. */
    offeringsMissing?: Record<string, string[]>;
    /** Filled with each resource as it registers (so a caller still sees them when the program fails). */
    registered?: Registered[];
}

/** Sets the mocks and the stack's config (plus overrides), imports index.ts, waits for it to settle. */
export async function runProgram(stack: string, extra: Record<string, unknown> = {}, o: RunOptions = {}): Promise<ProgramRun> {
    const resources: Registered[] = o.registered ?? [];
    const calls: ProgramRun["calls"] = [];
    offeringsMissing = o.offeringsMissing ?? {};
    const options = new Map<string, Registered["options"]>();
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                if (o.failResources?.includes(args.name)) throw new Error(`mocked failure: ${args.type} ${args.name} could not be created`);
                resources.push({
                    type: args.type,
                    name: args.name,
                    inputs: args.inputs,
                    provider: args.provider,
                    options: options.get(`${args.type}::${args.name}`) ?? {
                        ignoreChanges: [],
                        deleteBeforeReplace: false,
                        replaceOnChanges: [],
                        dependencies: [],
                    },
                });
                return { id: `${args.name}-id`, state: mockState(args) };
            },
            call(args) {
                calls.push({ token: args.token, inputs: args.inputs });
                return mockCall(args);
            },
        },
        "c2m",
        stack,
        false,
    );
    // The options of each registration (ignoreChanges, deleteBeforeReplace, …) reach the engine in
    // the RegisterResource request, not newResource's arguments: read them there.
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: any) => {
        options.set(`${req.getType()}::${req.getName()}`, {
            ignoreChanges: req.getIgnorechangesList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            replaceOnChanges: req.getReplaceonchangesList(),
            dependencies: req.getDependenciesList(),
        });
        return register(req, callback);
    };
    pulumi.runtime.setAllConfig(stackConfig(stack, extra));
    const program = (await import("../../index.ts")) as Record<string, unknown>;
    const exports: ProgramRun["exports"] = {};
    for (const [name, value] of Object.entries(program)) {
        exports[name] = await resolveDeep(value).catch((err: Error) => ({ value: undefined, secret: false, error: err.message }));
    }
    // Let registrations still in flight (children of resolved outputs) land.
    await new Promise((r) => setTimeout(r, 200));
    return { resources, calls, exports };
}

/** The exports as `pulumi stack output --json` prints them: plain JSON, undefined ones left out. */
export function outputsJson(run: ProgramRun): string {
    return JSON.stringify(Object.fromEntries(Object.entries(run.exports).map(([name, out]) => [name, out.value])));
}

async function resolveDeep(value: unknown): Promise<{ value: unknown; secret: boolean }> {
    const { value: v, secret } = await resolve(pulumi.output(value as pulumi.Input<unknown>));
    return { value: v, secret };
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** True when a mocked input arrived as a secret (Pulumi's secret envelope). */
export function isSecretInput(x: unknown): boolean {
    return typeof x === "object" && x !== null && (x as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

/** The value inside a secret envelope (the input itself otherwise). */
export function reveal<T = any>(x: unknown): T {
    return (isSecretInput(x) ? (x as { value: T }).value : x) as T;
}

/** A value with every secret envelope inside it opened (inputs as the program meant them). */
export function revealDeep<T = any>(x: unknown): T {
    const v = reveal(x);
    if (Array.isArray(v)) return v.map(revealDeep) as T;
    if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, revealDeep(e)])) as T;
    return v as T;
}

export const ofType = (run: ProgramRun, type: string) => run.resources.filter((r) => r.type === type);
