// Every HAProxy process's CSV statistics page in one shell line run on the LB host, and its output
// parsed back into rows (bench/scale and bench/oom count the connections HAProxy holds with it). Pure.
import { quote } from "zx";

/**
 * One shell line that reads every HAProxy process's CSV statistics page on the LB host: one SSH
 * connection per sample instead of one per process (a 300k lab has ~35 processes, and 35 SSH
 * handshakes a second are CPU the 2-core machine does not have). The line is bash's, not
 * /bin/sh's: zx's quote writes `$'…'`, which dash misreads (both benches run it with `bash -c`). Pure.
 */
export function statsBatchCommand(urls: string[]): string {
    for (const u of urls) if (!/^https?:\/\//.test(u)) throw new Error(`not an http(s) URL: ${u}`);
    // All pages at once (a busy process answers late, and ~35 of them one after another outlast any sample), each into its own file.
    return (
        `d=$(mktemp -d) && i=0 && for u in ${urls.map((u) => quote(`${u};csv`)).join(" ")}; do ` +
        `{ curl -sS -f --connect-timeout 3 --max-time 4 "$u" > "$d/$i" 2>&1 || echo "#FAILED curl exit $?" >> "$d/$i"; } & i=$((i+1)); done; wait; ` +
        `i=0; for u in ${urls.map((u) => quote(`${u};csv`)).join(" ")}; do echo "#URL $u"; cat "$d/$i"; i=$((i+1)); done; rm -rf "$d"`
    );
}

/** The batch's output → the rows of every page; throws naming the pages that failed (a partial sum would be a wrong count). Pure. */
export function parseStatsBatch<Row>(stdout: string, urls: string[], parsePage: (csv: string) => Row[]): Row[] {
    const pages = new Map<string, string>();
    let current: string | undefined;
    for (const line of stdout.split("\n")) {
        if (line.startsWith("#URL ")) {
            current = line.slice(5).trim();
            pages.set(current, "");
            continue;
        }
        if (current !== undefined) pages.set(current, `${pages.get(current)}${line}\n`);
    }
    const rows: Row[] = [];
    const failed: string[] = [];
    for (const u of urls) {
        const page = pages.get(`${u};csv`);
        if (page === undefined) {
            failed.push(`${u}: no answer`);
            continue;
        }
        const fail = /#FAILED (.*)/.exec(page);
        if (fail) {
            failed.push(
                `${u}: ${
                    page
                        .replace(/#FAILED.*/, "")
                        .trim()
                        .split("\n")
                        .at(-1) || fail[1]
                }`.trim(),
            );
            continue;
        }
        try {
            rows.push(...parsePage(page));
        } catch (err) {
            failed.push(`${u}: ${(err as Error).message}`);
        }
    }
    if (failed.length) throw new Error(`${failed.length} of ${urls.length} statistics pages unread: ${failed.slice(0, 3).join("; ")}`);
    return rows;
}
