// Issue 9, item 7 replayed against the real agent, the real CLI and real files: the audit chain is
// keyed (a MAC per line under a subkey of the master key) and anchored (its line count and last
// hash sealed in the vault at every vault write, lock and unlock). A cut tail, a deleted log, a
// dropped head behind an empty audit.log.5, and an edited line with a recomputed chain all used to
// pass `audit verify`; now each is `tampered`, exit 6.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, cli, makeEnv, makeVault, PASSWORD, startAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';

let t: TestEnv;
let log: string;
beforeEach(async () => {
  t = makeEnv();
  log = path.join(t.home, 'audit.log');
  await makeVault(t);
});
afterEach(() => t.cleanup());

const verifyWithPassword = () => cli(t.env, ['audit', 'verify', '--password-stdin'], PASSWORD);
const verifyWithoutKey = () => cli(t.env, ['audit', 'verify']);
const lines = (): string[] => fs.readFileSync(log, 'utf8').trimEnd().split('\n');
const writeLines = (file: string, ls: string[]): void => fs.writeFileSync(file, ls.length > 0 ? `${ls.join('\n')}\n` : '', { mode: 0o600 });

/** Used vault: an unlocked agent, a write, reads, then lock (which anchors the log). */
async function usedVault(): Promise<void> {
  await startAgent(t.env);
  await unlock(t.env);
  expect((await cli(t.env, ['set', 'db_pass'], 'v1')).code).toBe(0);
  await cli(t.env, ['get', 'db_pass']);
  await cli(t.env, ['get', 'missing']);
  expect((await cli(t.env, ['lock'])).code).toBe(0);
  expect(await verifyWithPassword()).toMatchObject({ code: 0, stdout: expect.stringMatching(/^audit log intact: \d+ line\(s\) in 1 file\(s\); with the key \(the master password\): \d+ MAC\(s\) verified; .*the vault's anchor \(line \d+\) matches/) });
}

/** What an attacker without the key does after editing: recompute every prev and hash from line `from` on. */
function rechain(ls: string[], from: number): string[] {
  const sha = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');
  const out = ls.slice(0, from);
  for (let i = from; i < ls.length; i++) {
    let line = ls[i]!;
    if (i > 0) line = line.replace(/"prev":"[0-9a-f]{64}"/, `"prev":"${sha(out[i - 1]!)}"`);
    const body = `${line.replace(/,"hash":"[0-9a-f]{64}"\}$/, '')}}`;
    out.push(`${body.slice(0, -1)},"hash":"${sha(body)}"}`);
  }
  return out;
}

describe('the keyed, anchored audit chain (issue 9, item 7)', () => {
  it('lines carry seq, prev, a MAC under the audit subkey while the agent holds the key, and say so (mac null) while it is locked', async () => {
    await usedVault();
    expect((await unlock(t.env, [], 'wrong password')).code).toBe(1); // audited by the locked agent
    const events = lines().map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.find((e) => e.event_type === 'auth_failure')).toMatchObject({ mac: null }); // written while locked
    expect(events.filter((e) => e.event_type === 'secret_access').every((e) => /^[0-9a-f]{64}$/.test(e.mac))).toBe(true);
    // Through the agent, unlocked: it verifies with its key and the anchor it holds.
    await unlock(t.env);
    const viaAgent = await verifyWithoutKey();
    expect(viaAgent.code).toBe(0);
    expect(viaAgent.stdout).toMatch(/with the key \(the agent\): \d+ MAC\(s\) verified; \d+ line\(s\) carry no MAC \(written while locked, or by an earlier release\)/);
    await cli(t.env, ['lock']);
    const plain = await verifyWithoutKey();
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/checked without the key: the hash chain only; not checked: the MACs of \d+ line\(s\) and the anchor sealed in the vault/);
  });

  it('dropping the last lines: tampered, exit 6 (the anchor names a line that is gone)', async () => {
    await usedVault();
    const all = lines();
    writeLines(log, all.slice(0, -2));
    expect((await verifyWithoutKey()).code).toBe(0); // the plain chain cannot tell, and says it did not check
    const r = await verifyWithPassword();
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(new RegExp(`^glassdome: audit log broken at audit.log line ${all.length - 2}: the log ends at line ${all.length - 2} but the vault anchored line ${all.length}: lines at its end were cut\\n`));
  });

  it('deleting the log: tampered, exit 6; and the next vault write does not forgive it', async () => {
    await usedVault();
    fs.rmSync(log);
    const r = await verifyWithPassword();
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^glassdome: audit log broken \(audit.log\): the log is empty or missing, but the vault anchored line \d+: it was deleted or emptied\n/);
    // The agent notices at the next vault write: it keeps the old anchor, says so, and audits the break.
    await unlock(t.env);
    await cli(t.env, ['set', 'other'], 'v2');
    await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('"audit_tampered"'), 'the break to be audited');
    expect(JSON.parse(lines().find((l) => l.includes('"audit_tampered"'))!)).toMatchObject({ action: 'anchor', result: 'tampered', reason: expect.stringMatching(/before line \d+ the vault anchored: lines were cut, or the log was deleted/) });
    expect((await verifyWithPassword()).code).toBe(6);
    // Only the owner, with the password, accepts the log as it now is; the acceptance is itself a keyed line.
    await cli(t.env, ['lock']);
    const reset = await cli(t.env, ['audit', 'verify', '--reset-anchor', '--password-stdin'], PASSWORD);
    expect(reset.code).toBe(0);
    expect(JSON.parse(lines().find((l) => l.includes('"anchor_reset"'))!)).toMatchObject({ result: 'success', reason: expect.stringMatching(/^the owner accepted the log as it was/), mac: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((await verifyWithPassword()).code).toBe(0);
  });


  it('renaming the log away under a running agent: its next line goes to a new audit.log, not the hidden file; tampered, exit 6', async () => {
    // Found by the h16r review: the agent noticed a removed or rotated log (by its link count or
    // size) but not one renamed away, and kept appending to the renamed file.
    await startAgent(t.env);
    await unlock(t.env);
    expect((await cli(t.env, ['set', 'db_pass'], 'v1')).code).toBe(0);
    expect((await cli(t.env, ['get', 'db_pass'])).code).toBe(0);
    const moved = path.join(t.home, 'audit.moved');
    fs.renameSync(log, moved);
    const hidden = fs.readFileSync(moved, 'utf8');
    expect((await cli(t.env, ['get', 'db_pass'])).code).toBe(0);
    expect(fs.readFileSync(moved, 'utf8')).toBe(hidden); // nothing more was written to the renamed file
    expect(lines().map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ event_type: 'secret_access', resource: 'db_pass', result: 'success' }));
    expect((await verifyWithPassword()).code).toBe(6);
  });
  it('dropping the first lines and adding an empty audit.log.5: tampered, exit 6', async () => {
    await usedVault();
    writeLines(log, lines().slice(3));
    writeLines(`${log}.5`, []);
    for (const r of [await verifyWithoutKey(), await verifyWithPassword()]) {
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/^glassdome: audit log broken at audit.log line 1: the chain does not start here: lines before it were removed\n/);
    }
  });

  it('an edited line with a recomputed chain: tampered, exit 6, with the MAC kept or dropped', async () => {
    await usedVault();
    const all = lines();
    const i = all.findIndex((l) => l.includes('"resource":"missing"'));
    expect(i).toBeGreaterThan(0);
    const edited = all.map((l, k) => (k === i ? l.replace('"resource":"missing"', '"resource":"nothing"') : l));
    writeLines(log, rechain(edited, i));
    expect((await verifyWithoutKey()).code).toBe(0); // a recomputed chain is a valid plain chain
    const kept = await verifyWithPassword();
    expect(kept.code).toBe(6);
    expect(kept.stderr).toMatch(new RegExp(`^glassdome: audit log broken at audit.log line ${i + 1}: its MAC does not match: it was written or rebuilt without the key\\n`));
    const unkeyed = all.map((l, k) => (k === i ? l.replace('"resource":"missing"', '"resource":"nothing"').replace(/"mac":"[0-9a-f]{64}"/, '"mac":null') : l));
    writeLines(log, rechain(unkeyed, i));
    const dropped = await verifyWithPassword();
    expect(dropped.code).toBe(6); // the next keyed line's MAC covers its prev; the anchor covers the last line
    expect(dropped.stderr).toMatch(/^glassdome: audit log broken at audit.log line \d+: (its MAC does not match|it is not the line \d+ the vault anchored)/);
  });
});

describe('durability of the anchored lines', () => {
  it('the agent fsyncs audit.log (and its directory) before it renames the secrets.encrypted that anchors it into place', async () => {
    // The agent runs under strace from its start (strace follows its fork), tracing the syscalls that make files durable.
    const trace = path.join(t.dir, 'agent.strace');
    const tracer = spawn('/usr/bin/strace', ['-f', '-qq', '-y', '-o', trace, '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', process.execPath, BIN, 'agent', '-s'], { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    tracer.stdout.on('data', (c: Buffer) => (out += c.toString()));
    tracer.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await waitFor(() => /GLASSDOME_AGENT_PID=\d+;/.test(out) || tracer.exitCode !== null, 'the traced agent to start');
      t.env.GLASSDOME_AUTH_SOCK = /GLASSDOME_AUTH_SOCK=([^;]+);/.exec(out)?.[1];
      t.env.GLASSDOME_AGENT_PID = /GLASSDOME_AGENT_PID=(\d+);/.exec(out)?.[1];
      expect(t.env.GLASSDOME_AGENT_PID, out).toBeDefined();
      expect((await unlock(t.env)).code).toBe(0);
      const from = fs.statSync(trace).size; // only what the write below does
      expect((await cli(t.env, ['set', 'db_pass'], 'v1')).code).toBe(0);
      const isVaultRename = (l: string): boolean => /rename(at2?)?\(.*\.secrets\.encrypted\.\d+\.\w+\.tmp".*\/secrets\.encrypted"/.test(l);
      const traced = (): string[] => fs.readFileSync(trace).subarray(from).toString('utf8').split('\n');
      await waitFor(() => traced().some(isVaultRename), 'strace to write out the rename of secrets.encrypted');
      const calls = traced();
      const vaultRename = calls.findIndex(isVaultRename);
      const logSync = calls.findIndex((l) => /f(data)?sync\(\d+<[^>]*\/home\/audit\.log>\)/.test(l));
      const dirSync = calls.findIndex((l, i) => i > logSync && /fsync\(\d+<[^>]*\/home>\)/.test(l));
      expect(vaultRename, calls.join('\n')).toBeGreaterThan(0);
      expect(logSync, calls.join('\n')).toBeGreaterThanOrEqual(0);
      expect(logSync).toBeLessThan(vaultRename);
      expect(dirSync).toBeLessThan(vaultRename);
      expect(dirSync).toBeGreaterThan(logSync);
    } finally {
      tracer.kill('SIGKILL'); // the agent goes with t.cleanup()
    }
  });
});
