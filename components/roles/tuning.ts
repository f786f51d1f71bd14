// Applies each host's kernel settings and checks they took: a host whose sysctl or
// open-file limit differs from the plan fails the update, naming key, wanted and actual.
import * as pulumi from "@pulumi/pulumi";
import type { Host } from "../types.ts";
import { appliedSettings, tuningScript, type TuningPlan } from "../render/tuning.ts";
import { hostCommand } from "./remote.ts";

export interface TuningArgs {
    readonly hosts: Host[];
    readonly plans: Map<string, TuningPlan>;
    /** The hosts share one kernel (Platform.sharedKernel): its platform applies the machine-wide keys once. */
    readonly sharedKernel: boolean;
}

export class Tuning extends pulumi.ComponentResource {
    /** One resource per host; roles depend on their host's entry. */
    readonly applied: Map<string, pulumi.Resource>;

    constructor(name: string, args: TuningArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:role:Tuning", name, {}, opts);
        this.applied = new Map(
            args.hosts.map((host) => {
                const plan = args.plans.get(host.name);
                if (!plan) throw new Error(`no tuning plan for host ${host.name}`);
                // On a shared kernel the platform applies the machine-wide keys once.
                const script = tuningScript(appliedSettings(plan, args.sharedKernel), plan.nofile);
                return [host.name, hostCommand(`${name}-${host.name}`, host, { create: script }, { parent: this })];
            }),
        );
        this.registerOutputs({});
    }
}
