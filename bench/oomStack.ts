// bench:oom's options and the stack config it writes for its lab (the LB host's cgroup limited to
// the run's memory, the held ramp's attack sized to the ramp's ceiling); removed when the bench ends.
import YAML from "yaml";
import { writeGeneratedStack } from "../scripts/lib/stackSettings.ts";
import { heldRampAttack } from "../components/render/attack.ts";

export interface OomOptions {
    mode: "plain" | "tls";
    memoryMib: number;
    rate?: number;
    stack?: string;
    subnet: string;
    /** Seconds without growth that end the ramp. */
    plateauS: number;
    /** Ramp ceiling as a multiple of the prediction. */
    ceiling: number;
    clients: number;
    /** Build the report page (seconds of vega rendering; CI skips it). */
    report: boolean;
}

export function writeStackConfig(stack: string, o: OomOptions, maxConns: number, ratePerClient: number, rampS: number): void {
    const holdMs = Math.ceil((rampS + 600) * 1000);
    const config = {
        "c2m:hosts": { haproxy: 1, backends: 1, clients: o.clients },
        "c2m:plan": { connections: maxConns, tlsShare: o.mode === "tls" ? 1 : 0 },
        "c2m:backend": { serversPerHost: 2 },
        "c2m:ttlHours": 2,
        "c2m:local": { subnet: o.subnet, hostLimits: { haproxy: { memoryMiB: o.memoryMib } } },
        "c2m:attack": heldRampAttack({ rate: ratePerClient, rampS, holdMs, drainS: 60, frontend: o.mode, connections: maxConns }),
    };
    writeGeneratedStack(stack, `# written by bench/oom; removed when it ends\n${YAML.stringify({ config })}`);
}
