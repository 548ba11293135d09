// glassdome serve with real TLS on loopback: the real CLI makes the CA, the certificates and the
// tokens, the real daemon serves, and real clients (the CLI in remote mode, Node's https and tls)
// talk to it — good and bad certificates, revocation on new and open connections, TLS 1.2, the
// token lifecycle, rate limits and a slowloris client.

import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../../src/ca/authority.js';
import { REFUSALS } from '../../src/serve/limits.js';
import { cli, makeEnv, PASSWORD, python, waitFor, type TestEnv } from '../helpers/cli.js';
import { AGENTS_READ_POLICY, clientEnv, makeLab, ok, request, startServe, type Daemon } from '../helpers/serve.js';

/**
 * Reads each client may make in this file: a burst that no test but the rate-limit one comes near,
 * refilled at one an hour so that no token comes back while the file runs, however slow the
 * machine (at 60 a minute one came back during a slow CLI start and the limited get succeeded).
 */
const READ_BURST = 50;

/**
 * Refused requests (bad or no credentials) are limited per address: REFUSALS.burst at once, then
 * a few a second. The CLI cannot pick its source address, so every refusal of this file but the
 * limit's own test comes from 127.0.0.1 and draws on one bucket. It starts full and only refills,
 * so they meet no 429 as long as there are at most a burst of them, however fast or slow the
 * machine: the last test counts them (a count, not a race). The limit's own test refuses from
 * this address, a bucket of its own.
 */
const LIMIT_FROM = '127.0.0.7';
/** Refusals the limit's test may send past the burst before a 429 must have come (the refill is a few a second). */
const REFUSAL_PROBES = 200;

const POLICY = `${AGENTS_READ_POLICY}    - name: jobs
      clients: ["job-*"]
      secrets: ["ci/*"]
      actions: [read]
rate_limits:
  read: { rate: 1, per: hour, burst: ${READ_BURST} }
`;

let t: TestEnv;
let daemon: Daemon;
let certs: string;

beforeAll(async () => {
  t = makeEnv();
  certs = await makeLab(t, POLICY, ['agent-good', 'agent-keep', 'agent-new', 'agent-burst', 'agent-slow', 'intruder']);
  daemon = await startServe(t);
}, 120_000);

afterAll(() => {
  daemon?.stop();
  t?.cleanup();
});

const audit = (): Array<{ event_type: string; client: Record<string, unknown> | null; action: string; result: string; reason?: string }> =>
  fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('certificates', () => {
  it('a good certificate reads what policy allows; get, list, exec and status use the daemon', async () => {
    const env = clientEnv(t, daemon, { cn: 'agent-good' });
    expect(await ok(env, ['get', 'proxmox_password'])).toBe('pve-secret\n');
    expect(await ok(env, ['list'])).toBe('proxmox_password\n');
    expect((JSON.parse(await ok(env, ['list', '--json'])) as Array<{ name: string }>).map((e) => e.name)).toEqual(['proxmox_password']);
    const exec = await ok(env, ['exec', '--', '/bin/sh', '-c', 'cat <&3']);
    expect(JSON.parse(exec)).toEqual({ proxmox_password: 'pve-secret' });
    const childEnv = await ok(env, ['exec', '--', '/usr/bin/env']);
    expect(childEnv).not.toMatch(/GLASSDOME_(SERVER|CLIENT_CERT|CLIENT_KEY|TOKEN_FILE)=/); // the child gets no way to the daemon
    expect(await ok(env, ['exec', '--keep-agent', '--', '/usr/bin/env'])).toContain(`GLASSDOME_SERVER=${daemon.url}`);
    const st = await cli(env, ['status', '--json']);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ mode: 'server', server: { url: daemon.url, client: { cn: 'agent-good', via: 'certificate' } } });
    const line = audit().find((e) => e.event_type === 'secret_access' && e.client?.cn === 'agent-good' && e.action === 'get');
    expect(line?.client).toMatchObject({ cn: 'agent-good', remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8')).not.toContain('pve-secret');
  });

  it('a CN the policy does not allow is denied (exit 5) and audited', async () => {
    const r = await cli(clientEnv(t, daemon, { cn: 'intruder' }), ['get', 'proxmox_password']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('the policy denies certificate intruder read on "proxmox_password"');
    expect(r.stdout).toBe('');
    expect(audit().some((e) => e.event_type === 'secret_denied' && e.client?.cn === 'intruder')).toBe(true);
  });

  it('no certificate and no token: 401 denied', async () => {
    const a = await request(daemon, t, '/v1/secrets/proxmox_password');
    expect(a.status).toBe(401);
    expect(a.body.error?.code).toBe('denied');
    expect(a.headers['www-authenticate']).toContain('Bearer');
  });

  it('a certificate of another CA is refused (exit 5)', async () => {
    const other = makeEnv();
    try {
      await ok(other.env, ['ca', 'init', '--cn', 'glassdome-ca']);
      const otherCerts = path.join(other.dir, 'c');
      fs.mkdirSync(otherCerts);
      await ok(other.env, ['ca', 'issue', '--cn', 'agent-good', '--out', path.join(otherCerts, 'agent-good')]);
      const r = await cli(clientEnv(t, daemon, { cn: 'agent-good', certs: otherCerts }), ['get', 'proxmox_password']);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/certificate [0-9A-F]+ refused/);
      expect(r.stdout).toBe('');
    } finally {
      other.cleanup();
    }
  });

  it('an expired certificate is refused (exit 5)', async () => {
    const day = 86_400_000;
    const old = await issueCertificate(t.home, { cn: 'agent-old', server: false, san: [], notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
    fs.writeFileSync(path.join(certs, 'agent-old.crt'), old.certPem);
    fs.writeFileSync(path.join(certs, 'agent-old.key'), old.keyPem, { mode: 0o600 });
    const r = await cli(clientEnv(t, daemon, { cn: 'agent-old' }), ['get', 'proxmox_password']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('refused: cert has expired');
  });

  it('TLS 1.2 is refused at the handshake', async () => {
    const err = await new Promise<Error | null>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: daemon.port,
        servername: 'localhost',
        maxVersion: 'TLSv1.2',
        ca: fs.readFileSync(path.join(t.home, 'ca', 'ca.crt')),
        cert: fs.readFileSync(path.join(certs, 'agent-good.crt')),
        key: fs.readFileSync(path.join(certs, 'agent-good.key')),
      });
      socket.on('secureConnect', () => {
        socket.destroy();
        resolve(null);
      });
      socket.on('error', resolve);
    });
    expect(err).not.toBeNull();
    expect(String((err as NodeJS.ErrnoException).code)).toMatch(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/);
  });
});

describe('revocation', () => {
  it('a revoked certificate is refused on new connections and at the next request of an open one', async () => {
    const keep = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await request(daemon, t, '/v1/secrets/proxmox_password', { cn: 'agent-keep', agent: keep });
      expect(before.status).toBe(200);
      expect(Buffer.from(String(before.body.value), 'base64').toString()).toBe('pve-secret');
      const newBefore = await cli(clientEnv(t, daemon, { cn: 'agent-new' }), ['get', 'proxmox_password']);
      expect(newBefore.code).toBe(0);

      await ok(t.env, ['ca', 'revoke', path.join(certs, 'agent-keep.crt')]);
      await ok(t.env, ['ca', 'revoke', path.join(certs, 'agent-new.crt')]);
      await waitFor(() => /CRL reloaded: 2 revoked/.test(daemon.log()), 'the daemon to reload the CRL');

      const fresh = await cli(clientEnv(t, daemon, { cn: 'agent-new' }), ['get', 'proxmox_password']);
      expect(fresh.code).toBe(5);
      expect(fresh.stderr).toMatch(/refused: (revoked|certificate revoked)/);

      const after = await request(daemon, t, '/v1/secrets/proxmox_password', { cn: 'agent-keep', agent: keep });
      expect(after.reused).toBe(true); // the same TLS connection as before the revocation
      expect(after.status).toBe(403);
      expect(after.body.error?.message).toContain('refused: revoked');
      expect(after.body.value).toBeUndefined();
    } finally {
      keep.destroy();
    }
  });
});

describe('expiry on an open connection', () => {
  it('a certificate that expires while its keep-alive connection is open is refused at the next request', async () => {
    // The first request must come before the certificate expires: when a busy machine let the
    // whole lifetime pass first (the answer says it expired), a certificate twice as long is tried.
    for (let lifetime = 4000; ; lifetime *= 2) {
      const notAfter = new Date(Date.now() + lifetime);
      const soon = await issueCertificate(t.home, { cn: 'agent-brief', server: false, san: [], notAfter });
      fs.writeFileSync(path.join(certs, 'agent-brief.crt'), soon.certPem);
      fs.writeFileSync(path.join(certs, 'agent-brief.key'), soon.keyPem, { mode: 0o600 });
      const keep = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const before = await request(daemon, t, '/v1/secrets/proxmox_password', { cn: 'agent-brief', agent: keep });
        if (before.status !== 200) {
          expect([before.status, before.body.error?.message]).toEqual([403, expect.stringContaining('refused: cert has expired')]);
          expect(lifetime, 'a certificate of this lifetime expired before its first request').toBeLessThan(64_000);
          continue;
        }
        // X.509 keeps whole seconds, so it expires at or before notAfter: wait past notAfter itself.
        await new Promise((r) => setTimeout(r, Math.max(0, notAfter.getTime() - Date.now()) + 1000));
        const after = await request(daemon, t, '/v1/secrets/proxmox_password', { cn: 'agent-brief', agent: keep });
        expect(after.reused).toBe(true);
        expect(after.status).toBe(403);
        expect(after.body.error?.message).toContain('refused: cert has expired');
        return;
      } finally {
        keep.destroy();
      }
    }
  });
});

describe('tokens', () => {
  const mint = async (client: string, extra: string[] = []): Promise<string> => (await ok(t.env, ['token', 'create', '--client', client, '--password-stdin', ...extra], PASSWORD)).trim();

  it('a bootstrap token in a file is exchanged once; the same file again is refused', async () => {
    const file = path.join(t.dir, 'job-1.token');
    fs.writeFileSync(file, `${await mint('job-1')}\n`, { mode: 0o600 });
    const env = clientEnv(t, daemon, { tokenFile: file });
    const exec = await ok(env, ['exec', '-s', 'ci/deploy', '--', '/bin/sh', '-c', 'cat <&3']);
    expect(JSON.parse(exec)).toEqual({ 'ci/deploy': 'deploy-secret' });
    const again = await cli(env, ['get', 'ci/deploy']);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('was already used');
    expect(fs.readFileSync(path.join(t.home, 'tokens.json'), 'utf8')).not.toContain(fs.readFileSync(file, 'utf8').trim());
    expect(audit().some((e) => e.action === 'token_exchange' && typeof e.client?.accessor === 'string')).toBe(true);
  });

  it('a bootstrap token buys nothing but a session; the session renews', async () => {
    const bootstrap = await mint('job-2');
    const direct = await request(daemon, t, '/v1/secrets/ci/deploy', { token: bootstrap });
    expect(direct.status).toBe(403);
    const ex = await request(daemon, t, '/v1/token/exchange', { method: 'POST', token: bootstrap });
    expect(ex.status).toBe(200);
    expect(String(ex.body.token)).toMatch(/^gds_/);
    const twice = await request(daemon, t, '/v1/token/exchange', { method: 'POST', token: bootstrap });
    expect(twice.status).toBe(401);
    expect(twice.body.error?.message).toContain('already used');
    const read = await request(daemon, t, `/v1/secrets/${encodeURIComponent('ci/deploy')}`, { token: String(ex.body.token) });
    expect(Buffer.from(String(read.body.value), 'base64').toString()).toBe('deploy-secret');
    const renewed = await request(daemon, t, '/v1/token/renew', { method: 'POST', token: String(ex.body.token) });
    expect(renewed.status).toBe(200);
    expect(Date.parse(String(renewed.body.expires_at))).toBeGreaterThanOrEqual(Date.parse(String(ex.body.expires_at)));
  });

  it('a revoked token is refused at its next request', async () => {
    const ex = await request(daemon, t, '/v1/token/exchange', { method: 'POST', token: await mint('job-3') });
    const session = String(ex.body.token);
    expect((await request(daemon, t, '/v1/secrets/ci/deploy', { token: session })).status).toBe(200);
    const listed = JSON.parse(await ok(t.env, ['token', 'list', '--json'])) as Array<{ accessor: string; type: string; client: string }>;
    const accessor = listed.find((r) => r.type === 'session' && r.client === 'job-3')!.accessor;
    expect(JSON.stringify(listed)).not.toContain(session);
    await ok(t.env, ['token', 'revoke', accessor]);
    const after = await request(daemon, t, '/v1/secrets/ci/deploy', { token: session });
    expect(after.status).toBe(401);
    expect(after.body.error).toMatchObject({ code: 'denied', message: expect.stringContaining('unknown or revoked') });
  });

  it('an expired token answers expired (exit 4)', async () => {
    const file = path.join(t.dir, 'job-4.token');
    fs.writeFileSync(file, await mint('job-4', ['--ttl', '1s']), { mode: 0o600 });
    await new Promise((r) => setTimeout(r, 1500));
    const r = await cli(clientEnv(t, daemon, { tokenFile: file }), ['get', 'ci/deploy']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/token [0-9a-f]{16} expired/);
  });

  it('a token record edited in tokens.json (expiry extended, used flag cleared) is refused as altered', async () => {
    const token = await mint('job-6', ['--ttl', '1s']);
    await new Promise((r) => setTimeout(r, 1500));
    const file = path.join(t.home, 'tokens.json');
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { tokens: Array<{ accessor: string; expires_at: string; client: string; used: boolean }> };
    const record = doc.tokens.find((r) => r.client === 'job-6')!;
    record.expires_at = new Date(Date.now() + 3600_000).toISOString();
    fs.writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
    const a = await request(daemon, t, '/v1/token/exchange', { method: 'POST', token });
    expect(a.status).toBe(401);
    expect(a.body.error?.message).toContain(`the record of token ${record.accessor} in tokens.json was altered`);
    const used = doc.tokens.find((r) => r.client === 'job-1')!;
    used.used = false;
    fs.writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
    const replay = await cli(clientEnv(t, daemon, { tokenFile: path.join(t.dir, 'job-1.token') }), ['get', 'ci/deploy']);
    expect(replay.code).toBe(5);
    expect(replay.stderr).toMatch(/already used|was altered/);
  });

  it('a record whose MAC or hash is not hex is refused as altered or unknown, not a 500', async () => {
    const file = path.join(t.home, 'tokens.json');
    const edit = (client: string, change: (r: Record<string, unknown>) => void): string => {
      const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { tokens: Array<Record<string, unknown>> };
      const record = doc.tokens.find((r) => r.client === client)!;
      change(record);
      fs.writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
      return record.accessor as string;
    };
    const macToken = await mint('job-7');
    const accessor = edit('job-7', (r) => (r.mac = 'zz-not-hex'));
    const a = await request(daemon, t, '/v1/token/exchange', { method: 'POST', token: macToken });
    expect([a.status, a.body.error?.code]).toEqual([401, 'denied']);
    expect(a.body.error?.message).toContain(`the record of token ${accessor} in tokens.json was altered`);
    const hashToken = await mint('job-8');
    edit('job-8', (r) => (r.hash = 42));
    const b = await request(daemon, t, '/v1/token/exchange', { method: 'POST', token: hashToken });
    expect([b.status, b.body.error?.code]).toEqual([401, 'denied']);
  });

  it('a forged token of the right shape is refused', async () => {
    const real = await mint('job-5');
    const forged = `${real.slice(0, -4)}AAAA`;
    const a = await request(daemon, t, '/v1/token/exchange', { method: 'POST', token: forged });
    expect(a.status).toBe(401);
    expect(a.body.error?.code).toBe('denied');
  });
});

describe('the Python client', () => {
  const CLIENT = path.join(__dirname, '../../clients/python');
  const script = `
import json, os, sys
sys.path.insert(0, ${JSON.stringify(CLIENT)})
import glassdome
try:
    out = {"first": glassdome.get("ci/deploy" if os.environ.get("GLASSDOME_TOKEN_FILE") else "proxmox_password")}
    out["again"] = glassdome.get_bytes("ci/deploy" if os.environ.get("GLASSDOME_TOKEN_FILE") else "proxmox_password").decode()
    out["all"] = glassdome.secrets()
    out["env_tokens"] = [k for k, v in os.environ.items() if v.startswith("gds_")]
except glassdome.GlassdomeError as e:
    out = {"error": e.code, "message": e.message}
print(json.dumps(out))
`;

  it('reads over mutual TLS with a client certificate', () => {
    const r = python(script, [], clientEnv(t, daemon, { cn: 'agent-good' }));
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ first: 'pve-secret', again: 'pve-secret', all: { proxmox_password: 'pve-secret' }, env_tokens: [] });
  });

  it('exchanges a bootstrap token once and keeps the session in memory; a second process is refused', async () => {
    const file = path.join(t.dir, 'job-py.token');
    const token = (await ok(t.env, ['token', 'create', '--client', 'job-py', '--password-stdin'], PASSWORD)).trim();
    fs.writeFileSync(file, token, { mode: 0o600 });
    const env = clientEnv(t, daemon, { tokenFile: file });
    const first = python(script, [], env);
    expect(JSON.parse(first.stdout)).toEqual({ first: 'deploy-secret', again: 'deploy-secret', all: { 'ci/deploy': 'deploy-secret' }, env_tokens: [] });
    expect(fs.readFileSync(file, 'utf8')).toBe(token); // the session token went nowhere but memory
    const second = python(script, [], env);
    expect(JSON.parse(second.stdout)).toMatchObject({ error: 'denied', message: expect.stringContaining('already used') });
  });
});

describe('limits', () => {
  it('past the read burst: 429 with Retry-After, and the CLI exits 5', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof request>>;
    try {
      for (let i = 0; i < READ_BURST; i++) statuses.push((await request(daemon, t, '/v1/secrets/proxmox_password', { cn: 'agent-burst', agent })).status);
      limited = await request(daemon, t, '/v1/secrets/proxmox_password', { cn: 'agent-burst', agent });
    } finally {
      agent.destroy();
    }
    expect(statuses).toEqual(Array<number>(READ_BURST).fill(200)); // exactly the burst is served
    expect(limited.status).toBe(429); // and the next read is refused
    expect(limited.body.error?.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(60); // a token comes back in about an hour
    const r = await cli(clientEnv(t, daemon, { cn: 'agent-burst' }), ['get', 'proxmox_password']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('too many get requests from certificate agent-burst');
    expect(audit().filter((e) => e.client?.cn === 'agent-burst' && e.event_type === 'secret_access')).toHaveLength(READ_BURST);
  });

  it('past the per-address refusal burst: 429 with Retry-After, and only the refusals before it are audited', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof request>> | undefined;
    try {
      for (let i = 0; i < REFUSALS.burst + REFUSAL_PROBES && !limited; i++) {
        const a = await request(daemon, t, '/v1/secrets/proxmox_password', { from: LIMIT_FROM, agent });
        if (a.status === 429) limited = a;
        else statuses.push(a.status);
      }
    } finally {
      agent.destroy();
    }
    // A fresh address's bucket is full: the whole burst is answered 401, and the refill only adds to it.
    expect(statuses.length).toBeGreaterThanOrEqual(REFUSALS.burst);
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(limited?.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining(`too many refused requests from ${LIMIT_FROM}`) });
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const audited = audit().filter((e) => e.event_type === 'peer_denied' && String(e.client?.remote).startsWith(`${LIMIT_FROM}:`));
    expect(audited).toHaveLength(statuses.length); // every refusal before the 429 is audited, none after
  });

  it('a request body over the limit is refused with 413', async () => {
    const a = await request(daemon, t, '/v1/token/renew', { method: 'POST', cn: 'agent-good', body: 'x'.repeat(64 * 1024) });
    expect(a.status).toBe(413);
    expect(a.body.error?.code).toBe('too_large');
  });

  it('a slowloris client is cut off while others are served', async () => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: daemon.port,
      servername: 'localhost',
      ca: fs.readFileSync(path.join(t.home, 'ca', 'ca.crt')),
      cert: fs.readFileSync(path.join(certs, 'agent-slow.crt')),
      key: fs.readFileSync(path.join(certs, 'agent-slow.key')),
    });
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('secureConnect', r));
    socket.write('GET /v1/secrets HTTP/1.1\r\nHost: localhost\r\n');
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write('X-Slow: 1\r\n');
    }, 500);
    try {
      const served = await cli(clientEnv(t, daemon, { cn: 'agent-good' }), ['get', 'proxmox_password']);
      expect(served.code).toBe(0);
      expect(served.stdout).toBe('pve-secret\n');
      expect(closed).toBe(false);
      await waitFor(() => closed, 'the daemon to cut the slow client off', 40_000);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
    const still = await cli(clientEnv(t, daemon, { cn: 'agent-good' }), ['get', 'proxmox_password']);
    expect(still.code).toBe(0);
  });
});

describe('the command line', () => {
  it('serve without a sealed policy refuses to start, even with a policy.yaml beside the vault', async () => {
    const bare = makeEnv();
    try {
      await makeLab(bare, null, []);
      fs.writeFileSync(path.join(bare.home, 'policy.yaml'), 'default_policy: allow\n', { mode: 0o600 });
      const r = await cli(bare.env, ['serve', '--password-stdin', '--listen', '127.0.0.1:0', '--cert', path.join(bare.dir, 'certs', 'server.crt'), '--key', path.join(bare.dir, 'certs', 'server.key'), '--client-ca', path.join(bare.home, 'ca', 'ca.crt')], PASSWORD);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('serve needs a policy');
    } finally {
      bare.cleanup();
    }
  });

  it('a systemd credential unlocks the daemon (no terminal, nothing on stdin)', async () => {
    const creds = path.join(t.dir, 'credentials');
    fs.mkdirSync(creds, { mode: 0o700 });
    fs.writeFileSync(path.join(creds, 'glassdome-password'), `${PASSWORD}\n`, { mode: 0o400 });
    const second = await startServe(t, { credentials: creds });
    try {
      const r = await cli(clientEnv(t, second, { cn: 'agent-good' }), ['get', 'proxmox_password']);
      expect(r.stdout).toBe('pve-secret\n');
      expect(r.code).toBe(0);
    } finally {
      second.stop();
    }
  });

  it('when the key lifetime ends the daemon wipes it and exits 4 (a unit restarts it)', async () => {
    const short = await startServe(t, { extra: ['--lifetime', '2s'] });
    try {
      await waitFor(() => short.child.exitCode !== null, 'the daemon to exit at the end of its lifetime', 20_000);
      expect(short.child.exitCode).toBe(4);
      expect(short.log()).toContain('lifetime over: key wiped; exiting');
    } finally {
      short.stop();
    }
  });

  it('malformed or unknown requests get their error codes, never a value', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['GET', '/v1/secrets/%ZZ', 400, 'invalid_name'],
      ['GET', '/v1/secrets/..%2F..%2Fetc%2Fpasswd', 400, 'invalid_name'],
      ['GET', '/v1/nope', 404, 'unknown_op'],
      ['POST', '/v1/secrets/proxmox_password', 400, 'bad_request'],
      ['DELETE', '/v1/secrets/proxmox_password', 403, 'denied'], // writes need the policy's write/delete action
      ['PUT', '/v1/secrets/proxmox_password', 403, 'denied'],
      ['GET', '/v1/secrets/proxmox_missing', 404, 'not_found'],
      ['GET', '/v1/secrets/not_allowed_missing', 403, 'denied'], // no existence leak past the policy
    ];
    for (const [method, p, status, code] of cases) {
      const a = await request(daemon, t, p, { method, cn: 'agent-good' });
      expect([p, a.status, a.body.error?.code]).toEqual([p, status, code]);
      expect(a.body.value).toBeUndefined();
    }
    expect(await ok(clientEnv(t, daemon, { cn: 'agent-good' }), ['get', 'proxmox_password'])).toBe('pve-secret\n');
  });

  it('token and serve refuse bad input with the contract\'s exit codes; tokens.json must stay private', async () => {
    const session = await cli(t.env, ['token', 'create', '--client', 'job-x', '--type', 'session', '--password-stdin'], PASSWORD);
    expect(session.code).toBe(2);
    const badName = await cli(t.env, ['token', 'create', '--client', 'job x', '--password-stdin'], PASSWORD);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('"job x" is not a usable client name');
    const wrongPw = await cli(t.env, ['token', 'create', '--client', 'job-x', '--password-stdin'], 'not the password');
    expect(wrongPw.code).toBe(1);
    expect(wrongPw.stdout).toBe('');
    expect((await cli(t.env, ['token', 'revoke', 'ffffffffffffffff'])).code).toBe(3);
    expect((await cli(t.env, ['token', 'revoke', 'nope'])).code).toBe(2);
    const listen = await cli(t.env, ['serve', '--listen', 'somewhere', '--cert', 'x', '--key', 'y', '--client-ca', 'z', '--password-stdin'], PASSWORD);
    expect(listen.code).toBe(2);
    expect(listen.stderr).toMatch(/^glassdome: --listen "somewhere" is not ADDRESS:PORT\nglassdome: hint: /);
    const file = path.join(t.home, 'tokens.json');
    fs.chmodSync(file, 0o644);
    try {
      const open = await cli(t.env, ['token', 'list']);
      expect(open.code).toBe(1);
      expect(open.stderr).toContain(`chmod 600 ${file}`);
    } finally {
      fs.chmodSync(file, 0o600);
    }
  });

  it('ca keeps its key private and refuses bad input with usage errors', async () => {
    expect(fs.statSync(path.join(t.home, 'ca')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(t.home, 'ca', 'ca.key')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(certs, 'agent-good.key')).mode & 0o777).toBe(0o600);
    const bad = await cli(t.env, ['ca', 'issue', '--cn', 'x y', '--out', path.join(t.dir, 'xy')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^glassdome: "x y" is not a usable common name\nglassdome: hint: /);
    const san = await cli(t.env, ['ca', 'issue', '--server', '--cn', 'srv', '--san', 'IP:not-an-ip', '--out', path.join(t.dir, 'srv')]);
    expect(san.code).toBe(2);
    const unknown = await cli(t.env, ['ca', 'revoke', 'ABCDEF']);
    expect(unknown.code).toBe(3);
    const crl = await cli(t.env, ['ca', 'crl']);
    expect(crl.stdout).toMatch(/^-----BEGIN X509 CRL-----/);
  });

  it('a CA key that does not match its certificate (a ca init --force cut short) is refused, exit 6, nothing issued', async () => {
    const other = makeEnv();
    try {
      await ok(other.env, ['ca', 'init']);
      const key = path.join(t.home, 'ca', 'ca.key');
      const original = fs.readFileSync(key);
      fs.writeFileSync(key, fs.readFileSync(path.join(other.home, 'ca', 'ca.key')), { mode: 0o600 });
      try {
        const r = await cli(t.env, ['ca', 'issue', '--cn', 'agent-mismatch', '--out', path.join(t.dir, 'mismatch')]);
        expect(r.code).toBe(6);
        expect(r.stderr).toMatch(/^glassdome: the CA key \S+ca\.key does not match the CA certificate \S+ca\.crt\nglassdome: hint: /);
        expect(fs.existsSync(path.join(t.dir, 'mismatch.crt'))).toBe(false);
      } finally {
        fs.writeFileSync(key, original, { mode: 0o600 });
      }
    } finally {
      other.cleanup();
    }
  });
});

describe('this file', () => {
  it('refuses at most one per-address burst from 127.0.0.1, so none of those refusals can meet a 429 (see LIMIT_FROM)', () => {
    const refused = audit().filter((e) => e.event_type === 'peer_denied' && String(e.client?.remote).startsWith('127.0.0.1:'));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThanOrEqual(REFUSALS.burst);
  });
});
