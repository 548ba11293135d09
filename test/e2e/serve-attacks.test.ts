// Attacks on a real `glassdome serve` found by the h17r review, each replayed against the daemon
// with real TLS clients (curl, Node's tls and net) and real certificates: a certificate made with
// another key under the CA's name, one host holding every connection, unauthenticated request
// bodies held in memory, a certificate CN that writes escape sequences into `glassdome audit`,
// an older CRL put back to un-revoke a certificate, token refusals missing from the audit log,
// `ca crl --out` writing through a planted symbolic link (and in place), and a server key others can read.
// Each test failed before its fix. Every attack comes from a loopback address of its own, so the
// per-address limits of one never meet another's.

import { spawnSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CONNECTIONS_PER_ADDRESS, MAX_REMOTE_CONNECTIONS, MAX_WRITE_BODY_BYTES } from '../../src/serve/limits.js';
import { cli, makeEnv, PASSWORD, waitFor, type TestEnv } from '../helpers/cli.js';
import { makeLab, ok, request, startServe, type Daemon } from '../helpers/serve.js';

const POLICY = `
authorization:
  rules:
    - name: agents
      clients: ["agent-*"]
      secrets: ["proxmox_*"]
      actions: [read, write]
    - name: jobs
      clients: ["job-*"]
      secrets: ["ci/*"]
      actions: [read]
`;

let t: TestEnv;
let daemon: Daemon;

beforeAll(async () => {
  t = makeEnv();
  await makeLab(t, POLICY, ['agent-good', 'agent-doomed']);
  daemon = await startServe(t);
}, 120_000);

afterAll(() => {
  daemon?.stop();
  t?.cleanup();
});

type Line = { event_type: string; client: { remote?: string; cn?: string; accessor?: string } | null; action: string; result: string; reason?: string };
const audit = (): Line[] =>
  fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
const from = (address: string) => (e: Line) => String(e.client?.remote).startsWith(`${address}:`);

/** A certificate for `cn` signed by a new self-signed CA named `caName` (never the lab's key). */
async function rogueCertificate(dir: string, caName: string, cn: string, serial = '4a01'): Promise<{ cert: string; key: string }> {
  require('reflect-metadata');
  const X = require('@peculiar/x509') as typeof import('@peculiar/x509');
  X.cryptoProvider.set(webcrypto as unknown as Parameters<typeof X.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const gen = async () => (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const caKeys = await gen();
  const keys = await gen();
  const now = Date.now();
  const leaf = await X.X509CertificateGenerator.create({
    serialNumber: serial, subject: [{ CN: [cn] }], issuer: [{ CN: [caName] }], notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000),
    publicKey: keys.publicKey, signingKey: caKeys.privateKey, signingAlgorithm: alg,
    extensions: [new X.KeyUsagesExtension(X.KeyUsageFlags.digitalSignature, true), new X.ExtendedKeyUsageExtension([X.ExtendedKeyUsage.clientAuth])],
  });
  const cert = path.join(dir, 'rogue.crt');
  const key = path.join(dir, 'rogue.key');
  fs.writeFileSync(cert, leaf.toString('pem') + '\n');
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  fs.writeFileSync(key, `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`, { mode: 0o600 });
  return { cert, key };
}

/** One GET with curl from `address` (curl sends its request at once, which is what met the race): the HTTP status, 0 for none. */
function curl(address: string, p: string, cert: { cert: string; key: string }): number {
  const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', address, '--cacert', path.join(t.home, 'ca', 'ca.crt'), '--cert', cert.cert, '--key', cert.key, `https://localhost:${daemon.port}${p}`], { encoding: 'utf8', timeout: 20_000 });
  return Number(r.stdout || 0);
}

describe('certificates that do not verify', () => {
  it('a certificate signed by another key under the CA\'s own name gets 403 and an audit line every time, never a dropped connection', async () => {
    // Before: Node's OpenSSL left the failed signature check queued, the next read of the
    // connection reported it as a clientError and serve destroyed the connection, mostly before
    // the request was parsed: no answer (curl exit 52/56) and no audit line, 5 attempts of 6.
    const address = '127.0.0.41';
    const rogue = await rogueCertificate(t.dir, 'glassdome-ca', 'agent-good');
    const statuses = Array.from({ length: 6 }, () => curl(address, '/v1/secrets/proxmox_password', rogue));
    expect(statuses).toEqual([403, 403, 403, 403, 403, 403]);
    await waitFor(() => audit().filter(from(address)).length >= 6, 'the six refusals to be audited (written as the answer goes out)');
    const lines = audit().filter(from(address));
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      expect(line.event_type).toBe('peer_denied');
      expect(line.reason).toMatch(/^certificate 4A01 refused: cert signature failure$/);
    }
  });

  it('a certificate with a serial no CA of glassdome issues (40 bytes) is refused 403 and audited like any other, not a 400 usage error', async () => {
    // Before: the serial went through normalizeSerial (at most 64 hex digits), which threw a
    // usage error: 400 "is not a serial number" with the CLI's hint, and no audit line.
    const address = '127.0.0.49';
    const serial = `7f${'ab'.repeat(39)}`;
    const rogue = await rogueCertificate(t.dir, 'glassdome-ca', 'agent-good', serial);
    expect([curl(address, '/v1/status', rogue), curl(address, '/v1/status', rogue)]).toEqual([403, 403]);
    await waitFor(() => audit().filter(from(address)).length >= 2, 'the refusals to be audited');
    for (const line of audit().filter(from(address))) expect(line.reason).toBe(`certificate ${serial.toUpperCase().slice(0, 64)}… refused: cert signature failure`);
    expect(daemon.child.exitCode).toBeNull();
  });

  it('a CN of escape sequences and new lines is shown escaped by glassdome audit, and cut to 64 characters in the log', async () => {
    // Before: `glassdome audit` wrote the CN of a refused certificate raw: ESC[2J cleared the
    // reader's terminal, OSC 0 set its title, and a new line forged a whole audit line.
    const address = '127.0.0.42';
    const forged = '2026-01-01T00:00:00.000Z  secret_access   get proxmox_password     success';
    const cn = `\u001b[2J\u001b]0;owned\u0007agent-good\n${forged}${'x'.repeat(200)}`;
    const rogue = await rogueCertificate(t.dir, 'other-ca', cn);
    expect(curl(address, '/v1/secrets/proxmox_password', rogue)).toBe(403);
    await waitFor(() => audit().some(from(address)), 'the refusal to be audited');
    const line = audit().filter(from(address))[0]!;
    expect(line.client?.cn).toBe(`${cn.slice(0, 64)}…`);
    const shown = await cli(t.env, ['audit']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const mine = shown.stdout.split('\n').filter((l) => l.includes('owned'));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toContain('\\x1b[2J\\x1b]0;owned\\x07agent-good\\x0a2026-01-01T00:00:00.000Z');
    expect(shown.stdout.split('\n').some((l) => l.startsWith('2026-01-01T00:00:00.000Z'))).toBe(false);
  });
});

describe('connections', () => {
  it('one address holding every connection it can open does not lock out another host', async () => {
    // Before: 256 bare TCP connections from one address (no TLS, no certificate), renewed every
    // 10 s, took every slot of maxConnections: every other client was dropped at connect.
    const flood: net.Socket[] = [];
    let closed = 0;
    for (let i = 0; i < MAX_REMOTE_CONNECTIONS + 20; i++) {
      const s = net.connect({ host: '127.0.0.1', port: daemon.port, localAddress: '127.0.0.43' });
      s.on('error', () => undefined);
      s.on('close', () => closed++);
      flood.push(s);
    }
    try {
      await Promise.all(flood.map((s) => new Promise((resolve) => (s.readyState === 'open' ? resolve(null) : s.once('connect', resolve).once('close', resolve)))));
      await new Promise<void>((resolve) => {
        const check = (): void => void (flood.length - closed <= MAX_CONNECTIONS_PER_ADDRESS ? resolve() : setTimeout(check, 50));
        check();
      });
      expect(flood.length - closed).toBe(MAX_CONNECTIONS_PER_ADDRESS);
      const a = await request(daemon, t, '/v1/secrets/proxmox_password', { cn: 'agent-good', from: '127.0.0.44' });
      expect(a.status).toBe(200);
      expect(Buffer.from(String(a.body.value), 'base64').toString()).toBe('pve-secret');
    } finally {
      for (const s of flood) s.destroy();
    }
  });
});

describe('request bodies', () => {
  it('a PUT without credentials is refused before its body is read: 401 while its 1 MiB is still on the way', async () => {
    // Before: serve read the whole body (up to 1 MiB) before asking who sent it, so 200
    // connections without any credentials held 200 MiB of the daemon for 15 s each; the last
    // byte never sent, the request timed out (408) instead of being refused.
    const socket = tls.connect({ host: '127.0.0.1', port: daemon.port, servername: 'localhost', localAddress: '127.0.0.45', ca: fs.readFileSync(path.join(t.home, 'ca', 'ca.crt')) });
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    try {
      await new Promise((r) => socket.once('secureConnect', r));
      socket.write(`PUT /v1/secrets/proxmox_new HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${MAX_WRITE_BODY_BYTES}\r\n\r\n`);
      socket.write(Buffer.alloc(MAX_WRITE_BODY_BYTES - 1, 0x61)); // all but the last byte, never sent
      await new Promise<void>((resolve) => {
        const check = (): void => void (/\r\n\r\n\{/.test(answer) || socket.destroyed ? resolve() : setTimeout(check, 50));
        check();
      });
      expect(answer).toMatch(/^HTTP\/1\.1 401 /);
      expect(answer).toContain('"code":"denied"');
    } finally {
      socket.destroy();
    }
  });

  it('the same PUT with a certificate the policy allows still writes its value', async () => {
    const a = await request(daemon, t, '/v1/secrets/proxmox_new', { method: 'PUT', cn: 'agent-good', body: 'new-value', from: '127.0.0.46' });
    expect(a.status).toBe(200);
    const b = await request(daemon, t, '/v1/secrets/proxmox_new', { cn: 'agent-good', from: '127.0.0.46' });
    expect(Buffer.from(String(b.body.value), 'base64').toString()).toBe('new-value');
  });
});

describe('revocation', () => {
  it('an older CRL, signed and still current, put back in place of the newer one does not un-revoke a certificate', async () => {
    // Before: serve reloaded any CRL the CA signed, so copying back the CRL from before a
    // revocation let the revoked certificate in again (200) until the next restart.
    const crl = path.join(t.home, 'ca', 'crl.pem');
    const before = fs.readFileSync(crl);
    const doomed = { cn: 'agent-doomed', from: '127.0.0.47' };
    expect((await request(daemon, t, '/v1/secrets/proxmox_password', doomed)).status).toBe(200);
    await ok(t.env, ['ca', 'revoke', path.join(t.dir, 'certs', 'agent-doomed.crt')]);
    await waitFor(() => /CRL reloaded: 1 revoked/.test(daemon.log()), 'the daemon to load the CRL with the revocation');
    expect((await request(daemon, t, '/v1/secrets/proxmox_password', doomed)).status).toBe(403);
    fs.writeFileSync(`${crl}.old`, before, { mode: 0o600 });
    fs.renameSync(`${crl}.old`, crl);
    await waitFor(() => /CRL refused, keeping the previous one: \S+crl\.pem was made at \S+, before the one in force/.test(daemon.log()), 'the daemon to refuse the older CRL');
    const a = await request(daemon, t, '/v1/secrets/proxmox_password', doomed);
    expect(a.status).toBe(403);
    expect(a.body.error?.message).toMatch(/refused: revoked/);
    expect((await request(daemon, t, '/v1/secrets/proxmox_password', { cn: 'agent-good', from: '127.0.0.47' })).status).toBe(200);
  });
});

describe('tokens', () => {
  it('every refused use of a token is audited with its accessor: a bootstrap token read with, exchanged twice, a revoked session', async () => {
    // Before: the refusals made after the token was checked (a bootstrap token used to read, a
    // second exchange lost to the first, renew with a bootstrap token) wrote no audit line, and
    // the refusals of unknown, revoked or expired tokens named no accessor.
    const address = '127.0.0.48';
    const bootstrap = (await ok(t.env, ['token', 'create', '--client', 'job-audit', '--password-stdin'], PASSWORD)).trim();
    const accessor = bootstrap.split('_')[1]!;
    const read = await request(daemon, t, '/v1/secrets/ci%2Fdeploy', { token: bootstrap, from: address });
    expect(read.status).toBe(403);
    const renew = await request(daemon, t, '/v1/token/renew', { method: 'POST', token: bootstrap, from: address });
    expect(renew.status).toBe(403);
    const ex = await request(daemon, t, '/v1/token/exchange', { method: 'POST', token: bootstrap, from: address });
    expect(ex.status).toBe(200);
    const again = await request(daemon, t, '/v1/token/exchange', { method: 'POST', token: bootstrap, from: address });
    expect(again.body.error?.message).toContain('already used');
    const session = String(ex.body.token);
    await ok(t.env, ['token', 'revoke', String(ex.body.accessor)]);
    const revoked = await request(daemon, t, '/v1/secrets/ci%2Fdeploy', { token: session, from: address });
    expect(revoked.status).toBe(401);
    const denials = (): Line[] => audit().filter(from(address)).filter((e) => e.result === 'denied');
    await waitFor(() => denials().length >= 4, 'the refusals to be audited (written as the answer goes out)');
    const denied = denials();
    expect(denied.map((e) => [e.client?.accessor, e.reason])).toEqual([
      [accessor, 'a bootstrap token only buys a session token'],
      [accessor, 'a bootstrap token only buys a session token'],
      [accessor, `bootstrap token ${accessor} was already used`],
      [String(ex.body.accessor), `token ${String(ex.body.accessor)} is unknown or revoked`],
    ]);
  });
});

describe('the CA tooling', () => {
  it('ca issue --out into the CA directory is refused, even with --force: the CA key stays', async () => {
    // Before: `ca issue --cn x --out $GLASSDOME_HOME/ca/ca --force` replaced ca.key and ca.crt
    // with a client's; the next `ca issue` went on signing with that leaf (its key matches its
    // certificate), issuing certificates nothing verifies, and the CA key was gone for good.
    const ca = path.join(t.home, 'ca');
    const key = fs.readFileSync(path.join(ca, 'ca.key'));
    const r = await cli(t.env, ['ca', 'issue', '--cn', 'agent-x', '--out', path.join(ca, 'ca'), '--force']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^glassdome: --out \S+ is inside the CA directory \S+\nglassdome: hint: /);
    expect(fs.readFileSync(path.join(ca, 'ca.key')).equals(key)).toBe(true);
    const elsewhere = await cli(t.env, ['ca', 'issue', '--cn', 'agent-x', '--out', path.join(ca, '..', 'ca', 'sub')]);
    expect(elsewhere.code).toBe(2);
    expect(fs.existsSync(path.join(ca, 'sub.key'))).toBe(false);
  });
});

describe('ca crl --out', () => {
  it('refuses a symbolic link planted at --out instead of writing through it (exit 1, one line + hint), and writes a new CRL 0644', async () => {
    // Before: writeFileSync followed the link, so whoever could plant it at the --out name had the
    // operator's `ca crl` overwrite the file it pointed at (here a stand-in for /etc/shadow). Now
    // the link is left as it was, as backup -o and inject -o leave one (output-nodes.test).
    const dir = fs.mkdtempSync(path.join(t.dir, 'crl-out-'));
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'root:precious\n', { mode: 0o600 });
    const out = path.join(dir, 'crl.pem');
    fs.symlinkSync(victim, out);
    const r = await cli(t.env, ['ca', 'crl', '--out', out]);
    expect(r.stderr).toBe(`glassdome: ${out} is not a regular file (a device, a fifo, a symbolic link or a directory); it was not replaced\nglassdome: hint: name a regular file, or a new one\n`);
    expect(r.code).toBe(1);
    expect(fs.readFileSync(victim, 'utf8')).toBe('root:precious\n');
    expect(fs.lstatSync(out).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(out)).toBe(victim);
    expect(fs.readdirSync(dir).sort()).toEqual(['crl.pem', 'victim']);
    const fresh = path.join(dir, 'new.pem');
    await ok(t.env, ['ca', 'crl', '--out', fresh]);
    expect(fs.lstatSync(fresh).mode & 0o777).toBe(0o644);
    expect(fs.readFileSync(fresh, 'utf8')).toBe(fs.readFileSync(path.join(t.home, 'ca', 'crl.pem'), 'utf8'));
  });

  it('replaces the CRL by a rename: a reader of the old file (a serve reloading it) sees the old CRL whole, never a mix', async () => {
    // Before: writeFileSync truncated the file in place and wrote into it, so a daemon reloading
    // the CRL at that moment could read half of it; a hard link to the old file shows the write.
    const dir = fs.mkdtempSync(path.join(t.dir, 'crl-swap-'));
    const out = path.join(dir, 'crl.pem');
    await ok(t.env, ['ca', 'crl', '--out', out]);
    const old = fs.readFileSync(out, 'utf8');
    fs.linkSync(out, path.join(dir, 'held'));
    const ino = fs.statSync(out).ino;
    await ok(t.env, ['ca', 'crl', '--out', out]);
    expect(fs.statSync(out).ino).not.toBe(ino);
    expect(fs.readFileSync(path.join(dir, 'held'), 'utf8')).toBe(old);
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^-----BEGIN X509 CRL-----\n[\s\S]+\n-----END X509 CRL-----\n$/);
  });

  it('--out into the CA directory is refused: the CA key stays', async () => {
    // Before: `ca crl --out $GLASSDOME_HOME/ca/ca.key` wrote the CRL over the CA key.
    const key = fs.readFileSync(path.join(t.home, 'ca', 'ca.key'));
    const r = await cli(t.env, ['ca', 'crl', '--out', path.join(t.home, 'ca', 'ca.key')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^glassdome: --out \S+ is inside the CA directory \S+\nglassdome: hint: /);
    expect(fs.readFileSync(path.join(t.home, 'ca', 'ca.key')).equals(key)).toBe(true);
  });
});

describe('serve --key', () => {
  const serveWithKey = (key: string) =>
    cli(t.env, ['serve', '--password-stdin', '--listen', '127.0.0.1:0', '--cert', path.join(t.dir, 'certs', 'server.crt'), '--key', key, '--client-ca', path.join(t.home, 'ca', 'ca.crt')], PASSWORD, 15_000);

  it('a server key others can read is refused before the daemon unlocks or listens: exit 1 and the chmod', async () => {
    // Before: serve started on a key file of mode 0644 (any local user could copy the server's
    // key and pose as it) and served until stopped.
    const key = path.join(t.dir, 'world-readable.key');
    fs.copyFileSync(path.join(t.dir, 'certs', 'server.key'), key);
    for (const mode of [0o644, 0o640]) {
      fs.chmodSync(key, mode);
      const r = await serveWithKey(key);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`glassdome: ${key} is accessible by others (mode 0${mode.toString(8)})\nglassdome: hint: chmod 600 ${key}\n`);
    }
  });

  it('a server key owned by another user is refused, also through a symbolic link, and a fifo is refused without hanging', async () => {
    const key = path.join(t.dir, 'nobody.key');
    fs.copyFileSync(path.join(t.dir, 'certs', 'server.key'), key);
    fs.chmodSync(key, 0o600);
    fs.chownSync(key, 65534, 65534);
    const link = path.join(t.dir, 'nobody-link.key');
    fs.symlinkSync(key, link);
    for (const name of [key, link]) {
      const r = await serveWithKey(name);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^glassdome: ${name} is owned by uid 65534, not by you \\(uid 0\\)\\nglassdome: hint: check who wrote it, then: chown 0 ${name}\\n$`));
    }
    const fifo = path.join(t.dir, 'fifo.key');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const r = await serveWithKey(fifo);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a regular file \(it is a fifo\)/);
  });
});
