// Copies of keys and values in memory (issue 9, item 8), replayed against real processes:
// - the agent, after unlock, get, set and lock, holds no copy of the master key or a value (raw
//   or base64) anywhere in its memory (read through /proc/PID/mem, which only root may do to a
//   non-dumpable process); and after gets that ended every way one can (replies read,
//   connections closed mid-batch, refused by the identity check, withheld when the audit line
//   failed), no copy of a value, searched also by middle slices (a freed buffer keeps all but its
//   first 16 bytes);
// - the `glassdome exec` parent is non-dumpable with no core limit while its child runs, so a
//   sibling process of the same uid can no longer read its memory (before: it could).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, cli, makeEnv, makeVault, PASSWORD, startAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';
import { unsealMasterKey } from '../../src/vault/vault.js';
import { scanMemory } from '../helpers/memory.js';

const NOBODY = 65534;

let t: TestEnv;
beforeEach(async () => {
  t = makeEnv();
  await makeVault(t);
});
afterEach(() => t.cleanup());

describe('the agent after lock', () => {
  it('holds no copy of the master key or a value, raw or base64', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test reads a non-dumpable process through /proc/PID/mem and needs root (CI runs as root)');
    const { pid } = await startAgent(t.env);
    expect((await unlock(t.env)).code).toBe(0);
    const value = crypto.randomBytes(30).toString('hex'); // 60 bytes of text, unlike anything else
    const other = crypto.randomBytes(600).toString('hex'); // a value longer than V8's in-heap arrays
    expect((await cli(t.env, ['set', 'token'], value)).code).toBe(0);
    expect((await cli(t.env, ['set', 'long'], other)).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect((await cli(t.env, ['get', 'token'])).stdout).toBe(`${value}\n`);
      expect((await cli(t.env, ['get', 'long'])).stdout).toBe(`${other}\n`);
      // get_many: the values one after another in one reply (exec of all, and of named ones).
      expect((await cli(t.env, ['exec', '--', 'true'])).code).toBe(0);
      expect((await cli(t.env, ['exec', '-s', 'long', '-s', 'token', '--', 'true'])).code).toBe(0);
    }
    expect((await cli(t.env, ['lock'])).code).toBe(0);
    const keys = await unsealMasterKey(fs.readFileSync(path.join(t.home, 'master_key.enc'), 'utf8'), Buffer.from(PASSWORD));
    const needles: Record<string, Buffer> = {
      'master key': Buffer.from(keys.masterKey),
      'master key (base64)': Buffer.from(Buffer.from(keys.masterKey).toString('base64')),
      'master key (last 16 bytes)': Buffer.from(keys.masterKey.subarray(16)),
      value: Buffer.from(value),
      'value (base64)': Buffer.from(Buffer.from(value).toString('base64')),
      'long value': Buffer.from(other.slice(0, 200)),
      'long value (base64)': Buffer.from(Buffer.from(other).toString('base64').slice(0, 200)),
      ...middleSlices(value, other),
    };
    const found = scanMemory(pid, { ...needles, 'secrets subkey': Buffer.from(keys.secretsKey) });
    // The subkey's own slot is wiped, but @noble/ciphers copies its key into a 32-byte array for
    // each XChaCha20 call, and a collection during that call can leave a copy no wipe reaches
    // (docs/ARCHITECTURE.md § memory): seen in about one run in five, after the scrub on lock.
    // It is reported, not asserted; what glassdome itself copies is.
    console.log(`after lock: ${found['secrets subkey'] ?? 0} leftover copies of the secrets subkey (from the cipher library's per-call copy)`);
    delete found['secrets subkey'];
    expect(found).toEqual({});
  });
});

/**
 * Needles from the middle of a 60-byte and a 1200-byte value, raw and base64: a freed buffer that
 * was never wiped keeps its bytes but its first 16, where malloc keeps its free-list pointers, so
 * a needle from a value's start misses it (seen: a withheld value left unwiped went unnoticed).
 */
function middleSlices(value: string, other: string): Record<string, Buffer> {
  return {
    'value (middle)': Buffer.from(value.slice(20)),
    'value (base64, middle)': Buffer.from(Buffer.from(value).toString('base64').slice(24)),
    'long value (middle)': Buffer.from(other.slice(100, 300)),
    'long value (base64, middle)': Buffer.from(Buffer.from(other).toString('base64').slice(100, 300)),
  };
}

/** The pid of a process's (only) child, from /proc. */
function childOf(parent: number): number {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no child of pid ${parent}`);
}

/** Runs a command as nobody (a uid with no capabilities over other processes of its own). */
function asNobody(args: string[], env: NodeJS.ProcessEnv, input?: string): ReturnType<typeof spawnSync> {
  return spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...args], { env, input, encoding: 'utf8', timeout: 30_000 });
}

describe('the exec parent', () => {
  let pids: number[] = [];
  afterEach(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    pids = [];
  });

  it('is non-dumpable and has no core limit: a same-uid sibling cannot read its memory', async () => {
    // The whole session runs as nobody, so that a sibling of the same uid is not root.
    spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, t.dir]);
    const env = { ...t.env, HOME: t.dir };
    const agent = asNobody([process.execPath, BIN, 'agent', '-s'], env);
    expect(agent.status, String(agent.stderr)).toBe(0);
    env.GLASSDOME_AUTH_SOCK = /GLASSDOME_AUTH_SOCK=([^;]+);/.exec(String(agent.stdout))![1];
    t.env.GLASSDOME_AGENT_PID = env.GLASSDOME_AGENT_PID = /GLASSDOME_AGENT_PID=(\d+);/.exec(String(agent.stdout))![1];
    expect(asNobody([process.execPath, BIN, 'unlock', '--password-stdin'], env, PASSWORD).status).toBe(0);
    const value = crypto.randomBytes(24).toString('hex');
    expect(asNobody([process.execPath, BIN, 'set', 'token'], env, value).status).toBe(0);

    const marker = path.join(t.dir, 'child-started');
    const exec: ChildProcess = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, BIN, 'exec', '-s', 'token', '--', '/bin/sh', '-c', `touch ${marker}; exec sleep 600`], { env, stdio: 'ignore' });
    const parent = exec.pid!; // setpriv execs the CLI in place
    pids.push(parent);
    await waitFor(() => fs.existsSync(marker), 'the exec child to start');
    const child = childOf(parent);
    pids.push(child);
    expect(fs.readFileSync(`/proc/${parent}/cmdline`, 'utf8')).toContain('exec');

    // The sibling's attack: read the exec parent's memory and look for the value.
    const attack = `
import re, sys
pid, needle = int(sys.argv[1]), sys.argv[2].encode()
try:
    maps = open(f"/proc/{pid}/maps").read().splitlines()
    mem = open(f"/proc/{pid}/mem", "rb", 0)
except PermissionError as e:
    print("denied", e.errno); sys.exit(0)
hits = 0
for line in maps:
    a, b = (int(x, 16) for x in line.split()[0].split("-"))
    if not line.split()[1].startswith("r") or "[v" in line: continue
    try:
        mem.seek(a); hits += mem.read(b - a).count(needle)
    except (OSError, ValueError, OverflowError): pass
print("read", hits)
`;
    const sibling = asNobody(['/usr/bin/python3', '-c', attack, String(parent), value], env);
    expect(String(sibling.stdout).trim(), String(sibling.stderr)).toBe('denied 13');
    // The control: the same sibling can read a dumpable process of its uid (the child, sleep).
    expect(String(asNobody(['/usr/bin/python3', '-c', attack, String(child), value], env).stdout).trim()).toMatch(/^read \d+$/);
    // And a crash of the parent writes no core file.
    expect(fs.readFileSync(`/proc/${parent}/limits`, 'utf8')).toMatch(/Max core file size\s+0\s+0/);
  });
});

/** Gets on many connections at once, every way a get can end short of a reply read, in Python. */
const EVERY_ENDING = `
import json, os, socket, sys, time
names = sys.argv[1:]
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["GLASSDOME_AUTH_SOCK"])
    return s
def request(s, i, name):
    s.sendall(json.dumps({"v": 1, "id": i, "op": "get", "name": name}).encode() + b"\\n")
readers = {}
def reply(s):
    line = readers.setdefault(s.fileno(), s.makefile("rb")).readline()
    return json.loads(line) if line else {"closed": True}
def request_many(s, i):
    s.sendall(json.dumps({"v": 1, "id": i, "op": "get_many", "names": names}).encode() + b"\\n")
out = {"read": 0, "many": 0, "denied": 0}
# 1. One batch: 16 connections, two gets each; half are closed before their replies come.
conns = [connect() for _ in range(16)]
for k, s in enumerate(conns):
    request(s, 1, names[k % 2]); request(s, 2, names[(k + 1) % 2])
for k, s in enumerate(conns):
    if k % 2: s.close()
    else:
        for _ in range(2): out["read"] += reply(s).get("ok") is True
        s.close()
# 1b. The same with get_many: both values in one reply; half closed before it comes.
readers.clear()
conns = [connect() for _ in range(16)]
for s in conns: request_many(s, 1)
for k, s in enumerate(conns):
    if k % 2: s.close()
    else:
        out["many"] += reply(s).get("names") == names
        s.close()
# 2. Refused by the identity check: a connection whose opener has exited (the value was decrypted first).
a, b = socket.socketpair()
opener = os.fork()
if opener == 0:
    s = connect(); request(s, 1, names[0]); s.makefile("rb").readline()  # pinned and answered while it lives
    socket.send_fds(a, [b"x"], [s.fileno()]); os._exit(0)
msg, fds, flags, addr = socket.recv_fds(b, 16, 1)
os.waitpid(opener, 0)
s = socket.socket(fileno=fds[0])
readers.clear()
for name in names:
    request(s, 9, name)
    out["denied"] += reply(s).get("error", {}).get("code") == "denied"
request_many(s, 10)
out["denied"] += reply(s).get("error", {}).get("code") == "denied"
print(json.dumps(out))
`;

describe('CLI processes that hold a value, a password or a key', () => {
  /** Waits until `pid`'s core limit is 0 while it is still running (blocked where the test holds it). */
  const coreOff = (pid: number, what: string): Promise<void> => waitFor(() => /Max core file size\s+0\s+0/.test(fs.readFileSync(`/proc/${pid}/limits`, 'utf8')), `${what} to turn core dumps off`);

  it('turn core dumps off before they read it: get (lean), unlock (lean), set (oclif)', async () => {
    // Found in review: only exec, serve and the agent did; a crash of get or unlock could have
    // written the value or the master key into a core file.
    const agent = await startAgent(t.env);
    await unlock(t.env);
    expect((await cli(t.env, ['set', 'db_pass'], 'v1')).code).toBe(0);
    // get, with the agent stopped: it waits for the reply, value not yet there.
    process.kill(agent.pid, 'SIGSTOP');
    const get = spawn(process.execPath, [BIN, 'get', 'db_pass'], { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    get.stdout!.on('data', (d) => (out += d));
    const got = new Promise<number | null>((r) => get.on('exit', r));
    try {
      await coreOff(get.pid!, 'get');
    } finally {
      process.kill(agent.pid, 'SIGCONT');
    }
    expect(await got).toBe(0);
    expect(out).toBe('v1\n');
    // unlock and set, each waiting on its standard input for the password or the value.
    for (const args of [['unlock', '--password-stdin'], ['set', 'other']]) {
      const child = spawn(process.execPath, [BIN, ...args], { env: t.env, stdio: ['pipe', 'ignore', 'pipe'] });
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      await coreOff(child.pid!, args[0]!);
      child.stdin!.end(args[0] === 'unlock' ? PASSWORD : 'v2');
      expect(await exited).toBe(0);
    }
  });
});

describe('the agent after lock, its values served every way a get can end', () => {
  it('holds no copy of a value: replies read, connections closed mid-batch, identity refused, audit failed', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test reads a non-dumpable process through /proc/PID/mem and needs root (CI runs as root)');
    const { pid } = await startAgent(t.env);
    expect((await unlock(t.env)).code).toBe(0);
    const value = crypto.randomBytes(30).toString('hex');
    const other = crypto.randomBytes(600).toString('hex');
    expect((await cli(t.env, ['set', 'token'], value)).code).toBe(0);
    expect((await cli(t.env, ['set', 'long'], other)).code).toBe(0);
    const r = spawnSync('/usr/bin/python3', ['-c', EVERY_ENDING, 'token', 'long'], { env: t.env, encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(r.stdout.trim() || '{}'), r.stderr).toEqual({ read: 16, many: 8, denied: 3 });
    // The audit log cannot grow (the agent's file size limit): each value is decrypted, then withheld.
    const limit = (soft: string): void => {
      const p = spawnSync('/usr/bin/prlimit', ['--pid', String(pid), `--fsize=${soft}:unlimited`], { encoding: 'utf8' });
      expect(p.status, p.stderr).toBe(0);
    };
    limit(String(fs.statSync(path.join(t.home, 'audit.log')).size));
    for (const name of ['token', 'long']) expect((await cli(t.env, ['get', name])).stderr).toMatch(/so the value is withheld/);
    // get_many, of every secret (its list line in the same append) and of named ones: both decrypted, both withheld.
    expect((await cli(t.env, ['exec', '--', '/bin/true'])).stderr).toMatch(/so the value is withheld/);
    expect((await cli(t.env, ['exec', '-s', 'token', '-s', 'long', '--', '/bin/true'])).stderr).toMatch(/so the value is withheld/);
    limit('unlimited');
    expect((await cli(t.env, ['lock'])).code).toBe(0);
    const found = scanMemory(pid, middleSlices(value, other));
    expect(found).toEqual({});
  });
});
