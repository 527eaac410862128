import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { assert } from '../raft/invariant.js';
import type { BackendPluginOptions } from './lock-backend.js';
import { textAnswer, withErrors } from './response-schemas.js';
import { STATUS_PAGE_HTML } from './ui/status-page-html.js';
import { STATUS_PAGE_SCRIPT } from './ui/status-page-script.js';
import { STATUS_PAGE_STYLE } from './ui/status-page-style.js';

// Inlined in <script> and <style>: a closing tag inside either would end it early.
assert(!/<\/(script|style)/i.test(STATUS_PAGE_SCRIPT + STATUS_PAGE_STYLE), 'the status page script or style contains a closing tag');

/** sourceHash is a CSP source that allows exactly this inline script or style. */
const sourceHash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * CONTENT_SECURITY_POLICY lets the page run its own inline script and style and talk to the node that served it,
 * nothing else: were a lock name ever to reach the page as markup, no script in it would run.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${sourceHash(STATUS_PAGE_SCRIPT)}`,
  `style-src ${sourceHash(STATUS_PAGE_STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * uiRoutes is the fastify plugin of the status page, `GET /ui`. The page
 * itself holds no data, so it is open like /healthz; the JSON it polls
 * (dashboard-routes.ts) needs a token when authentication is on, which the
 * page asks for.
 */
export async function uiRoutes(app: FastifyInstance, _opts: BackendPluginOptions): Promise<void> {
  app.get('/ui', { schema: { summary: 'The status page (HTML); the data it shows needs a token where authentication is on', tags: ['status page'], response: withErrors({ 200: textAnswer('the status page', 'text/html') }) }, config: { role: 'none' } }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .send(STATUS_PAGE_HTML),
  );
}
