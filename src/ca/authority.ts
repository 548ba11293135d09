// The lab's certificate authority for `glassdome serve`: a P-256 key and a self-signed
// certificate in $GLASSDOME_HOME/ca (directory 0700, key 0600), certificates it issues for the
// daemon and its clients, and the revocation list. Certificates and CRLs are made with
// @peculiar/x509 over Node's WebCrypto; Node's own TLS verifies them. The CA key never leaves its
// directory: issue, revoke and crl sign inside this process and write only certificates, client
// keys and the CRL. ca/issued.json remembers what was issued, ca/revoked.json what was revoked.

import crypto, { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { ensurePrivateDir, readPrivate, writePrivateAtomic } from '../store/secure-file.js';
import { withLock } from '../store/lock.js';

/** Validity defaults after seed 002 (days): CA 10 years, server 1 year, client 90 days. */
export const DEFAULT_DAYS = { ca: 3650, server: 365, client: 90 } as const;
/** The longest validity `--days` accepts. */
export const MAX_DAYS = 3650 * 3;
/** How long a CRL is valid before it must be made again (days). */
export const CRL_VALIDITY_DAYS = 30;
/** The CN of a new CA unless told otherwise. */
export const DEFAULT_CA_CN = 'glassdome-ca';

const DAY_MS = 86_400_000;
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
/** Certificates are back-dated a little so a client with a slow clock accepts them at once. */
const BACKDATE_MS = 5 * 60_000;

/** The files of a CA directory. */
export interface CaPaths {
  dir: string;
  key: string;
  cert: string;
  issued: string;
  revoked: string;
  crl: string;
  lock: string;
}

/** The CA files under a vault home. */
export function caPaths(home: string): CaPaths {
  const dir = path.join(home, 'ca');
  return {
    dir,
    key: path.join(dir, 'ca.key'),
    cert: path.join(dir, 'ca.crt'),
    issued: path.join(dir, 'issued.json'),
    revoked: path.join(dir, 'revoked.json'),
    crl: path.join(dir, 'crl.pem'),
    lock: path.join(dir, '.lock'),
  };
}

/** A certificate the CA issued, as issued.json records it. */
export interface IssuedRecord {
  serial: string;
  cn: string;
  server: boolean;
  not_after: string;
  sha256: string;
}

/** A revocation, as revoked.json records it. */
export interface RevokedRecord {
  serial: string;
  revoked_at: string;
}

/** What `ca issue` asks for. */
export interface IssueRequest {
  cn: string;
  server: boolean;
  /** Subject alternative names: `DNS:name` or `IP:address`. */
  san: string[];
  notBefore?: Date;
  notAfter: Date;
}

/** A new certificate and its private key, both PEM. */
export interface Issued {
  serial: string;
  certPem: string;
  keyPem: string;
  sha256: string;
}

type X509 = typeof import('@peculiar/x509');
let lib: X509 | undefined;

/** @peculiar/x509 with its Reflect polyfill and Node's WebCrypto (loaded on first use). */
function x509(): X509 {
  if (!lib) {
    require('reflect-metadata');
    lib = require('@peculiar/x509') as X509;
    lib.cryptoProvider.set(webcrypto as unknown as Parameters<X509['cryptoProvider']['set']>[0]);
  }
  return lib;
}

/** A serial number as glassdome writes it: upper-case hex, no leading zeros (as Node reports it). */
export function normalizeSerial(text: string): string {
  const hex = text.replace(/:/g, '').trim();
  if (!/^[0-9a-fA-F]{1,64}$/.test(hex)) fail('usage', `${JSON.stringify(text)} is not a serial number`, 'give the hex serial that glassdome ca issue printed, or the certificate file');
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}

/** The days a validity flag gives, checked. */
export function validityDays(days: number | undefined, fallback: number): number {
  const d = days ?? fallback;
  if (!Number.isSafeInteger(d) || d < 1 || d > MAX_DAYS) fail('usage', `--days must be a whole number from 1 to ${MAX_DAYS}`);
  return d;
}

/** Creates the CA key and certificate; `exists` when there is one and `force` is not given. */
export async function initCa(home: string, options: { cn?: string; days?: number; force?: boolean }): Promise<{ certPem: string; sha256: string }> {
  const p = caPaths(home);
  ensurePrivateDir(home);
  ensurePrivateDir(p.dir);
  return withLock(p.lock, async () => {
    if (fs.existsSync(p.key) && !options.force) fail('exists', `a CA already exists in ${p.dir}`, 'keep it, or make a new one with --force (every certificate it issued stops working)');
    const X = x509();
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const now = Date.now();
    const cert = await X.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: dn(options.cn ?? DEFAULT_CA_CN),
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + validityDays(options.days, DEFAULT_DAYS.ca) * DAY_MS),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new X.BasicConstraintsExtension(true, 0, true),
        new X.KeyUsagesExtension(X.KeyUsageFlags.keyCertSign | X.KeyUsageFlags.cRLSign, true),
        await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    writePrivateAtomic(p.key, await keyPem(keys.privateKey));
    const certPem = cert.toString('pem') + '\n';
    writePrivateAtomic(p.cert, certPem);
    writePrivateAtomic(p.issued, '[]\n');
    writePrivateAtomic(p.revoked, '[]\n');
    await writeCrl(p, []);
    return { certPem, sha256: fingerprint(certPem) };
  });
}

/** Issues a server or client certificate signed by the CA. */
export async function issueCertificate(home: string, request: IssueRequest): Promise<Issued> {
  const p = caPaths(home);
  checkCn(request.cn);
  const sans = request.san.map(parseSan);
  return withLock(p.lock, async () => {
    const { cert: ca, key: caKey } = await loadCa(p);
    const X = x509();
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const serial = randomSerial();
    const extensions: import('@peculiar/x509').Extension[] = [
      new X.BasicConstraintsExtension(false, undefined, true),
      new X.KeyUsagesExtension(X.KeyUsageFlags.digitalSignature, true),
      new X.ExtendedKeyUsageExtension([request.server ? X.ExtendedKeyUsage.serverAuth : X.ExtendedKeyUsage.clientAuth]),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new X.AuthorityKeyIdentifierExtension(ca.getExtension(X.SubjectKeyIdentifierExtension)!.keyId),
    ];
    if (sans.length > 0) extensions.push(new X.SubjectAlternativeNameExtension(sans));
    const cert = await X.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: dn(request.cn),
      issuer: ca.subject,
      notBefore: request.notBefore ?? new Date(Date.now() - BACKDATE_MS),
      notAfter: request.notAfter,
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: ALG,
      extensions,
    });
    const certPem = cert.toString('pem') + '\n';
    const node = new crypto.X509Certificate(certPem);
    const record: IssuedRecord = { serial: node.serialNumber, cn: request.cn, server: request.server, not_after: request.notAfter.toISOString(), sha256: fingerprint(certPem) };
    writePrivateAtomic(p.issued, `${JSON.stringify([...readJsonList<IssuedRecord>(p.issued), record], null, 1)}\n`);
    return { serial: record.serial, certPem, keyPem: await keyPem(keys.privateKey), sha256: record.sha256 };
  });
}

/** Revokes a certificate by serial and writes the new CRL; returns the serial. */
export async function revokeCertificate(home: string, serialOrFile: string): Promise<{ serial: string; cn: string | null; already: boolean }> {
  const p = caPaths(home);
  const serial = serialOf(serialOrFile);
  return withLock(p.lock, async () => {
    await loadCa(p);
    const issued = readJsonList<IssuedRecord>(p.issued).find((r) => r.serial === serial);
    if (!issued) fail('not_found', `this CA issued no certificate with serial ${serial}`, `see what it issued in ${p.issued}`);
    const revoked = readJsonList<RevokedRecord>(p.revoked);
    const already = revoked.some((r) => r.serial === serial);
    if (!already) revoked.push({ serial, revoked_at: new Date().toISOString() });
    writePrivateAtomic(p.revoked, `${JSON.stringify(revoked, null, 1)}\n`);
    await writeCrl(p, revoked);
    return { serial, cn: issued.cn, already };
  });
}

/** Signs a fresh CRL of every revocation into ca/crl.pem (and returns its PEM). */
export async function refreshCrl(home: string): Promise<string> {
  const p = caPaths(home);
  return withLock(p.lock, async () => {
    await loadCa(p);
    return writeCrl(p, readJsonList<RevokedRecord>(p.revoked));
  });
}

/** The hex SHA-256 of a PEM certificate's DER (lower case, no colons). */
export function fingerprint(certPem: string): string {
  return new crypto.X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
}

/** The serials a CRL lists (upper-case hex), its thisUpdate and nextUpdate (ms since the epoch, null when absent), after checking it is signed by one of `caPems`. */
export async function readCrl(crlPem: string, caPems: string[]): Promise<{ serials: Set<string>; thisUpdate: number; nextUpdate: number | null }> {
  const X = x509();
  const crl = new X.X509Crl(crlPem.replace(/X509 CRL/g, 'CRL'));
  let signed = false;
  for (const pem of caPems) {
    const ca = new X.X509Certificate(pem);
    if (ca.subject === crl.issuer && (await crl.verify({ publicKey: ca }))) signed = true;
  }
  if (!signed) fail('tampered', 'the CRL is not signed by the client CA', 'make it again: glassdome ca crl');
  return { serials: new Set(crl.entries.map((e) => normalizeSerial(e.serialNumber))), thisUpdate: crl.thisUpdate.getTime(), nextUpdate: crl.nextUpdate ? crl.nextUpdate.getTime() : null };
}

async function writeCrl(p: CaPaths, revoked: RevokedRecord[]): Promise<string> {
  const { cert: ca, key } = await loadCa(p);
  const X = x509();
  const now = Date.now();
  const crl = await X.X509CrlGenerator.create({
    issuer: ca.subject,
    thisUpdate: new Date(now - BACKDATE_MS),
    nextUpdate: new Date(now + CRL_VALIDITY_DAYS * DAY_MS),
    signingKey: key,
    signingAlgorithm: ALG,
    entries: revoked.map((r) => ({ serialNumber: evenHex(r.serial), revocationDate: new Date(r.revoked_at) })),
    extensions: [new X.AuthorityKeyIdentifierExtension(ca.getExtension(X.SubjectKeyIdentifierExtension)!.keyId)],
  });
  // OpenSSL (and so Node's tls) reads the label "X509 CRL", not the library's "CRL".
  const pem = toPem('X509 CRL', Buffer.from(crl.rawData));
  writePrivateAtomic(p.crl, pem);
  return pem;
}

async function loadCa(p: CaPaths): Promise<{ cert: import('@peculiar/x509').X509Certificate; key: webcrypto.CryptoKey }> {
  const keyFile = readPrivate(p.key);
  const certFile = readPrivate(p.cert);
  if (!keyFile || !certFile) fail('not_found', `no CA in ${p.dir}`, 'make one: glassdome ca init');
  const X = x509();
  const privateKey = crypto.createPrivateKey(keyFile.text);
  // initCa writes the key, then the certificate: a crash between them leaves a pair that does
  // not match, whose certificates would fail verification without a word. Refuse it here.
  if (!new crypto.X509Certificate(certFile.text).checkPrivateKey(privateKey)) {
    fail('corrupt', `the CA key ${p.key} does not match the CA certificate ${p.cert}`, 'a `ca init --force` was cut short: run it again (every certificate the old CA issued stops working)');
  }
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  try {
    const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    return { cert: new X.X509Certificate(certFile.text), key };
  } finally {
    der.fill(0);
  }
}

function serialOf(serialOrFile: string): string {
  if (/^[0-9a-fA-F:]+$/.test(serialOrFile) && !fs.existsSync(serialOrFile)) return normalizeSerial(serialOrFile);
  let text: string;
  try {
    text = fs.readFileSync(serialOrFile, 'utf8');
  } catch {
    return fail('usage', `${JSON.stringify(serialOrFile)} is neither a serial number nor a readable certificate file`);
  }
  try {
    return normalizeSerial(new crypto.X509Certificate(text).serialNumber);
  } catch {
    return fail('usage', `${serialOrFile} does not hold a PEM certificate`);
  }
}

function parseSan(text: string): { type: 'dns' | 'ip'; value: string } {
  const m = /^(DNS|IP):(.+)$/i.exec(text.trim());
  if (!m) return fail('usage', `${JSON.stringify(text)} is not a subject alternative name`, 'write DNS:name or IP:address, comma-separated');
  const type = m[1]!.toLowerCase() as 'dns' | 'ip';
  const value = m[2]!;
  if (type === 'ip' && require('node:net').isIP(value) === 0) fail('usage', `${JSON.stringify(value)} is not an IP address`);
  if (type === 'dns' && !/^[A-Za-z0-9*]([A-Za-z0-9.-]{0,252})$/.test(value)) fail('usage', `${JSON.stringify(value)} is not a DNS name`);
  return { type, value };
}

function checkCn(cn: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(cn)) fail('usage', `${JSON.stringify(cn)} is not a usable common name`, 'use letters, digits, _ . @ - (at most 64), like agent-proxmox-01');
}

function dn(cn: string): string {
  checkCn(cn);
  return `CN=${cn}`;
}

/** 16 random bytes, positive and without a leading zero byte (RFC 5280: at most 20 octets). */
function randomSerial(): string {
  const b = crypto.randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10;
  return b.toString('hex');
}

function evenHex(serial: string): string {
  return serial.length % 2 === 1 ? `0${serial}` : serial;
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  try {
    return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
  } finally {
    der.fill(0);
  }
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function readJsonList<T>(file: string): T[] {
  const read = readPrivate(file);
  if (!read) return [];
  try {
    const doc = JSON.parse(read.text) as unknown;
    if (Array.isArray(doc)) return doc as T[];
  } catch {
    // falls through
  }
  return fail('corrupt', `${file} is not a JSON list`, 'restore it from a backup');
}
