// What a `lab attack` run reads on the lab's hosts over SSH besides the load itself: HAProxy's
// statistics, OOM kills in a kernel log, the platform's allowance counters, the vegeta result
// files (merged with `vegeta report`), and the software each host ran.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx/core";
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
import { HOST_VERSIONS_SCRIPT, parseHostVersions } from "./hostVersions.ts";
import { quote, type Remote } from "./remote.ts";

/** Kernel-log lines of OOM kills of HAProxy on a host with a kernel of its own (EC2): counted before and after a run, as bench:oom reads it. */
export const KERNEL_OOM_COUNT_SCRIPT =
    "(dmesg 2>/dev/null || journalctl -k -q --no-pager 2>/dev/null) | grep -cE 'Killed process [0-9]+ \\(haproxy\\)' || true";

/**
 * Statistics rows of every HAProxy process (each serves its own page), read through the LB's SSH
 * connection. `idempotent: false` where a failure must be said at once (the 5 s progress read: a
 * dead LB is not asked three times per tick).
 */
export async function fetchStats(remote: Remote, urls: string[], o: { idempotent?: boolean; timeoutMs?: number } = {}): Promise<StatsRow[]> {
    const pages = await Promise.all(urls.map(async (url) => parseStatsCsv(await remote.get(`${url};csv`, { timeoutMs: 5000, ...o }))));
    return pages.flat();
}

/** Backend servers HAProxy had taken out when the run ended; "unknown" when its statistics could not be read (not [], which says none was down). */
export function serversDownAfter(stats: StatsRow[] | Error): RunRecord["serversDown"] {
    return stats instanceof Error ? "unknown" : downServers(stats, BACKEND_NAME);
}

/** HAProxy OOM kills in a host's kernel log so far; "unknown" when the log could not be read. */
export async function readKernelOomCount(remote: Remote, host: string): Promise<number | "unknown"> {
    const r = await remote.run(host, KERNEL_OOM_COUNT_SCRIPT, { timeoutMs: 20_000, idempotent: true }).catch(() => undefined);
    const n = r && r.code === 0 ? Number(r.stdout.trim()) : NaN;
    return Number.isInteger(n) ? n : "unknown";
}

/** Each host's allowance counters (the platform's script over SSH); a host that does not answer is left out, so it shows as unreadable. */
export async function readAllowances(remote: Remote, hosts: string[], script: string): Promise<Record<string, AllowanceCounters>> {
    const read = await Promise.all(
        hosts.map(async (name) => {
            const r = await remote.run(name, script, { timeoutMs: 30_000, idempotent: true });
            return r.code === 0 ? [[name, parseAllowanceCounters(r.stdout)] as const] : [];
        }),
    );
    return Object.fromEntries(read.flat());
}

/** Each vegeta process's result file, copied here and removed from its client (not retried: it removes what it read). */
export async function collectResults(remote: Remote, plan: VegetaProcess[], dir: string) {
    const files: { frontend: string; path: string }[] = [];
    const missing: AttackResult["failedProcesses"] = [];
    await Promise.all(
        plan.map(async (p) => {
            const path = join(dir, "results", `${p.client}-${p.frontend}-${p.laddr}.bin`);
            const r = await remote.run(p.client, `cat ${quote(p.remoteOutput)} && rm -f ${quote(p.remoteOutput)}`, { stdoutFile: path, timeoutMs: 300_000 });
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

/** A read that changes nothing on the host: safe to retry. */
const READ = { timeoutMs: 60_000, idempotent: true } as const;

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

/** The tools the run used, read on the first client and the LB (by host name). */
export async function versions(remote: Remote, client: string, lb?: string): Promise<RunRecord["versions"]> {
    const pulumi = await findTool("pulumi");
    const first = (s: string) => s.trim().split("\n")[0] ?? "";
    return {
        pulumi: pulumi.version ?? "unknown",
        node: process.versions.node,
        vegeta: first(await remote.check(client, "vegeta -version", READ).catch(() => "unknown")),
        haproxy: lb ? first(await remote.check(lb, "haproxy -v", READ).catch(() => "unknown")) : "none",
        ...(lb
            ? {
                  tlsLibrary: await remote.check(lb, "haproxy -vv", READ).then(
                      (vv) => parseHaproxyVersions(vv).tlsLibrary,
                      () => "unknown",
                  ),
              }
            : {}),
    };
}

/** What each host ran (Debian release, kernel, role packages, Node, vegeta), read on it over SSH; a host that does not answer has none. */
export async function hostVersions(remote: Remote, hosts: string[]): Promise<Record<string, Record<string, string>>> {
    return Object.fromEntries(
        await Promise.all(
            hosts.map(
                async (h) =>
                    [h, parseHostVersions(await remote.check(h, HOST_VERSIONS_SCRIPT, { timeoutMs: 20_000, idempotent: true }).catch(() => ""))] as const,
            ),
        ),
    );
}
