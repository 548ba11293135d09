// A write through `glassdome serve` (file vault) seals the audit log's head into the vault, as the
// agent's writes do. Before: serve's writes carried the old anchor over (the one `policy apply`
// sealed), so the lines after it, the serve's own start and the write included, could be cut
// from audit.log and `audit verify` still passed. Now that cut is `tampered`, exit 6.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeEnv, PASSWORD, waitFor, type TestEnv } from '../helpers/cli.js';
import { makeLab, request, startServe, type Daemon } from '../helpers/serve.js';

const POLICY = `
authorization:
  rules:
    - name: writers
      clients: ["writer-*"]
      secrets: ["w/*"]
      actions: [read, write]
`;

let t: TestEnv;
let daemon: Daemon | undefined;

beforeAll(async () => {
  t = makeEnv();
  await makeLab(t, POLICY, ['writer-1']);
}, 120_000);

afterAll(() => {
  daemon?.stop();
  t?.cleanup();
});

describe('serve on a file vault anchors the audit log at its writes', () => {
  it('cutting the lines up to a write made through serve is tampered, exit 6', async () => {
    const log = path.join(t.home, 'audit.log');
    daemon = await startServe(t);
    const put = await request(daemon, t, '/v1/secrets/w%2Fone', { method: 'PUT', cn: 'writer-1', body: 'v1' });
    expect(put.status).toBe(200);
    const put2 = await request(daemon, t, '/v1/secrets/w%2Ftwo', { method: 'PUT', cn: 'writer-1', body: 'v2' });
    expect(put2.status).toBe(200);
    daemon.stop();
    const intact = await cli(t.env, ['audit', 'verify', '--password-stdin'], PASSWORD);
    expect(intact.code).toBe(0);
    // Cut everything from the serve's start line on: it and the first write lie before the second write's anchor.
    const lines = fs.readFileSync(log, 'utf8').trimEnd().split('\n');
    const start = lines.findIndex((l) => l.includes('"action":"serve"'));
    expect(start).toBeGreaterThan(0);
    fs.writeFileSync(log, `${lines.slice(0, start).join('\n')}\n`);
    const cut = await cli(t.env, ['audit', 'verify', '--password-stdin'], PASSWORD);
    expect(cut.code).toBe(6);
    expect(cut.stderr).toMatch(/^glassdome: audit log broken at audit\.log line \d+: the log ends at line \d+ but the vault anchored line \d+: lines at its end were cut\n/);
  }, 120_000);

  it('the next write through serve after that cut logs the break once in the daemons\' words, audits it, and keeps the anchor', async () => {
    const log = path.join(t.home, 'audit.log');
    daemon = await startServe(t);
    const put = await request(daemon, t, '/v1/secrets/w%2Fthree', { method: 'PUT', cn: 'writer-1', body: 'v3' });
    expect(put.status).toBe(200);
    expect(daemon.log().match(/audit log tampered with: the log ends at line \d+, before line \d+ the vault anchored: lines were cut, or the log was deleted; the anchor stays where it was, so audit verify reports it\n/g)).toHaveLength(1);
    const tampered = () => fs.readFileSync(log, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event_type === 'audit_tampered');
    await waitFor(() => tampered().length > 0, 'the break to be audited');
    expect(tampered()).toEqual([expect.objectContaining({ action: 'anchor', resource: 'audit.log', result: 'tampered', reason: expect.stringContaining('lines were cut') })]);
    daemon.stop();
    expect((await cli(t.env, ['audit', 'verify', '--password-stdin'], PASSWORD)).code).toBe(6);
  }, 120_000);
});
