/** The dashboard's stylesheet, served as /admin/static/dashboard.css. System fonts only (air-gapped sites). */
export const DASHBOARD_CSS = `
:root { --bg: #f5f6f8; --card: #fff; --fg: #1d2430; --muted: #667085; --line: #e3e6ea; --accent: #2f5bd3;
  --ok: #2e9d5b; --bad: #d64545; --run: #5b8def; --ended: #98a2b3; --queued: #e9edf3; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
header.top { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #101828; color: #fff; }
header.top .brand { color: #fff; font-weight: 600; font-size: 16px; } header.top .brand span { color: #98a2b3; font-weight: 400; }
header.top nav { display: flex; gap: 16px; flex: 1; }
header.top nav a { color: #d0d5dd; } header.top nav a[aria-current] { color: #fff; font-weight: 600; }
header.top form.logout { margin: 0; }
button.link { background: none; border: 0; color: #d0d5dd; cursor: pointer; font: inherit; padding: 0; }
main { padding: 20px 24px; max-width: 1400px; margin: 0 auto; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin-bottom: 20px; }
h1 { font-size: 20px; margin: 0 0 8px; } h1 code { font-size: 18px; } h2 { font-size: 15px; margin: 0 0 10px; }
.section-head { display: flex; justify-content: space-between; align-items: flex-start; gap: 16px; flex-wrap: wrap; }
.muted { color: var(--muted); font-weight: 400; } .small { font-size: 12px; } .bad { color: var(--bad); }
.hit { color: var(--accent); }
.error { color: var(--bad); background: #fdecec; border: 1px solid #f5c2c2; padding: 8px 12px; border-radius: 6px; }
.notice { background: #eef4ff; border: 1px solid #c7d7fe; padding: 8px 12px; border-radius: 6px; }
table.grid { width: 100%; border-collapse: collapse; }
table.grid th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; border-bottom: 1px solid var(--line); padding: 6px 8px; }
table.grid td { border-bottom: 1px solid var(--line); padding: 8px; vertical-align: top; }
table.grid tr.empty td { color: var(--muted); text-align: center; padding: 18px; }
td.wrap { word-break: break-word; max-width: 420px; }
td.progress { min-width: 220px; }
table.kv th { text-align: left; color: var(--muted); font-weight: 400; padding: 2px 16px 2px 0; }
table.kv td { padding: 2px 0; font-variant-numeric: tabular-nums; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 20px; margin-top: 16px; }
pre { background: #f8f9fb; border: 1px solid var(--line); border-radius: 6px; padding: 8px; overflow: auto; max-height: 220px; white-space: pre-wrap; word-break: break-word; }
svg.bar { width: 100%; height: 10px; display: block; background: var(--queued); border-radius: 5px; overflow: hidden; margin: 2px 0 4px; }
.bigbar svg.bar { height: 16px; border-radius: 8px; }
.seg-completed { fill: var(--ok); } .seg-failed { fill: var(--bad); } .seg-ended { fill: var(--ended); } .seg-running { fill: var(--run); }
svg.spark { vertical-align: middle; } svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.chart { display: flex; align-items: center; gap: 10px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #eef0f3; color: #344054; font-weight: 500; }
.status-running { background: #e0eaff; color: #2f5bd3; } .status-queued { background: #f2f4f7; color: #475467; }
.status-completed { background: #dcfae6; color: #067647; } .status-failed { background: #fee4e2; color: #b42318; }
.status-cancelling { background: #fef0c7; color: #b54708; } .status-cancelled, .status-expired { background: #eaecf0; color: #475467; }
.delivery-succeeded { background: #dcfae6; color: #067647; } .delivery-failed { background: #fee4e2; color: #b42318; }
.badge.backend { background: #f4ebff; color: #6941c6; }
form.filters { display: flex; gap: 10px; align-items: flex-end; flex-wrap: wrap; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
input, select, button { font: inherit; padding: 5px 8px; border: 1px solid #d0d5dd; border-radius: 6px; background: #fff; color: var(--fg); }
button { cursor: pointer; } button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: #fff; border-color: var(--bad); color: var(--bad); }
.actions { display: flex; gap: 8px; } .actions form { margin: 0; }
[hidden] { display: none !important; }
.pager { display: flex; gap: 16px; justify-content: flex-end; margin-top: 10px; }
.crumbs { margin: 0 0 8px; color: var(--muted); }
section.login { max-width: 380px; margin: 60px auto; }
section.login form { display: flex; flex-direction: column; gap: 8px; }
details summary { cursor: pointer; color: var(--muted); font-size: 12px; }
.overview { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 20px; align-items: start; }
.overview > .card { margin-bottom: 20px; }
@media (max-width: 1000px) { .overview { grid-template-columns: 1fr; } }
figure.timechart { margin: 0; }
figure.timechart svg { display: block; max-height: 260px; }
figure.timechart .grid line { stroke: var(--line); }
figure.timechart .xaxis line { stroke: #98a2b3; }
figure.timechart text { fill: var(--muted); font-size: 11px; }
figure.timechart text.axis-title { fill: var(--fg); font-size: 12px; }
figure.timechart polyline.series { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
.series-0 { stroke: var(--accent); } .series-1 { stroke: #d97706; } .series-2 { stroke: #7c3aed; } .series-3 { stroke: #0d9488; }
figure.timechart polyline.series-0 { stroke-width: 2.4; }
#batch-throughput .series-1 { stroke: var(--bad); }
figcaption { display: flex; justify-content: space-between; align-items: center; gap: 12px; flex-wrap: wrap; margin-top: 4px; }
ul.legend { list-style: none; display: flex; gap: 14px; margin: 0; padding: 0; font-size: 12px; }
ul.legend svg line { stroke-width: 3; }
nav.ranges { display: flex; gap: 10px; font-size: 13px; }
td form { margin: 0; }
table.grid th.group { text-align: center; color: var(--fg); }
`;
