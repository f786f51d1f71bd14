// Versions the rig pins, in one place: the CLI's bootstrap builds these and the AWS platform
// installs the same ones on EC2 hosts.
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

export const PINS = {
    /** The Node SDK the program uses (package.json). */
    pulumiSdk: pkg.dependencies["@pulumi/pulumi"] as string,
    /**
     * CLI built from github.com/pulumi/pulumi/pkg/v3. The module proxy here does not serve
     * pkg/v3 at the SDK's exact version (3.270.0); 3.274.1 is the nearest newer one it serves.
     * A newer engine runs older SDKs (the gRPC protocol is versioned).
     */
    pulumiCli: "3.274.1",
    /**
     * The nodejs language host. Since 3.69 it is a module of its own that the proxy here does
     * not serve; 3.68.0 is the newest release where it sits inside sdk/v3, and it runs the
     * current SDK's program entry point unchanged.
     */
    languageHost: "3.68.0",
    commandSdk: pkg.dependencies["@pulumi/command"] as string,
    vegeta: "12.13.0",
    /**
     * Revision of the rig's pulumi-analyzer-policy launcher (scripts/toolchain/policyAnalyzer.ts),
     * which runs the SDK's run-policy-pack; bump it when the launcher's text changes.
     */
    policyAnalyzer: "1",
    /** Lints .github/workflows/*.yml; `go install github.com/rhysd/actionlint/cmd/actionlint@v<pin>`. */
    actionlint: "1.7.12",
    /**
     * `cloud-init schema` checks the EC2 hosts' user data. Debian 12's package, unpacked into the
     * cache rather than installed (its postinst enables cloud-init's boot services).
     */
    cloudInit: "22.4.2",
    node: pkg.dependencies["node"] as string,
} as const;
