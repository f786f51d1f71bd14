// `lab plan`: sizing and cost of a stack's tier for N concurrent connections (no cloud access).
import type { Command } from "commander";
import { positiveNumber, stackOption } from "./options.ts";

export function addPlanCommand(lab: Command): void {
    lab.command("plan")
        .description("sizing and cost of a stack's tier for N concurrent connections (no cloud access)")
        .addOption(stackOption())
        .option("--conns <n>", "concurrent end-to-end connections client ↔ HAProxy ↔ backend (default: c2m:plan.connections)", positiveNumber("--conns"))
        .option("--tls-share <x>", "share of them through TLS, 0..1 (default: c2m:plan.tlsShare)", Number)
        .option("--clients <n>", "client hosts (default: c2m:hosts.clients)", positiveNumber("--clients"))
        .option("--source-ips <n>", "source addresses per client (default: 1 + c2m:aws.secondaryIpsPerClient)", positiveNumber("--source-ips"))
        .option("--json", "print only the JSON object (always the last line)")
        .addHelpText(
            "after",
            `
Examples:
  lab plan --stack aws-16c64g                        the tier at its planned 1.05M connections (2.1M sockets)
  lab plan --stack aws-16c30g --conns 650000 --tls-share 1
  lab plan --stack aws-16c64g --clients 3 --source-ips 8 --json`,
        )
        .action(async (o: { stack: string; conns?: number; tlsShare?: number; clients?: number; sourceIps?: number; json?: boolean }) => {
            process.exitCode = (await import("../lib/tierPlan.ts")).plan(o.stack, o);
        });
}
