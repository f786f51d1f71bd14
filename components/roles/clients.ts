// The load generators: vegeta callable on every client host, and the request body the
// seed posted (post_smaller.txt) written next to it.
import * as pulumi from "@pulumi/pulumi";
import type { Host } from "../types.ts";
import { hostCommand } from "./remote.ts";

export interface ClientsArgs {
    readonly hosts: Host[];
    readonly bodyBytes: number;
    readonly dependsOn: Map<string, pulumi.Resource>;
}

function clientBodyPath(host: Host): string {
    return `${host.workDir}/vegeta/body.txt`;
}

export class Clients extends pulumi.ComponentResource {
    /** `vegeta -version` as each client reports it. */
    readonly vegetaVersions: pulumi.Output<string>[];

    constructor(name: string, args: ClientsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("c2m:role:Clients", name, {}, opts);
        this.vegetaVersions = args.hosts.map((host) => {
            const dir = `${host.workDir}/vegeta`;
            const ready = hostCommand(
                `${name}-${host.name}`,
                host,
                {
                    create: [
                        "set -eu",
                        `command -v vegeta >/dev/null || { echo "vegeta is not installed on ${host.name}" >&2; exit 1; }`,
                        `mkdir -p ${dir}`,
                        `head -c ${args.bodyBytes} /dev/zero | tr '\\0' 'x' > ${clientBodyPath(host)}`,
                        "vegeta -version | head -n1",
                    ].join("\n"),
                    delete: `rm -rf ${dir}`,
                    triggerText: String(args.bodyBytes),
                },
                { parent: this, dependsOn: [args.dependsOn.get(host.name)!] },
            );
            return ready.stdout;
        });
        this.registerOutputs({});
    }
}
