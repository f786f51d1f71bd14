// `lab bootstrap`: install or build every tool the rig needs (scripts/toolchain/installTools.ts).
import type { Command } from "commander";

export const bootstrap = async () => (await import("../toolchain/installTools.ts")).bootstrap();

export function addBootstrapCommand(lab: Command): void {
    lab.command("bootstrap")
        .description("install or build the toolchain into the cache")
        .action(() => bootstrap());
}
