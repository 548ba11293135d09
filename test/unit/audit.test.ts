import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, readAuditFiles } from '../../src/audit/log.js';
import crypto from 'node:crypto';
import fc from 'fast-check';
import { buildLine, verifyChain, GENESIS, LineMac, lineHash } from '../../src/audit/chain.js';

async function writeLog(count: number, rotateBytes?: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gd-audit-'));
  const file = path.join(dir, 'audit.log');
  const log = new AuditLog(file, rotateBytes);
  for (let i = 0; i < count; i++) await log.append({ client: { pid: i, uid: 0, exe: '/usr/bin/python3' }, event_type: 'secret_access', action: 'get', resource: `s${i}`, result: 'success' });
  log.close();
  return file;
}

function verify(file: string) {
  const { files, startsMidway } = readAuditFiles(file);
  return verifyChain(files, startsMidway);
}

function rewrite(file: string, change: (lines: string[]) => string[]): void {
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  fs.writeFileSync(file, `${change(lines).join('\n')}\n`);
}

describe('audit chain', () => {
  it('a fresh log verifies; the first line follows the genesis hash; fields are in the seed’s order', async () => {
    const file = await writeLog(5);
    expect(verify(file)).toMatchObject({ lines: 5, broken: null, unkeyed: 5, keyed: 0, lastSeq: 5 });
    const first = JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!);
    expect(first.prev).toBe(GENESIS);
    expect(Object.keys(first)).toEqual(['timestamp', 'event_id', 'event_type', 'client', 'action', 'resource', 'result', 'seq', 'prev', 'mac', 'hash']);
    expect(first).toMatchObject({ seq: 1, mac: null });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('finds an edited line, the last one included', async () => {
    const file = await writeLog(5);
    rewrite(file, (l) => l.map((x, i) => (i === 2 ? x.replace('"s2"', '"sX"') : x)));
    expect(verify(file).broken).toEqual({ file: 'audit.log', line: 3, problem: 'it was edited (its hash does not match its text)' });
    const last = await writeLog(5);
    rewrite(last, (l) => l.map((x, i) => (i === 4 ? x.replace('"success"', '"failure"') : x)));
    expect(verify(last).broken?.line).toBe(5);
  });

  it('finds a removed line, at the start or in the middle', async () => {
    const file = await writeLog(5);
    rewrite(file, (l) => l.filter((_, i) => i !== 2));
    expect(verify(file).broken).toMatchObject({ line: 3, problem: expect.stringMatching(/does not follow the line before it/) });
    const head = await writeLog(3);
    rewrite(head, (l) => l.slice(1));
    expect(verify(head).broken).toMatchObject({ line: 1, problem: expect.stringMatching(/lines before it were removed/) });
  });

  it('finds reordered lines', async () => {
    const file = await writeLog(5);
    rewrite(file, (l) => [l[0]!, l[2]!, l[1]!, l[3]!, l[4]!]);
    expect(verify(file).broken?.line).toBe(2);
  });

  it('rotation carries the chain into the next file; pruned history leaves a chain that starts midway', async () => {
    const file = await writeLog(20, 2000);
    const { files, startsMidway } = readAuditFiles(file);
    expect(files.length).toBeGreaterThan(2);
    expect(startsMidway).toBe(false);
    // each rotation closes the old file with one admin_action line of its own
    const rotations = files.slice(0, -1).map((f) => JSON.parse(f.lines[f.lines.length - 1]!));
    expect(rotations.every((e) => e.event_type === 'admin_action' && e.action === 'rotate')).toBe(true);
    expect(verify(file)).toMatchObject({ lines: 20 + rotations.length, broken: null });
    const long = await writeLog(60, 2000);
    const pruned = readAuditFiles(long);
    expect(pruned.startsMidway).toBe(true);
    expect(pruned.files.map((f) => f.name)).toEqual(['audit.log.5', 'audit.log.4', 'audit.log.3', 'audit.log.2', 'audit.log.1', 'audit.log']);
    const result = verify(long);
    expect(result.broken).toBeNull();
    expect(result.lines).toBeLessThan(60 + 10);
  });

  it('a line appended by a second writer continues the chain', async () => {
    const file = await writeLog(2);
    const other = new AuditLog(file);
    await other.append({ client: null, event_type: 'admin_action', action: 'lock', resource: null, result: 'success' });
    const again = new AuditLog(file);
    await again.append({ client: null, event_type: 'admin_action', action: 'lock', resource: null, result: 'success' });
    expect(verify(file)).toMatchObject({ lines: 4, broken: null, lastSeq: 4 });
  });
});

describe('keyed chain and anchor', () => {
  const key = new Uint8Array(32).fill(7);
  async function keyedLog(count: number): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gd-audit-'));
    const file = path.join(dir, 'audit.log');
    const log = new AuditLog(file, undefined, () => key);
    for (let i = 0; i < count; i++) await log.append({ client: null, event_type: 'secret_access', action: 'get', resource: `s${i}`, result: 'success' });
    log.close();
    return file;
  }
  const anchorOf = (file: string, lines: number) => ({ lines, hash: Buffer.from(lineHash(fs.readFileSync(file, 'utf8').split('\n')[lines - 1]!), 'hex') });
  const check = (file: string, k: Uint8Array, anchor: { lines: number; hash: Uint8Array } | null) => {
    const { files, startsMidway } = readAuditFiles(file);
    return verifyChain(files, startsMidway, { key: k, anchor });
  };

  it('verifies MACs under the right key only, and reports the anchored line', async () => {
    const file = await keyedLog(4);
    expect(check(file, key, anchorOf(file, 3))).toMatchObject({ broken: null, keyed: 4, unkeyed: 0, anchoredAt: 3 });
    expect(check(file, new Uint8Array(32), null).broken).toMatchObject({ line: 1, problem: expect.stringMatching(/MAC does not match/) });
  });

  it('an anchor beyond the end, or naming another line, is tampered', async () => {
    const file = await keyedLog(4);
    expect(check(file, key, { lines: 6, hash: new Uint8Array(32) }).broken?.problem).toMatch(/the log ends at line 4 but the vault anchored line 6/);
    expect(check(file, key, { lines: 2, hash: new Uint8Array(32) }).broken).toMatchObject({ line: 2, problem: expect.stringMatching(/not the line 2 the vault anchored/) });
    fs.writeFileSync(file, '');
    expect(check(file, key, anchorOf(await keyedLog(2), 2)).broken?.problem).toMatch(/empty or missing/);
  });

  it('a rotation that drops the oldest file says where the log starts; a forged unkeyed drop line is not believed with the key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gd-audit-'));
    const file = path.join(dir, 'audit.log');
    const log = new AuditLog(file, 2000, () => key);
    for (let i = 0; i < 60; i++) await log.append({ client: null, event_type: 'secret_access', action: 'get', resource: `s${i}`, result: 'success' });
    log.close();
    const { files, startsMidway } = readAuditFiles(file);
    expect(files[0]!.name).toBe('audit.log.5');
    expect(verifyChain(files, startsMidway, { key, anchor: null })).toMatchObject({ broken: null });
    const drops = files.flatMap((f) => f.lines).filter((l) => /the log now starts at line \d+/.test(l));
    expect(drops.length).toBeGreaterThan(0);

    const short = await keyedLog(6);
    const kept = fs.readFileSync(short, 'utf8').trimEnd().split('\n').slice(2);
    const forged = buildLine({ timestamp: 'x', event_id: 'evt_x', event_type: 'admin_action', client: null, action: 'rotate', resource: 'audit.log', result: 'success', reason: 'audit.log.5 dropped: the log now starts at line 3' }, 7, lineHash(kept[kept.length - 1]!), undefined);
    const tampered = [{ name: 'audit.log', lines: [...kept, forged] }];
    expect(verifyChain(tampered, false).broken).toBeNull(); // without the key the plain chain cannot tell
    expect(verifyChain(tampered, false, { key, anchor: null }).broken).toMatchObject({ line: 1, problem: expect.stringMatching(/lines before it were removed/) });
  });
});

describe('line checks (the agent runs its identity check through them)', () => {
  const event = (resource: string) => ({ client: { pid: 7, uid: 0, exe: '/usr/bin/python3' }, event_type: 'secret_access', action: 'get', resource, result: 'success' });
  const refusal = (resource: string, reason: string) => ({ event: { ...event(resource), event_type: 'identity_changed', result: 'denied', reason }, error: new Error(`refused ${resource}`) });
  const lines = (file: string) => fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));

  it('a refusal before the write takes the line’s place; one after it follows the line; the appends reject only then', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gd-audit-')), 'audit.log');
    const log = new AuditLog(file);
    let calls = 0;
    const before = log.append(event('a'), () => refusal('a', 'changed before'));
    const after = log.append(event('b'), () => (++calls === 2 ? refusal('b', 'changed after') : null));
    const fine = log.append(event('c'), () => null);
    await expect(before).rejects.toThrow('refused a');
    await expect(after).rejects.toThrow('refused b');
    await expect(fine).resolves.toBeUndefined();
    expect(calls).toBe(2); // once before the write, once after
    const written = lines(file);
    expect(written.map((l) => [l.event_type, l.resource, l.result])).toEqual([
      ['identity_changed', 'a', 'denied'],
      ['secret_access', 'b', 'success'],
      ['secret_access', 'c', 'success'],
      ['identity_changed', 'b', 'denied'],
    ]);
    expect(verify(file)).toMatchObject({ lines: 4, broken: null });
    log.close();
  });

  it('the checks of one batch share one memo at each of the two moments', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gd-audit-')), 'audit.log');
    const log = new AuditLog(file);
    const memos: Array<Map<unknown, unknown>> = [];
    const check = (memo: Map<unknown, unknown>) => (memos.push(memo), null);
    await Promise.all([log.append(event('a'), check), log.append(event('b'), check)]);
    expect(memos).toHaveLength(4);
    expect(memos[0]).toBe(memos[1]);
    expect(memos[2]).toBe(memos[3]);
    expect(memos[0]).not.toBe(memos[2]);
    log.close();
  });

  it('a line that cannot be written rejects its append with audit_failed, whatever its check says', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gd-audit-'));
    const file = path.join(dir, 'audit.log');
    fs.mkdirSync(file); // a directory where the log should be
    const log = new AuditLog(file);
    await expect(log.append(event('a'), () => refusal('a', 'changed'))).rejects.toMatchObject({ code: 'audit_failed' });
  });
});

describe('buildLine', () => {
  it('writes the event as JSON.stringify({ ...event, seq, prev }) would, then mac and hash', () => {
    const event = { timestamp: '2026-01-01T00:00:00.000Z', event_id: 'evt_1', event_type: 'secret_access', client: { pid: 1, uid: 0, exe: '/usr/bin/"odd"\u2028' }, action: 'get', resource: 'a\\b', result: 'success', reason: 'line\nbreak' };
    for (const key of [undefined, new Uint8Array(32).fill(7)]) {
      const line = buildLine(event, 12, 'f'.repeat(64), key);
      const expected = JSON.stringify({ ...event, seq: 12, prev: 'f'.repeat(64) });
      expect(line.startsWith(expected.slice(0, -1))).toBe(true);
      const parsed = JSON.parse(line);
      expect(parsed).toMatchObject({ ...event, seq: 12, prev: 'f'.repeat(64) });
      expect(verifyChain([{ name: 'audit.log', lines: [buildLine(event, 1, GENESIS, key)] }], false).broken).toBeNull();
    }
  });
});

describe('LineMac', () => {
  const event = (reason: string) => ({ timestamp: '2026-01-01T00:00:00.000Z', event_id: 'evt_1', event_type: 'secret_access', client: null, action: 'get', resource: 'db', result: 'success', reason });

  it('is HMAC-SHA-256 over the MAC domain and the line, for short, long and multi-byte lines, one instance for a whole batch', () => {
    for (const key of [new Uint8Array(32).fill(9), crypto.randomBytes(32), crypto.randomBytes(100)]) {
      const mac = new LineMac(key);
      for (const body of ['{}', 'x'.repeat(1023), 'é€😀'.repeat(2000), 'y'.repeat(5000), '{}']) {
        expect(mac.of(body)).toBe(crypto.createHmac('sha256', key).update('glassdome/audit/v1\n').update(body, 'utf8').digest('hex'));
      }
      mac.wipe();
    }
  });

  it('is HMAC-SHA-256 for any key length (0, 64, 65, 200 bytes: a long key is hashed first) and any line (empty, lone surrogates, past its buffer)', () => {
    const openssl = (key: Uint8Array, body: string) => crypto.createHmac('sha256', key).update('glassdome/audit/v1\n').update(body, 'utf8').digest('hex');
    for (const n of [0, 1, 63, 64, 65, 200]) {
      const key = crypto.randomBytes(n);
      const mac = new LineMac(key);
      for (const body of ['', '\ud800', 'a\udfffb', '😀'.repeat(400), 'z'.repeat(1100), '']) expect(mac.of(body)).toBe(openssl(key, body));
      mac.wipe();
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.string({ unit: 'binary', maxLength: 700 }), { maxLength: 4 }), (key, bodies) => {
        const mac = new LineMac(key);
        for (const body of bodies) expect(mac.of(body)).toBe(openssl(key, body));
        mac.wipe();
      }),
    );
  });

  it('writes lines a keyed verify accepts, and one of another key fails', () => {
    const key = crypto.randomBytes(32);
    const mac = new LineMac(key);
    const lines: string[] = [];
    let prev = GENESIS;
    for (const reason of ['short', 'ü'.repeat(3000), 'end']) {
      lines.push(buildLine(event(reason), lines.length + 1, prev, mac));
      prev = lineHash(lines[lines.length - 1]!);
    }
    mac.wipe();
    expect(verifyChain([{ name: 'audit.log', lines }], false, { key, anchor: null })).toMatchObject({ broken: null, keyed: 3 });
    expect(verifyChain([{ name: 'audit.log', lines }], false, { key: crypto.randomBytes(32), anchor: null }).broken?.problem).toMatch(/MAC does not match/);
  });
});
