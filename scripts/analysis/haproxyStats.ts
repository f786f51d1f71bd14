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

export interface FrontendCounters {
    sessionsTotal: number;
    requestsTotal: number;
    current: number;
    max: number;
    requestErrors: number;
}

const sum = (rows: StatsRow[], key: string) => rows.reduce((acc, r) => acc + Number(r[key] || 0), 0);

/** Counters of a frontend, summed over every HAProxy process whose rows are given. */
export function frontendCounters(rows: StatsRow[], frontend: string): FrontendCounters | undefined {
    const mine = rows.filter((r) => r.pxname === frontend && r.svname === "FRONTEND");
    if (mine.length === 0) return undefined;
    return {
        sessionsTotal: sum(mine, "stot"),
        requestsTotal: sum(mine, "req_tot"),
        current: sum(mine, "scur"),
        max: sum(mine, "smax"),
        requestErrors: sum(mine, "ereq"),
    };
}

export interface BackendCounters {
    sessionsTotal: number;
    current: number;
    connectionErrors: number;
    responseErrors: number;
    serversUp: number;
    servers: number;
}

/** Counters of a backend summed over processes; a server counts as up when every process sees it up. */
export function backendCounters(rows: StatsRow[], backend: string): BackendCounters | undefined {
    const mine = rows.filter((r) => r.pxname === backend && r.svname === "BACKEND");
    if (mine.length === 0) return undefined;
    const servers = rows.filter((r) => r.pxname === backend && r.svname !== "BACKEND" && r.svname !== "FRONTEND");
    const names = [...new Set(servers.map((r) => r.svname))];
    const up = names.filter((n) => servers.filter((r) => r.svname === n).every((r) => r.status.startsWith("UP")));
    return {
        sessionsTotal: sum(mine, "stot"),
        current: sum(mine, "scur"),
        connectionErrors: sum(mine, "econ"),
        responseErrors: sum(mine, "eresp"),
        serversUp: up.length,
        servers: names.length,
    };
}

/** Servers of a backend that some process does not see UP (health checks took them out, or maintenance). */
export function downServers(rows: StatsRow[], backend: string): string[] {
    const servers = rows.filter((r) => r.pxname === backend && r.svname !== "BACKEND" && r.svname !== "FRONTEND");
    return [...new Set(servers.filter((r) => !r.status.startsWith("UP")).map((r) => r.svname))].sort();
}
