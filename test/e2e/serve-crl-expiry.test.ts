// Past a CRL's nextUpdate, Node's TLS (OpenSSL) refuses every client certificate at the
// handshake (when no current CRL of the same CA is loaded beside it): a 30-day crl.pem nobody
// renewed locks every client out with no word from serve.
// serve now warns from 7 days before (at start, at each reload, hourly) and once it has expired,
// naming the file and the command that renews it. The premise is checked too: with the expired
// CRL loaded, a valid client certificate is refused.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeEnv, type TestEnv } from '../helpers/cli.js';
import { AGENTS_READ_POLICY, clientEnv, makeLab, startServe, type Daemon } from '../helpers/serve.js';

const HOUR = 3600_000;

let t: TestEnv;
const daemons: Daemon[] = [];

/** A CRL signed by the test's CA with the given validity window, written to `file`. */
async function signedCrl(file: string, thisUpdate: number, nextUpdate: number): Promise<string> {
  require('reflect-metadata');
  const X = require('@peculiar/x509') as typeof import('@peculiar/x509');
  X.cryptoProvider.set(crypto.webcrypto as unknown as Parameters<typeof X.cryptoProvider.set>[0]);
  const ca = new X.X509Certificate(fs.readFileSync(path.join(t.home, 'ca', 'ca.crt'), 'utf8'));
  const der = crypto.createPrivateKey(fs.readFileSync(path.join(t.home, 'ca', 'ca.key'), 'utf8')).export({ format: 'der', type: 'pkcs8' });
  const key = await crypto.webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const crl = await X.X509CrlGenerator.create({
    issuer: ca.subject,
    thisUpdate: new Date(thisUpdate),
    nextUpdate: new Date(nextUpdate),
    signingKey: key,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    entries: [],
    extensions: [new X.AuthorityKeyIdentifierExtension(ca.getExtension(X.SubjectKeyIdentifierExtension)!.keyId)],
  });
  const lines = Buffer.from(crl.rawData).toString('base64').match(/.{1,64}/g)!;
  fs.writeFileSync(file, `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`);
  return file;
}

beforeAll(async () => {
  t = makeEnv();
  await makeLab(t, AGENTS_READ_POLICY, ['agent-a']);
}, 120_000);

afterAll(() => {
  for (const d of daemons) d.stop();
  t?.cleanup();
});

describe('serve and the CRL nextUpdate', () => {
  it('a fresh 30-day CRL: no warning', async () => {
    const d = await startServe(t);
    daemons.push(d);
    expect(d.log()).not.toContain('warning: the CRL');
    d.stop();
  });

  it('a CRL expiring within 7 days: a warning naming the file, the time and the command', async () => {
    const now = Date.now();
    const file = await signedCrl(path.join(t.dir, 'soon.pem'), now - HOUR, now + 48 * HOUR);
    const d = await startServe(t, { extra: ['--crl', file] });
    daemons.push(d);
    expect(d.log()).toMatch(new RegExp(`warning: the CRL ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} expires at \\S+ \\(in (47|48) h\\): after that TLS refuses every client certificate; renew it: glassdome ca crl --out `));
    expect(await cli(clientEnv(t, d, { cn: 'agent-a' }), ['get', 'proxmox_password'])).toMatchObject({ code: 0, stdout: 'pve-secret\n' });
    d.stop();
  });

  it('an expired CRL: a warning that it expired, and indeed every client certificate is refused', async () => {
    // The expired CRL takes crl.pem's place: beside a current CRL of the same CA, OpenSSL uses that one.
    const now = Date.now();
    const file = path.join(t.home, 'ca', 'crl.pem');
    const current = fs.readFileSync(file);
    try {
      await signedCrl(file, now - 2 * HOUR, now - HOUR);
      const d = await startServe(t);
      daemons.push(d);
      expect(d.log()).toContain(`warning: the CRL ${file} expired at `);
      const r = await cli(clientEnv(t, d, { cn: 'agent-a' }), ['get', 'proxmox_password']);
      expect(r.code).toBe(5);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('refused: crl has expired');
      d.stop();
    } finally {
      fs.writeFileSync(file, current);
    }
  });
});
