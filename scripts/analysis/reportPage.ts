// One self-contained, offline HTML page per run (or per tipping search): plots as inline SVG
// already rendered, then tables and the verbatim text (vegeta report, config, versions). Pure.

export interface ReportFigure {
    id: string;
    title: string;
    svg: string;
}
export interface ReportTable {
    title: string;
    header: string[];
    rows: string[][];
    note?: string;
    /** Per cell, a relative link (another report of the same runs/ tree) the cell's text points to. */
    links?: (string | undefined)[][];
}
export interface ReportText {
    title: string;
    text: string;
}

export interface ReportPage {
    title: string;
    subtitle: string;
    /** Headline facts: label → value. */
    facts: [string, string][];
    figures: ReportFigure[];
    tables: ReportTable[];
    texts: ReportText[];
    generatedAt: string;
}

export function escapeHtml(s: string): string {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Strips anything in a rendered SVG that could run or fetch (it comes from our own renderer, but the page must stay inert and offline). */
export function sanitizeSvg(svg: string): string {
    const start = svg.indexOf("<svg");
    if (start < 0) throw new Error("not an SVG document");
    return svg
        .slice(start)
        .replace(/<script[\s\S]*?<\/script>/gi, "")
        .replace(/\son\w+="[^"]*"/gi, "")
        .replace(/(href|src)="(?!#)[^"]*"/gi, "");
}

// On load, the browser counts the marks of each plot that have a real size and writes it on
// the figure (data-marks): a headless browser's dumped DOM then shows the plots rendered.
const CHECK_SCRIPT = `
document.addEventListener("DOMContentLoaded", function () {
  var figures = document.querySelectorAll("figure[data-plot]");
  var total = 0;
  figures.forEach(function (f) {
    var n = 0;
    f.querySelectorAll("svg .role-mark path, svg .role-mark line, svg .role-mark rect, svg .role-mark text").forEach(function (el) {
      var b = el.getBBox();
      if ((b.width > 0 || b.height > 0) && (el.tagName !== "path" || (el.getAttribute("d") || "").length > 2)) n++;
    });
    f.setAttribute("data-marks", String(n));
    if (n > 0) total++;
  });
  document.body.setAttribute("data-plots-rendered", total + "/" + figures.length);
});`;

const STYLE = `
body { font-family: sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0; } .sub { color: #666; margin-top: 4px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.facts dt { color: #666; } dl.facts dd { margin: 0; font-weight: 600; }
figure { margin: 18px 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0 18px; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; } th { background: #f4f4f4; }
pre { background: #f8f8f8; border: 1px solid #e4e4e4; padding: 8px; overflow-x: auto; font-size: 0.85em; }
nav a { margin-right: 12px; } .note { color: #666; font-size: 0.85em; }`;

export function renderReportHtml(p: ReportPage): string {
    const e = escapeHtml;
    const nav = [
        ...p.figures.map((f) => `<a href="#${e(f.id)}">${e(f.title)}</a>`),
        ...p.tables.map((t, i) => `<a href="#table-${i}">${e(t.title)}</a>`),
        ...p.texts.map((t, i) => `<a href="#text-${i}">${e(t.title)}</a>`),
    ].join("");
    const facts = p.facts.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join("");
    const figures = p.figures
        .map((f) => `<figure id="${e(f.id)}" data-plot="${e(f.id)}"><figcaption>${e(f.title)}</figcaption>${sanitizeSvg(f.svg)}</figure>`)
        .join("\n");
    const tables = p.tables
        .map((t, i) =>
            [
                `<h2 id="table-${i}">${e(t.title)}</h2>`,
                `<table><thead><tr>${t.header.map((h) => `<th>${e(h)}</th>`).join("")}</tr></thead><tbody>`,
                ...t.rows.map(
                    (r, i) =>
                        `<tr>${r
                            .map((c, j) => {
                                const link = t.links?.[i]?.[j];
                                // Only a relative path to a sibling report: the page stays offline and links nowhere else.
                                return link && /^(\.\.\/)?[\w.-]+(\/[\w.-]+)*\.html$/.test(link)
                                    ? `<td><a href="${e(link)}">${e(c)}</a></td>`
                                    : `<td>${e(c)}</td>`;
                            })
                            .join("")}</tr>`,
                ),
                "</tbody></table>",
                t.note ? `<p class="note">${e(t.note)}</p>` : "",
            ].join("\n"),
        )
        .join("\n");
    const texts = p.texts.map((t, i) => `<h2 id="text-${i}">${e(t.title)}</h2>\n<pre>${e(t.text)}</pre>`).join("\n");
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${e(p.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${e(p.title)}</h1><p class="sub">${e(p.subtitle)}</p>
<dl class="facts">${facts}</dl>
<nav>${nav}</nav>
${figures}
${tables}
${texts}
<p class="note">Generated ${e(p.generatedAt)} by c2m-lab (plots: Vega-Lite, rendered to SVG at build time; this page loads nothing).</p>
<script>${CHECK_SCRIPT}</script>
</body></html>
`;
}
