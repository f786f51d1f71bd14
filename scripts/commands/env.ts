// `lab env`: shell exports so that plain `pulumi` works on the lab's state in this shell.
import type { Command } from "commander";

export function addEnvCommand(lab: Command): void {
    lab.command("env")
        .description(
            "print shell exports (PATH with the tool cache and Node 22, the state backend, the passphrase file, " +
                "C2M_STACK_SETTINGS: the committed stacks' settings as Pulumi reads them) so that plain `pulumi` works in this shell",
        )
        .addHelpText(
            "after",
            `
Example:
  eval "$(npm run -s lab -- env)"
  pulumi stack select --create local --cwd "$C2M_STACK_SETTINGS"
  pulumi up --stack local --config-file "$C2M_STACK_SETTINGS/Pulumi.local.yaml"`,
        )
        .action(async () => {
            (await import("../lib/stackSettings.ts")).committedStackSettings(); // fresh copies: Pulumi writes its salt there, never into the checkout
            process.stdout.write((await import("../toolchain/toolchain.ts")).shellExports());
        });
}
