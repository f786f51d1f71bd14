// HAProxy's CSV statistics (`/stats;csv`): parsing and the counters a run reports. Pure.

export type StatsRow = Record<string, string>;

export function parseStatsCsv(csv: string): StatsRow[] {
    const lines = csv.split("\n").filter((l) => l.trim() !== "");
    if (lines.length === 0 || !lines[0].startsWith("# ")) throw new Error("not HAProxy CSV statistics");
    const header = lines[0].slice(2).split(",");
    return lines.slice(1).map((line) => {
        const cells = line.split(",");
        return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ""]));
    });
}

export interface FrontendCounters { sessionsTotal: number; requestsTotal: number; current: number; max: number; requestErrors: number }

export function frontendCounters(rows: StatsRow[], frontend: string): FrontendCounters | undefined {
    const row = rows.find((r) => r.pxname === frontend && r.svname === "FRONTEND");
    if (!row) return undefined;
    const n = (k: string) => Number(row[k] || 0);
    return { sessionsTotal: n("stot"), requestsTotal: n("req_tot"), current: n("scur"), max: n("smax"), requestErrors: n("ereq") };
}

export interface BackendCounters { sessionsTotal: number; connectionErrors: number; responseErrors: number; serversUp: number; servers: number }

export function backendCounters(rows: StatsRow[], backend: string): BackendCounters | undefined {
    const row = rows.find((r) => r.pxname === backend && r.svname === "BACKEND");
    if (!row) return undefined;
    const servers = rows.filter((r) => r.pxname === backend && r.svname !== "BACKEND");
    const n = (k: string) => Number(row[k] || 0);
    return {
        sessionsTotal: n("stot"), connectionErrors: n("econ"), responseErrors: n("eresp"),
        serversUp: servers.filter((r) => r.status.startsWith("UP")).length, servers: servers.length,
    };
}

export const FRONTEND_NAMES = { plain: "api_plain", tls: "api_tls" } as const;
