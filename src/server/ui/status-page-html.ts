import { STATUS_PAGE_SCRIPT } from './status-page-script.js';
import { STATUS_PAGE_STYLE } from './status-page-style.js';

/**
 * STATUS_PAGE_HTML is the whole status page (`GET /ui`): markup, style and
 * script in one document, so a node serves it from memory with no files to
 * find at run time and nothing to build or download. The script fills the
 * sections from the JSON routes (dashboard-routes.ts) once a second.
 */
export const STATUS_PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>raftlock status</title>
<style>${STATUS_PAGE_STYLE}</style>
</head>
<body>
<header>
  <h1>raftlock <span class="muted">status of node</span> <span id="node">?</span></h1>
  <div id="leader-line">leader <strong id="leader" data-leader="">?</strong> · term <span id="term">?</span> · <span id="updated">loading…</span></div>
  <form id="token-form" autocomplete="off">
    <label>token <input id="token" type="password" placeholder="bearer token (kept in this tab only)"></label>
    <button type="submit">use</button>
    <button type="button" id="token-clear">forget</button>
  </form>
</header>
<main>
  <section>
    <h2>Members</h2>
    <p class="problem" id="members-error" hidden></p>
    <table id="members">
      <thead><tr><th>member</th><th>reachable</th><th>role</th><th>term</th><th>commit</th><th>applied</th><th>lag</th><th>leader it sees</th><th>problems</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Locks <span class="muted" id="lock-count"></span></h2>
    <p class="problem" id="locks-error" hidden></p>
    <table id="locks">
      <thead><tr><th>lock</th><th>holders (owner · token · TTL left)</th><th>waiters, in order</th><th>last token</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Sessions <span class="muted" id="session-count"></span></h2>
    <table id="sessions">
      <thead><tr><th>session</th><th>owner</th><th>TTL left</th><th>locks</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Recent leader changes and expiries <span class="muted">(as this node saw them)</span></h2>
    <ol id="events"></ol>
  </section>
</main>
<script>${STATUS_PAGE_SCRIPT}</script>
</body>
</html>
`;
