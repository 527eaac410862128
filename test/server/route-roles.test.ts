import { describe, expect, it } from 'vitest';
import { nodeRoutes } from '../support/node-routes.js';

/**
 * The role each route of a node demands, as a contract checked in process (the end-to-end check of every route x
 * {no token, wrong role, right role} needs a real cluster, so mutation testing, which runs in-process suites only,
 * could not see a route lose its role). A new route must be added here with the role it needs: reader for GET
 * routes that show no other principal's owners, locker for the lock and session operations, admin for what acts
 * on or lists every principal's locks and for the cluster's operation, none only for the probes and the page.
 */
const ROLES: Readonly<Record<string, string>> = {
  'GET /healthz': 'none',
  'GET /readyz': 'none',
  'GET /ui': 'none',
  'GET /metrics': 'reader', // as configured below (--metrics-auth reader); 'none' is the default
  'GET /openapi.json': 'reader',
  'GET /v1/status': 'reader',
  'GET /v1/dashboard/members': 'reader',
  'GET /v1/dashboard/locks': 'admin',
  'GET /v1/locks/:name': 'reader',
  'GET /v1/locks': 'admin',
  'POST /v1/locks/:name/acquire': 'locker',
  'POST /v1/locks/:name/release': 'locker',
  'POST /v1/locks/:name/renew': 'locker',
  'POST /v1/locks/:name/check': 'locker',
  'POST /v1/locks/:name/cancel-wait': 'member',
  'DELETE /v1/locks/:name': 'admin',
  'POST /v1/sessions': 'locker',
  'GET /v1/sessions/:id': 'locker',
  'POST /v1/sessions/:id/keepalive': 'locker',
  'DELETE /v1/sessions/:id': 'locker',
  'POST /v1/elections/:name/campaign': 'locker',
  'POST /v1/elections/:name/proclaim': 'locker',
  'POST /v1/elections/:name/resign': 'locker',
  'GET /v1/elections/:name': 'reader',
  'GET /v1/members': 'reader',
  'POST /v1/members': 'admin',
  'POST /v1/members/:id/promote': 'admin',
  'DELETE /v1/members/:id': 'admin',
  'POST /v1/admin/transfer-leader': 'admin',
  'GET /v1/snapshot': 'admin',
};

describe('the role of every route', () => {
  it('is the one the contract names, for every route a node serves and no other', async () => {
    const served = Object.fromEntries((await nodeRoutes('reader')).map((r) => [`${r.method} ${r.url}`, r.role]));
    expect(served).toEqual(ROLES);
  });

  it('follows --metrics-auth for /metrics', async () => {
    const open = (await nodeRoutes('none')).find((r) => r.method === 'GET' && r.url === '/metrics');
    expect(open?.role).toBe('none');
  });
});
