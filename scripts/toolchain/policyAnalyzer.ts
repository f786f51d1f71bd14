// `pulumi-analyzer-policy`: the launcher that starts a Node policy pack, written by `lab bootstrap`
// into the tool cache (Pulumi's own distribution ships one beside the CLI; the Go modules the rig
// builds the CLI from do not).
//
// Why a launcher at all, and why the engine is given an executable (`--policy-pack policy/analyzer`)
// rather than the pack's directory: CLI 3.274 starts a directory pack only through its language
// host's RunPlugin, and the language host the proxy here serves (3.68.0) answers "not supported".
// Given an executable file, the engine runs it with the engine's address and talks to it over gRPC,
// like a provider. policy/analyzer hands that to this launcher with its own directory.
//
// The launcher runs the SDK's entry point for packs (@pulumi/pulumi/cmd/run-policy-pack, resolved
// from the pack's directory, with the Node >= 22 the checkout brings). That entry registers ts-node
// with type checking whatever PulumiPolicy.yaml says. ts-node must emit, so it reports TS5096
// against a tsconfig that, like the program's, allows `.ts` import paths with noEmit; the launcher
// ignores that one diagnostic (type errors still fail the pack). ts-node compiles the entry file
// only; Node strips the types of the files it imports, as it does for the program.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PINS } from "../../components/pins.ts";
import { paths } from "./toolchain.ts";

export const ANALYZER = "pulumi-analyzer-policy";

/** The launcher's text. Its first lines carry the pins, so a stale launcher differs from this. */
export function analyzerLauncherScript(): string {
    return `#!/bin/sh
# ${ANALYZER} ${PINS.policyAnalyzer} — c2m-lab's launcher of Node policy packs (written by \`lab bootstrap\`).
# Runs @pulumi/pulumi/cmd/run-policy-pack (the checkout's @pulumi/pulumi ${PINS.pulumiSdk}) with Node >= 22.
# usage: ${ANALYZER} <engine-address> [<policy-pack-dir>]   (the directory defaults to the working one)
set -eu
engine=\${1:?usage: ${ANALYZER} <engine-address> [<policy-pack-dir>]}
cd "\${2:-.}"
# Node: node_modules/.bin/node of the pack or a parent (the npm package node@${PINS.node}), else PATH.
node=node
dir=$(pwd)
while :; do
    if [ -x "$dir/node_modules/.bin/node" ]; then node="$dir/node_modules/.bin/node"; break; fi
    [ "$dir" = / ] && break
    dir=$(dirname "$dir")
done
major=$("$node" -p 'process.versions.node.split(".")[0]') || { echo "${ANALYZER}: no runnable node for $(pwd)" >&2; exit 1; }
if [ "$major" -lt 22 ]; then echo "${ANALYZER}: $node is Node $major; policy packs need Node >= 22 (npm install brings node@${PINS.node})" >&2; exit 1; fi
# Same message as a missing module from the engine's own launcher: the engine then says to run npm install.
entry=$("$node" -e 'console.log(require.resolve("@pulumi/pulumi/cmd/run-policy-pack"))')
TS_NODE_IGNORE_DIAGNOSTICS="\${TS_NODE_IGNORE_DIAGNOSTICS:+$TS_NODE_IGNORE_DIAGNOSTICS,}5096" exec "$node" "$entry" "$engine" .
`;
}

export function analyzerLauncherPath(): string {
    return join(paths().bin, ANALYZER);
}

/** Why the cached launcher is not the pinned one; undefined when it is. */
export function analyzerLauncherProblem(path = analyzerLauncherPath()): string | undefined {
    if (!existsSync(path)) return "not found";
    if (readFileSync(path, "utf8") !== analyzerLauncherScript()) return `${path} is not the launcher of this checkout's pins (run \`npm run bootstrap\`)`;
    return undefined;
}
