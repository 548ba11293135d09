import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, readAuditFiles } from '../../src/audit/log.js';
import { verifyChain, GENESIS } from '../../src/audit/chain.js';

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
    expect(verify(file)).toEqual({ lines: 5, broken: null });
    const first = JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!);
    expect(first.prev).toBe(GENESIS);
    expect(Object.keys(first)).toEqual(['timestamp', 'event_id', 'event_type', 'client', 'action', 'resource', 'result', 'prev', 'hash']);
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
    expect(verify(file)).toEqual({ lines: 20 + rotations.length, broken: null });
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
    expect(verify(file)).toEqual({ lines: 4, broken: null });
  });
});
