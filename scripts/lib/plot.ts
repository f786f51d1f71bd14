// Renders Vega-Lite specs to SVG in Node, at report build time (no browser, no network):
// vega-lite compiles to a Vega spec, a headless vega View draws it with the SVG renderer.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { VegaLiteSpec } from "../analysis/reportCharts.ts";

export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
    const compiled = compile(spec as unknown as TopLevelSpec).spec;
    // A loader that refuses every URL: reports are built from data already in the run directory.
    const loader = vega.loader({ mode: "file" });
    loader.load = async (uri: string) => {
        throw new Error(`report plots load no data from ${uri}`);
    };
    const view = new vega.View(vega.parse(compiled), { renderer: "none", loader, logLevel: vega.Warn });
    try {
        return await view.toSVG();
    } finally {
        view.finalize();
    }
}
