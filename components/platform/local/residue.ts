// What a local stack leaves on this machine (namespaces, links, firewall tables, processes, files), found by
// name so it works without Pulumi state, and its removal: the check after every teardown.
import { existsSync, readFileSync, rmdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { localNames, type LocalNames } from "./scripts.ts";
import { existingStackCgroups } from "./cgroups.ts";

export type LocalResidue = { namespaces: string[]; links: string[]; firewallTables: string[]; processes: string[]; files: string[]; cgroups: string[] };

/** What this machine shows, as the listing commands print it. */
export interface MachineListing {
    /** `ip netns list` */
    netns: string;
    /** `ip -o link show` */
    links: string;
    /** `nft list tables` */
    nftTables: string;
    /** `pgrep -af <runDir>/` */
    processes: string;
    runDirExists: boolean;
    /** The stack's cgroup directories that exist (c2m/<stack>[/<host>] under each controller). */
    cgroups?: string[];
}

/** The stack's own entries in the listings. Pure. */
export function residueIn(names: LocalNames, listing: MachineListing): LocalResidue {
    const namespaces = listing.netns
        .split("\n")
        .map((l) => l.split(" ")[0])
        .filter((n) => n.startsWith(names.namespacePrefix));
    // The bridge's and the veths' names share the stack's tag: c2m<tag>br, c2m<tag>h<i>.
    const linkPrefix = names.bridge.slice(0, -2);
    const links = listing.links
        .split("\n")
        .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "")
        .filter((n) => n.startsWith(linkPrefix));
    const processes = listing.processes.split("\n").filter(Boolean);
    const firewallTables = listing.nftTables
        .split("\n")
        .map((l) => l.trim().split(/\s+/))
        .filter((w) => w[0] === "table" && w[2] === names.firewallTable)
        .map((w) => `${w[1]} ${w[2]}`);
    return { namespaces, links, firewallTables, processes, files: listing.runDirExists ? [names.runDir] : [], cgroups: listing.cgroups ?? [] };
}

/** Runs a program without a shell (a shell's own command line would match pgrep/pkill -f). */
function exec(file: string, args: string[]): string {
    return spawnSync(file, args, { encoding: "utf8" }).stdout ?? "";
}

function readProcs(dir: string): string[] {
    try {
        return readFileSync(`${dir}/cgroup.procs`, "utf8").split("\n").filter(Boolean);
    } catch {
        return [];
    }
}

/** Everything of a local stack still on this machine. */
export async function localResidue(stack: string): Promise<LocalResidue> {
    const names = localNames(stack);
    return residueIn(names, {
        netns: exec("ip", ["netns", "list"]),
        links: exec("ip", ["-o", "link", "show"]),
        nftTables: exec("nft", ["list", "tables"]),
        processes: exec("pgrep", ["-af", `${names.runDir}/`]),
        runDirExists: existsSync(names.runDir),
        cgroups: existingStackCgroups(stack),
    });
}

/** Removes a local stack's leftovers by name: the fallback when state is lost or teardown failed. */
export async function reapLocal(stack: string): Promise<LocalResidue> {
    const names = localNames(stack);
    const before = await localResidue(stack);
    for (const ns of before.namespaces) {
        const pids = exec("ip", ["netns", "pids", ns]).split("\n").filter(Boolean);
        if (pids.length) exec("kill", ["-KILL", ...pids]);
        exec("ip", ["netns", "del", ns]);
    }
    exec("pkill", ["-KILL", "-f", `${names.runDir}/`]);
    for (const link of before.links) exec("ip", ["link", "del", link]);
    for (const table of before.firewallTables) exec("nft", ["delete", "table", ...table.split(" ")]);
    exec("rm", ["-rf", names.runDir]);
    // Deepest first: a host's cgroup (its processes killed), then the stack's level.
    for (const dir of before.cgroups) {
        for (let i = 0; i < 20; i++) {
            const pids = readProcs(dir);
            if (!pids.length) break;
            exec("kill", ["-KILL", ...pids]);
            spawnSync("sleep", ["0.1"]);
        }
        try {
            rmdirSync(dir);
        } catch {
            /* reported by the residue check below */
        }
    }
    return localResidue(stack);
}
