// What a `lab attack` run reads on the lab's hosts over SSH besides the load itself: HAProxy's
// statistics, OOM kills in a kernel log, the platform's allowance counters, the vegeta result
// files (merged with `vegeta report`), and the software each host ran.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { parseHaproxyVersions } from "../../components/images.ts";
import { parseAllowanceCounters, type AllowanceCounters } from "../../components/platform/allowances.ts";
import { parseRecord } from "../../components/records/io.ts";
import { VegetaSummarySchema, type RunRecord, type VegetaSummary } from "../../components/records/runRecord.ts";
import type { VegetaProcess } from "../../components/render/attack.ts";
import { BACKEND_NAME } from "../../components/render/haproxyConfig.ts";
import { downServers, parseStatsCsv, type StatsRow } from "../analysis/haproxyStats.ts";
import { findTool } from "../toolchain/tools.ts";
import { labEnv } from "../toolchain/toolchain.ts";
import type { AttackResult } from "./attackOutcome.ts";
import type { HostHttp } from "./hostHttp.ts";
import { HOST_VERSIONS_SCRIPT, parseHostVersions } from "./hostVersions.ts";
import type { SshSession, SshTarget } from "./ssh.ts";

/** Kernel-log lines of OOM kills of HAProxy on a host with a kernel of its own (EC2): counted before and after a run, as bench:oom reads it. */
export const KERNEL_OOM_COUNT_SCRIPT =
    "(dmesg 2>/dev/null || journalctl -k -q --no-pager 2>/dev/null) | grep -cE 'Killed process [0-9]+ \\(haproxy\\)' || true";

/** Statistics rows of every HAProxy process (each serves its own page), read on the LB over SSH. */
export async function fetchStats(http: HostHttp, urls: string[]): Promise<StatsRow[]> {
    const pages = await Promise.all(urls.map(async (url) => parseStatsCsv(await http.get(`${url};csv`, { timeoutMs: 5000 }))));
    return pages.flat();
}

/** Backend servers HAProxy had taken out when the run ended; "unknown" when its statistics could not be read (not [], which says none was down). */
export function serversDownAfter(stats: StatsRow[] | Error): RunRecord["serversDown"] {
    return stats instanceof Error ? "unknown" : downServers(stats, BACKEND_NAME);
}

/** HAProxy OOM kills in a host's kernel log so far; "unknown" when the log could not be read. */
export async function readKernelOomCount(ssh: SshSession, host: SshTarget): Promise<number | "unknown"> {
    const r = await ssh.run(host, KERNEL_OOM_COUNT_SCRIPT, { timeoutMs: 20_000 }).catch(() => undefined);
    const n = r && r.code === 0 ? Number(r.stdout.trim()) : NaN;
    return Number.isInteger(n) ? n : "unknown";
}

/** Each host's allowance counters (the platform's script over SSH); a host that does not answer is left out, so it shows as unreadable. */
export async function readAllowances(
    ssh: SshSession,
    hosts: string[],
    target: (n: string) => SshTarget,
    script: string,
): Promise<Record<string, AllowanceCounters>> {
    const read = await Promise.all(
        hosts.map(async (name) => {
            const r = await ssh.run(target(name), script, { timeoutMs: 30_000 });
            return r.code === 0 ? [[name, parseAllowanceCounters(r.stdout)] as const] : [];
        }),
    );
    return Object.fromEntries(read.flat());
}

export async function collectResults(ssh: SshSession, plan: VegetaProcess[], target: (n: string) => SshTarget, dir: string) {
    const files: { frontend: string; path: string }[] = [];
    const missing: AttackResult["failedProcesses"] = [];
    await Promise.all(
        plan.map(async (p) => {
            const path = join(dir, "results", `${p.client}-${p.frontend}-${p.laddr}.bin`);
            const r = await ssh.run(target(p.client), `cat ${p.remoteOutput} && rm -f ${p.remoteOutput}`, { stdoutFile: path, timeoutMs: 300_000 });
            if (r.code === 0) files.push({ frontend: p.frontend, path });
            else {
                rmSync(path, { force: true });
                process.stderr.write(`no results from ${p.client} (${p.frontend}, ${p.laddr}): ${r.stderr.trim()}\n`);
                missing.push({
                    client: p.client,
                    frontend: p.frontend,
                    laddr: p.laddr,
                    code: r.code,
                    stderr: `results not collected: ${r.stderr.trim().slice(-300)}`,
                });
            }
        }),
    );
    return { files: files.sort((a, b) => a.path.localeCompare(b.path)), missing };
}

/** Merges result files the way the seed did (`vegeta report a.bin b.bin …`), as text and JSON. */
export async function vegetaReport(files: string[], prefix: string): Promise<VegetaSummary | undefined> {
    if (files.length === 0) return undefined;
    const $$ = $({ env: labEnv(), verbose: false, quiet: true });
    const text = await $$`vegeta report ${files}`;
    writeFileSync(`${prefix}.txt`, text.stdout);
    const json = await $$`vegeta report -type=json ${files}`;
    writeFileSync(`${prefix}.json`, json.stdout);
    return parseRecord(json.stdout, VegetaSummarySchema, `vegeta report -type=json (${prefix}.json)`);
}

export async function versions(ssh: SshSession, client: SshTarget, lb?: SshTarget): Promise<RunRecord["versions"]> {
    const pulumi = await findTool("pulumi");
    const first = (s: string) => s.trim().split("\n")[0] ?? "";
    return {
        pulumi: pulumi.version ?? "unknown",
        node: process.versions.node,
        vegeta: first(await ssh.check(client, "vegeta -version").catch(() => "unknown")),
        haproxy: lb ? first(await ssh.check(lb, "haproxy -v").catch(() => "unknown")) : "none",
        ...(lb
            ? {
                  tlsLibrary: await ssh.check(lb, "haproxy -vv").then(
                      (vv) => parseHaproxyVersions(vv).tlsLibrary,
                      () => "unknown",
                  ),
              }
            : {}),
    };
}

/** What each host ran (Debian release, kernel, role packages, Node, vegeta), read on it over SSH; a host that does not answer has none. */
export async function hostVersions(ssh: SshSession, hosts: { name: string; ssh: SshTarget }[]): Promise<Record<string, Record<string, string>>> {
    return Object.fromEntries(
        await Promise.all(hosts.map(async (h) => [h.name, parseHostVersions(await ssh.check(h.ssh, HOST_VERSIONS_SCRIPT, 20_000).catch(() => ""))] as const)),
    );
}
