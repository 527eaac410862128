/** STATUS_PAGE_STYLE is the status page's CSS (status-page-html.ts inlines it). */
export const STATUS_PAGE_STYLE = String.raw`
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { padding: 12px 20px; background: #1d2330; color: #fff; }
header h1 { font-size: 18px; margin: 0 0 4px; }
header .muted { color: #aab; }
header form { margin-top: 6px; }
header input { width: 22em; }
main { padding: 8px 20px 24px; }
section { margin-top: 16px; }
h2 { font-size: 15px; margin: 0 0 6px; }
table { border-collapse: collapse; background: #fff; min-width: 40em; }
th, td { border: 1px solid #d8dbe2; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eceef2; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul, ol.queue { margin: 0; padding-left: 1.2em; }
.muted { color: #778; font-weight: normal; }
.problem { color: #a01818; margin: 4px 0; }
.stale { opacity: 0.55; }
tr[data-role="leader"] td:first-child { font-weight: 700; }
tr[data-reachable="false"] { background: #fde8e8; }
.role-leader { color: #0a6b2e; font-weight: 600; }
.token { font-weight: 600; }
.ttl { font-variant-numeric: tabular-nums; }
.empty { color: #889; font-style: italic; }
`;
