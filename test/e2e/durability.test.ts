// The vault on disk under faults: an agent killed with -9 during a stream of writes, ten
// concurrent writers through two agents, a flipped byte in each file, files others can read or
// that belong to someone else, and a write cut short by the file size limit.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, cli, makeEnv, makeVault, PASSWORD, startAgent, unlock, waitFor, alive, type TestEnv } from '../helpers/cli.js';
import { Wire } from '../helpers/wire.js';
import { GlassdomeError } from '../../src/errors.js';
import { parseMasterKeyFile } from '../../src/vault/format.js';
import { openSecrets, readMasterKeyFile, unsealMasterKey } from '../../src/vault/vault.js';

let t: TestEnv;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => t.cleanup());

/** The secret names in the vault, read straight from the files with the password. */
async function namesOnDisk(): Promise<string[]> {
  const keys = await unsealMasterKey(fs.readFileSync(path.join(t.home, 'master_key.enc'), 'utf8'), Buffer.from(PASSWORD));
  return [...openSecrets(keys, fs.readFileSync(path.join(t.home, 'secrets.encrypted'), 'utf8')).keys()].sort();
}

describe('crashes and concurrency', () => {
  it('kill -9 of the agent during a stream of writes: the vault opens and every acknowledged write is there', async () => {
    await makeVault(t);
    const a = await startAgent(t.env);
    await unlock(t.env);
    const wire = await Wire.connect(a.socket);
    const acked: string[] = [];
    let killed = false;
    for (let i = 0; i < 400 && !killed; i++) {
      const name = `k${String(i).padStart(4, '0')}`;
      wire.request({ v: 1, id: i, op: 'set', name, value: Buffer.from(`value ${i}`).toString('base64') });
      if (i === 60) {
        process.kill(a.pid, 'SIGKILL'); // while request 60 is in flight
        killed = true;
      }
      try {
        const reply = await wire.reply(5000);
        if (reply.ok === true) acked.push(name);
      } catch {
        break; // the connection died with the agent
      }
    }
    await waitFor(() => !alive(a.pid), 'the agent to die');
    expect(acked.length).toBeGreaterThanOrEqual(60);
    const onDisk = await namesOnDisk();
    for (const name of acked) expect(onDisk).toContain(name);
    // A temp file the killed writer may have left is removed by the next write.
    fs.writeFileSync(path.join(t.home, `.secrets.encrypted.${a.pid}.left0ver.tmp`), 'partial', { mode: 0o600 });
    await startAgent(t.env);
    await unlock(t.env);
    expect((await cli(t.env, ['set', 'after'], 'x')).code).toBe(0);
    expect(fs.readdirSync(t.home).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('ten concurrent writers through two agents on one vault: no update is lost, each agent sees the others', async () => {
    await makeVault(t);
    const a = await startAgent(t.env, ['-a', path.join(t.dir, 'a.sock')]);
    const envA = { ...t.env };
    const envB = { ...t.env };
    delete envB.GLASSDOME_AGENT_PID;
    const b = await startAgent(envB, ['-a', path.join(t.dir, 'b.sock')]);
    expect(b.pid).not.toBe(a.pid);
    await unlock(envA);
    await unlock(envB);
    const writers = Array.from({ length: 10 }, (_, i) => cli(i % 2 ? envA : envB, ['set', `w${i}`], `v${i}`));
    for (const r of await Promise.all(writers)) expect(r.code, r.stderr).toBe(0);
    const expected = Array.from({ length: 10 }, (_, i) => `w${i}`).sort();
    expect(await namesOnDisk()).toEqual(expected);
    expect(JSON.parse((await cli(envA, ['list', '--json'])).stdout).map((e: { name: string }) => e.name)).toEqual(expected);
    expect(JSON.parse((await cli(envB, ['list', '--json'])).stdout).map((e: { name: string }) => e.name)).toEqual(expected);
    expect((await cli(envA, ['get', '-n', 'w4'])).stdout).toBe('v4');
    process.kill(b.pid, 'SIGKILL');
  });
});

describe('damaged files', () => {
  beforeEach(async () => {
    await makeVault(t);
    await startAgent(t.env);
  });

  it('a flipped byte in master_key.enc: unlock exits 6 and the file stays as it was', async () => {
    const file = path.join(t.home, 'master_key.enc');
    const text = fs.readFileSync(file, 'utf8');
    const at = text.indexOf('"sealed_key": "') + 20;
    const damaged = Buffer.from(text);
    damaged[at]! ^= 0x01;
    fs.writeFileSync(file, damaged);
    const r = await unlock(t.env);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^glassdome: master_key.enc is corrupt: .*\nglassdome: hint: restore it from a backup/);
    expect(fs.readFileSync(file)).toEqual(damaged);
  });

  it('every single-bit flip of master_key.enc is caught as damage, never read as a wrong password', () => {
    const text = fs.readFileSync(path.join(t.home, 'master_key.enc'));
    for (let i = 0; i < text.length; i++) {
      const bad = Buffer.from(text);
      bad[i]! ^= 0x01;
      let code = 'opened';
      try {
        readMasterKeyFile(bad.toString('utf8'));
      } catch (err) {
        code = (err as GlassdomeError).code;
      }
      expect(['corrupt', 'unsupported_version'], `byte ${i}`).toContain(code);
    }
    expect(parseMasterKeyFile(text.toString()).file.kdf.opslimit).toBe(1);
  });

  it('a flipped byte in secrets.encrypted: get exits 6 and the file stays as it was', async () => {
    await unlock(t.env);
    await cli(t.env, ['set', 'x'], 'v');
    const file = path.join(t.home, 'secrets.encrypted');
    const text = fs.readFileSync(file, 'utf8');
    const damaged = Buffer.from(text);
    damaged[text.indexOf('"ciphertext":"') + 20]! ^= 0x01;
    fs.writeFileSync(file, damaged);
    const r = await cli(t.env, ['get', 'x']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^glassdome: secrets.encrypted (failed authentication|is corrupt)/);
    const w = await cli(t.env, ['set', 'y'], 'v');
    expect(w.code).toBe(6);
    expect(fs.readFileSync(file)).toEqual(damaged);
    const truncated = damaged.subarray(0, 40);
    fs.writeFileSync(file, truncated);
    const tr = await cli(t.env, ['list']);
    expect(tr.code).toBe(6);
    expect(tr.stderr).toMatch(/corrupt/);
    expect(fs.readFileSync(file)).toEqual(truncated);
  });
});

describe('file modes and owners', () => {
  beforeEach(async () => {
    await makeVault(t);
    await startAgent(t.env);
  });

  it('a key file at 0644 is refused with the chmod that fixes it', async () => {
    const file = path.join(t.home, 'master_key.enc');
    fs.chmodSync(file, 0o644);
    const r = await unlock(t.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`glassdome: ${file} is accessible by others (mode 0644)\nglassdome: hint: chmod 600 ${file}\n`);
    fs.chmodSync(file, 0o600);
    expect((await unlock(t.env)).code).toBe(0);
    fs.chmodSync(path.join(t.home, 'secrets.encrypted'), 0o640);
    const g = await cli(t.env, ['list']);
    expect(g.code).toBe(1);
    expect(g.stderr).toContain('chmod 600');
  });

  it('a vault directory open to others, a file of another owner and a symlink are refused', async () => {
    fs.chmodSync(t.home, 0o755);
    const d = await unlock(t.env);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain(`chmod 700 ${t.home}`);
    fs.chmodSync(t.home, 0o700);
    const file = path.join(t.home, 'master_key.enc');
    fs.chownSync(file, 65534, 65534);
    const o = await unlock(t.env);
    expect(o.code).toBe(1);
    expect(o.stderr).toMatch(/owned by uid 65534, not by you/);
    fs.chownSync(file, 0, 0);
    fs.renameSync(file, path.join(t.dir, 'elsewhere.enc'));
    fs.symlinkSync(path.join(t.dir, 'elsewhere.enc'), file);
    const s = await unlock(t.env);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/is a symbolic link/);
  });
});

describe('failed writes', () => {
  it('a write cut short by the file size limit: a clear error, and the old vault intact', async () => {
    await makeVault(t);
    const sock = path.join(t.dir, 'small.sock');
    // An agent whose files may not grow past 8 KiB (ulimit -f counts 1 KiB blocks in dash).
    const agent = spawn('/bin/sh', ['-c', `ulimit -f 8; exec "${process.execPath}" "${BIN}" agent -D -a "${sock}"`], { env: t.env, stdio: 'ignore' });
    const env = { ...t.env, GLASSDOME_AUTH_SOCK: sock, GLASSDOME_AGENT_PID: String(agent.pid) };
    await waitFor(() => fs.existsSync(sock), 'the agent socket');
    await unlock(env);
    expect((await cli(env, ['set', 'small'], 'fits')).code).toBe(0);
    const before = fs.readFileSync(path.join(t.home, 'secrets.encrypted'));
    const r = await cli(env, ['set', 'big'], Buffer.alloc(64 * 1024, 'x'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^glassdome: cannot write .*secrets.encrypted; the old file is unchanged: the file size limit \(ulimit -f\) was reached$/m);
    expect(fs.readFileSync(path.join(t.home, 'secrets.encrypted'))).toEqual(before);
    expect(fs.readdirSync(t.home).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await cli(env, ['get', '-n', 'small'])).stdout).toBe('fits');
    expect(alive(agent.pid!)).toBe(true);
    agent.kill('SIGKILL');
  });

  it('an audit line cut short by the file size limit is cut back: the chain still verifies', async () => {
    await makeVault(t);
    const agent = await startAgent(t.env);
    await unlock(t.env);
    expect((await cli(t.env, ['set', 'x'], 'v')).code).toBe(0);
    const log = path.join(t.home, 'audit.log');
    const complete = fs.statSync(log).size;
    // The agent's files may grow 40 bytes more: its next audit line is written in part, then EFBIG.
    const limit = (soft: string): void => {
      const r = spawnSync('/usr/bin/prlimit', ['--pid', String(agent.pid), `--fsize=${soft}:unlimited`], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    };
    limit(String(complete + 40));
    const refused = await cli(t.env, ['get', '-n', 'x']);
    expect(refused.code).toBe(1); // fail closed: no line, no secret
    expect(refused.stderr).toMatch(/^glassdome: cannot write the audit log .*\(the file size limit \(ulimit -f\) was reached\), so the value is withheld$/m);
    expect(fs.statSync(log).size).toBe(complete); // the torn line is cut back at once (a kill can still leave one)
    limit('unlimited');
    expect((await cli(t.env, ['get', '-n', 'x'])).stdout).toBe('v');
    const text = fs.readFileSync(log, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.split('\n').slice(0, -1)) expect(() => JSON.parse(line), line).not.toThrow();
    const verified = await cli(t.env, ['audit', 'verify', '--password-stdin'], PASSWORD);
    expect(verified.stderr + verified.stdout).not.toMatch(/broken|does not/);
    expect(verified.code).toBe(0);
  });
});
