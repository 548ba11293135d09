// `glassdome ca init | issue | revoke | crl`: the CA tooling of the network daemon, over
// src/ca/authority.ts. Issued keys are written 0600 next to their certificates (PREFIX.key,
// PREFIX.crt); nothing is overwritten without --force, and nothing is written into the CA directory.

import fs from 'node:fs';
import path from 'node:path';
import { caPaths, DEFAULT_DAYS, initCa, issueCertificate, refreshCrl, revokeCertificate, validityDays } from '../ca/authority.js';
import { writeJson } from '../cli/render.js';
import { fail } from '../errors.js';
import type { VaultPaths } from '../store/paths.js';
import { writePrivateAtomic, writePublicAtomic } from '../store/secure-file.js';
import { revokeSerialInEtcd } from '../serve/revocations-etcd.js';
import { withEtcd } from './etcd-access.js';

const DAY_MS = 86_400_000;

/** `ca init`: a new CA in $GLASSDOME_HOME/ca. */
export async function caInitAction(options: { cn: string | undefined; days: number | undefined; force: boolean; json: boolean }, paths: VaultPaths): Promise<void> {
  const { sha256 } = await initCa(paths.home, options);
  const p = caPaths(paths.home);
  if (options.json) writeJson({ dir: p.dir, cert: p.cert, crl: p.crl, sha256 });
  else process.stdout.write(`${p.cert}\n`);
  if (!options.json) process.stderr.write(`glassdome: CA made in ${p.dir} (sha256 ${sha256}); give ${p.cert} to servers and clients\n`);
}

/** `ca issue`: a server or client certificate and its key, at PREFIX.crt and PREFIX.key. */
export async function caIssueAction(
  options: { cn: string; server: boolean; san: string | undefined; days: number | undefined; out: string | undefined; force: boolean; json: boolean },
  paths: VaultPaths,
): Promise<void> {
  const days = validityDays(options.days, options.server ? DEFAULT_DAYS.server : DEFAULT_DAYS.client);
  const prefix = path.resolve(options.out ?? options.cn);
  const certFile = `${prefix}.crt`;
  const keyFile = `${prefix}.key`;
  if (sameDir(path.dirname(prefix), caPaths(paths.home).dir)) fail('usage', `--out ${options.out} is inside the CA directory ${caPaths(paths.home).dir}`, 'write issued certificates and keys elsewhere: the CA directory holds the CA key, which --force would overwrite');
  for (const f of [certFile, keyFile]) if (fs.existsSync(f) && !options.force) fail('exists', `${f} already exists`, 'choose another --out PREFIX, or overwrite with --force');
  const san = options.san ? options.san.split(',').filter((s) => s.length > 0) : [];
  const issued = await issueCertificate(paths.home, { cn: options.cn, server: options.server, san, notAfter: new Date(Date.now() + days * DAY_MS) });
  writePrivateAtomic(keyFile, issued.keyPem);
  writePrivateAtomic(certFile, issued.certPem);
  if (options.json) writeJson({ serial: issued.serial, cn: options.cn, cert: certFile, key: keyFile, sha256: issued.sha256, days });
  else process.stdout.write(`${issued.serial}\n`);
  if (!options.json) process.stderr.write(`glassdome: issued ${options.server ? 'server' : 'client'} certificate ${options.cn} (serial ${issued.serial}, ${days} days): ${certFile}, key ${keyFile}\n`);
}

/** Whether two paths name the same directory (after symbolic links); false when either is missing. */
function sameDir(a: string, b: string): boolean {
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}

/** `ca revoke`: adds a certificate to the CRL (ca/crl.pem), which a running `serve --crl` reloads, and with `store` to etcd's revoked serials. */
export async function caRevokeAction(options: { target: string; json: boolean; store?: string }, paths: VaultPaths): Promise<void> {
  const r = await revokeCertificate(paths.home, options.target);
  const inEtcd = await withEtcd(options.store, async (etcd) => (etcd ? (await revokeSerialInEtcd(etcd.client, etcd.prefix, r.serial, r.cn), true) : false));
  if (options.json) writeJson({ serial: r.serial, cn: r.cn, already_revoked: r.already, crl: caPaths(paths.home).crl, ...(inEtcd ? { etcd: options.store } : {}) });
  else process.stderr.write(`glassdome: ${r.already ? 'already revoked' : 'revoked'} ${r.serial} (${r.cn}); CRL written to ${caPaths(paths.home).crl}${inEtcd ? `; recorded in etcd (${options.store})` : ''}\n`);
}

/** `ca crl`: signs a fresh CRL into ca/crl.pem; prints it, or copies it to --out (0644, replaced atomically; a symbolic link or other non-regular file there is refused, never followed). */
export async function caCrlAction(options: { out: string | undefined }, paths: VaultPaths): Promise<void> {
  if (options.out && sameDir(path.dirname(path.resolve(options.out)), caPaths(paths.home).dir)) fail('usage', `--out ${options.out} is inside the CA directory ${caPaths(paths.home).dir}`, 'copy the CRL elsewhere: the CA directory holds the CA key, and ca/crl.pem is written anyway');
  const pem = await refreshCrl(paths.home);
  if (options.out) {
    writePublicAtomic(options.out, pem);
    process.stderr.write(`glassdome: CRL written to ${options.out}\n`);
  } else {
    process.stdout.write(pem);
  }
}
