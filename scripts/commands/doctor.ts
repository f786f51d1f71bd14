// `lab doctor`: each tool, its version, where it came from, and what is missing.
import type { Command } from "commander";

export function addDoctorCommand(lab: Command): void {
    lab.command("doctor")
        .description("show each tool, its version and origin, and what is missing")
        .action(async () => {
            if (!(await doctor())) process.exitCode = 1;
        });
}

async function doctor(): Promise<boolean> {
    // Loaded when it runs: `lab`'s start loads no command's modules (see scripts/lab.ts).
    const { DOCTOR_TOOLS, findTool } = await import("../toolchain/tools.ts");
    const { labEnv, paths } = await import("../toolchain/toolchain.ts");
    const { PINS } = await import("../../components/pins.ts");
    const { existsSync } = await import("node:fs");
    const { execFileSync } = await import("node:child_process");
    const { formatHostVersions, HOST_VERSIONS_SCRIPT, parseHostVersions } = await import("../lib/hostVersions.ts");
    const reports = await Promise.all(DOCTOR_TOOLS.map(findTool));
    const rows = reports.map((r) => [r.name, r.ok ? (r.version ?? "?") : "MISSING", r.source ?? "-", r.path ?? r.problem ?? ""]);
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length), 6));
    console.log(["tool", "version", "source", "path"].map((h, i) => h.padEnd(widths[i] ?? 0)).join("  "));
    for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  "));
    const p = paths();
    const env = labEnv();
    console.log(`\ncache           ${p.cache}`);
    console.log(`state backend   ${env.PULUMI_BACKEND_URL}`);
    console.log(
        `passphrase      ${env.PULUMI_CONFIG_PASSPHRASE ? "from PULUMI_CONFIG_PASSPHRASE" : existsSync(p.passphraseFile) ? `file ${p.passphraseFile}` : "MISSING (run lab bootstrap)"}`,
    );
    console.log(
        `pins            sdk ${PINS.pulumiSdk}, cli ${PINS.pulumiCli}, language host ${PINS.languageHost}, vegeta ${PINS.vegeta}, ` +
            `policy launcher rev ${PINS.policyAnalyzer}, actionlint ${PINS.actionlint}, cloud-init >= ${PINS.cloudInit}`,
    );
    // The local hosts run this machine's packages: the versions EC2 hosts (Debian 12, the same
    // package set; run.json's versions.hosts) are compared against.
    const local = parseHostVersions(execFileSync("sh", ["-c", HOST_VERSIONS_SCRIPT], { env, encoding: "utf8", timeout: 20_000 }));
    const cloudInit = reports.find((r) => r.name === "cloud-init")?.version;
    if (cloudInit && !local["cloud-init"]) local["cloud-init"] = `${cloudInit} (schema checker)`;
    console.log(`local hosts     ${formatHostVersions({ "": local }).trim()}`);
    console.log(`plain pulumi    eval "$(npm run -s lab -- env)" in this checkout, then pulumi preview/up/destroy --stack <s>`);
    const missing = reports.filter((r) => !r.ok).map((r) => r.name);
    if (missing.length > 0) console.log(`\nmissing: ${missing.join(", ")} — run \`npm run bootstrap\``);
    return missing.length === 0;
}
