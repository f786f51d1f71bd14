import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backendCounters, frontendCounters, parseStatsCsv } from "../../scripts/analysis/haproxyStats.ts";
import { FRONTEND_NAMES } from "../../components/render/haproxyConfig.ts";

// Hand-written in the shape of HAProxy's `/stats;csv`: a "# "-prefixed header, one row per
// proxy/server, every line ending with a trailing comma (HAProxy does that), columns
// pxname,svname first. Only a prefix of HAProxy's columns, in HAProxy's order.
const HEADER =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,";
const CSV = [
    HEADER,
    "stats,FRONTEND,,,1,3,4000,17,2000,90000,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,1,0,2,,,,0,17,0,0,0,0,,1,3,17,",
    "api_plain,FRONTEND,,,1500,2100,4000,98765,1000,2000,0,0,12,,,,,OPEN,,,,,,,,,1,3,0,,,,0,50,0,300,,,,0,98000,0,0,753,0,,40,310,98800,",
    "api_tls,FRONTEND,,,700,900,4000,4321,100,200,0,0,3,,,,,OPEN,,,,,,,,,1,4,0,,,,0,10,0,90,,,,0,4300,0,0,21,0,,9,95,4330,",
    "pong,pong-0,0,0,400,800,,50000,1,2,,0,,2,1,0,0,UP,1,1,0,0,0,100,0,,1,5,1,,50000,,2,20,,200,L7OK,200,1,0,49990,0,0,10,0,,,,,",
    "pong,pong-1,0,0,0,700,,40000,1,2,,0,,5,3,0,0,DOWN,1,1,0,2,1,30,30,,1,5,2,,40000,,2,0,,180,L4CON,,0,0,39990,0,0,10,0,,,,,",
    "pong,pong-2,0,0,380,790,,13086,1,2,,0,,0,0,0,0,UP 1/2,1,1,0,1,0,5,0,,1,5,3,,13086,,2,18,,210,L7STS,500,1,0,13080,0,0,6,0,,,,,",
    "pong,BACKEND,0,0,780,1600,400,103086,3,6,0,0,,7,4,0,0,UP,2,2,0,,1,100,0,,1,5,0,,103086,,1,38,,400,,,,0,103060,0,0,26,0,,,,,",
    "",
].join("\n");

describe("parseStatsCsv", () => {
    const rows = parseStatsCsv(CSV);

    test("one row per data line, keyed by the header's column names", () => {
        assert.equal(rows.length, 7);
        assert.deepEqual(
            rows.map((r) => `${r.pxname}/${r.svname}`),
            ["stats/FRONTEND", "api_plain/FRONTEND", "api_tls/FRONTEND", "pong/pong-0", "pong/pong-1", "pong/pong-2", "pong/BACKEND"],
        );
        assert.equal(rows[1].scur, "1500");
        assert.equal(rows[5].status, "UP 1/2");
        assert.equal(rows[3].check_status, "L7OK");
    });

    test("empty cells stay empty strings", () => {
        assert.equal(rows[0].qcur, "");
        assert.equal(rows[3].slim, "");
    });

    test("blank lines are ignored", () => {
        assert.equal(parseStatsCsv(`${CSV}\n\n`).length, 7);
    });

    test("refuses text that is not HAProxy's CSV", () => {
        assert.throws(() => parseStatsCsv(""), /not HAProxy CSV statistics/);
        assert.throws(() => parseStatsCsv("<html><body>503</body></html>"), /not HAProxy CSV/);
        assert.throws(() => parseStatsCsv("pxname,svname\napi,FRONTEND\n"), /not HAProxy CSV/);
    });
});

describe("frontendCounters", () => {
    const rows = parseStatsCsv(CSV);

    test("reads sessions, requests, current/max and request errors of the FRONTEND row", () => {
        assert.deepEqual(frontendCounters(rows, "api_plain"), { sessionsTotal: 98765, requestsTotal: 98800, current: 1500, max: 2100, requestErrors: 12 });
        assert.deepEqual(frontendCounters(rows, FRONTEND_NAMES.tls), { sessionsTotal: 4321, requestsTotal: 4330, current: 700, max: 900, requestErrors: 3 });
    });

    test("the lab's frontend names are the ones haproxy.cfg declares", () => {
        assert.deepEqual(FRONTEND_NAMES, { plain: "api_plain", tls: "api_tls" });
    });

    test("an unknown frontend, or a backend's name, gives undefined", () => {
        assert.equal(frontendCounters(rows, "api_quic"), undefined);
        assert.equal(frontendCounters(rows, "pong"), undefined);
    });

    test("missing columns count as 0 rather than NaN", () => {
        const minimal = parseStatsCsv("# pxname,svname,scur,\napi_plain,FRONTEND,5,\n");
        assert.deepEqual(frontendCounters(minimal, "api_plain"), { sessionsTotal: 0, requestsTotal: 0, current: 5, max: 0, requestErrors: 0 });
    });
});

describe("backendCounters", () => {
    const rows = parseStatsCsv(CSV);

    test("reads sessions and errors of the BACKEND row and counts servers and the ones up", () => {
        assert.deepEqual(backendCounters(rows, "pong"), {
            sessionsTotal: 103086,
            current: 780,
            connectionErrors: 7,
            responseErrors: 4,
            // pong-0 "UP" and pong-2 "UP 1/2" (up, going down) are up; pong-1 is DOWN
            serversUp: 2,
            servers: 3,
        });
    });

    test("an unknown backend gives undefined", () => {
        assert.equal(backendCounters(rows, "nope"), undefined);
        assert.equal(backendCounters(rows, "api_plain"), undefined);
    });

    test("a server in maintenance or without checks is not counted as up", () => {
        const csv = [
            "# pxname,svname,stot,econ,eresp,status,",
            "pong,a,1,0,0,MAINT,",
            "pong,b,1,0,0,no check,",
            "pong,c,1,0,0,DOWN 1/2,",
            "pong,BACKEND,3,0,0,UP,",
        ].join("\n");
        const counters = backendCounters(parseStatsCsv(csv), "pong");
        assert.equal(counters?.serversUp, 0);
        assert.equal(counters?.servers, 3);
    });

    // Several HAProxy processes each report their own rows (one CSV per stats port).
    const process0 = [
        "# pxname,svname,scur,smax,stot,ereq,econ,eresp,status,req_tot,",
        "api_plain,FRONTEND,100,150,1000,1,,,OPEN,1200,",
        "pong,s1,60,,600,,1,0,UP,,",
        "pong,s2,40,,400,,0,1,UP,,",
        "pong,BACKEND,100,,1000,,1,1,UP,,",
    ].join("\n");
    const process1 = [
        "# pxname,svname,scur,smax,stot,ereq,econ,eresp,status,req_tot,",
        "api_plain,FRONTEND,90,140,900,2,,,OPEN,1100,",
        "pong,s1,50,,500,,0,0,UP,,",
        "pong,s2,40,,400,,2,0,DOWN,,",
        "pong,BACKEND,90,,900,,2,0,UP,,",
    ].join("\n");
    const both = [...parseStatsCsv(process0), ...parseStatsCsv(process1)];

    test("over several processes, frontend counters add up", () => {
        assert.deepEqual(frontendCounters(both, "api_plain"), { sessionsTotal: 1900, requestsTotal: 2300, current: 190, max: 290, requestErrors: 3 });
    });

    test("over several processes, backend counters add up and a server is one server, up only if every process sees it up", () => {
        assert.deepEqual(backendCounters(both, "pong"), {
            sessionsTotal: 1900,
            current: 190,
            connectionErrors: 3,
            responseErrors: 1,
            servers: 2,
            serversUp: 1,
        });
    });

    test("a `listen` proxy's FRONTEND row is not counted as one of its servers", {}, () => {
        const csv = ["# pxname,svname,stot,econ,eresp,status,", "web,FRONTEND,5,,,OPEN,", "web,s1,5,0,0,UP,", "web,BACKEND,5,0,0,UP,"].join("\n");
        assert.equal(backendCounters(parseStatsCsv(csv), "web")?.servers, 1);
    });
});
