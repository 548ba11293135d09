// Issue 9, attack 4, replayed: a raw node client of the same uid pipelines
// `{"op":"unlock","failed":"bad_password"}` lines at the agent. Before, five of them put the
// owner's real `glassdome unlock` behind `rate_limited` (naming /usr/bin/node) and queued ones
// delayed it. Now the failing process alone is slowed and limited (its messages name its
// command), and the real unlock, a process of its own, is answered before the queued failures.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, makeEnv, makeVault, PASSWORD, startAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';

/** Failures the raw client sends: five use up its unlock bucket (burst 5), the rest are refused. */
const FAILURES = 12;
/** The default unlock burst: failures answered bad_password before the client is limited. */
const UNLOCK_BURST = 5;

/** The attacker: pipelines FAILURES reports in one write and prints each reply line as it arrives. */
const BAD_CLIENT = `
const net = require('node:net');
const [sock, n] = [process.argv[2], Number(process.argv[3])];
const s = net.connect(sock, () => {
  let out = '';
  for (let i = 1; i <= n; i++) out += JSON.stringify({ v: 1, id: i, op: 'unlock', failed: 'bad_password' }) + '\\n';
  s.write(out);
});
let buf = '';
let got = 0;
s.on('data', (c) => {
  buf += c;
  for (let nl = buf.indexOf('\\n'); nl >= 0; nl = buf.indexOf('\\n')) {
    process.stdout.write(buf.slice(0, nl + 1));
    buf = buf.slice(nl + 1);
    if (++got === n) s.end();
  }
});
`;

let t: TestEnv;
let bad: ChildProcess | undefined;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => {
  bad?.kill('SIGKILL');
  t.cleanup();
});

/** Starts the raw client against `socket`; `replies` fills as its answers arrive. */
function startBadClient(socket: string): { script: string; replies: Array<Record<string, any>>; done: Promise<void> } {
  const script = path.join(t.dir, 'bad-unlocks.js');
  fs.writeFileSync(script, BAD_CLIENT);
  const replies: Array<Record<string, any>> = [];
  bad = spawn(process.execPath, [script, socket, String(FAILURES)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  bad.stdout!.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      replies.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  const done = new Promise<void>((resolve) => bad!.on('exit', () => resolve()));
  return { script, replies, done };
}

/** The failing client got bad_password until its bucket ran dry, then rate_limited naming its command. */
function expectLimited(replies: Array<Record<string, any>>, script: string): void {
  expect(replies.map((r) => r.error?.code)).toEqual([...Array(UNLOCK_BURST).fill('bad_password'), ...Array(FAILURES - UNLOCK_BURST).fill('rate_limited')]);
  const limited = replies[UNLOCK_BURST]!.error.message as string;
  expect(limited).toMatch(new RegExp(`^too many unlock requests from pid \\d+ \\(node ${script.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*\\); retry in \\d+ s$`));
  expect(limited).not.toContain('/usr/bin/node');
}

describe('failed unlocks from another process', () => {
  it('never refuse the owner’s unlock; the failing process is limited, named and audited', async () => {
    await makeVault(t);
    const a = await startAgent(t.env);
    const attacker = startBadClient(a.socket);
    await attacker.done;
    expectLimited(attacker.replies, attacker.script);

    const r = await unlock(t.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/unlocked until/);

    const read = (): Array<Record<string, any>> => fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    // The agent writes the success line as it answers: wait for it rather than race it.
    await waitFor(() => read().some((e) => e.event_type === 'auth_success'), 'the auth_success line');
    const events = read();
    const failures = events.filter((e) => e.event_type === 'auth_failure');
    expect(failures).toHaveLength(UNLOCK_BURST);
    for (const f of failures) expect(f.reason).toContain(`from node ${attacker.script}`);
    expect(events.filter((e) => e.event_type === 'rate_limited' && e.action === 'unlock').length).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e.event_type === 'auth_success')).toHaveLength(1);
  });

  it('never delay it: the real unlock is answered while the queued failures still wait', async () => {
    await makeVault(t);
    const a = await startAgent(t.env);
    // The real `glassdome unlock` is already connected and waiting for its password on stdin.
    const owner = spawn(process.execPath, [BIN, 'unlock', '--password-stdin'], { env: t.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let ownerErr = '';
    owner.stderr!.on('data', (c: Buffer) => (ownerErr += c));
    const ownerExit = new Promise<number | null>((resolve) => owner.on('exit', (code) => resolve(code)));
    const attacker = startBadClient(a.socket);
    await waitFor(() => attacker.replies.length >= 1, 'the first failure to be answered');
    owner.stdin!.end(PASSWORD);
    expect(await ownerExit, ownerErr).toBe(0);
    // Failures 2..5 wait 0.25, 0.5, 1 and 2 s in turn: the owner's answer came before the last of them.
    const answeredBefore = attacker.replies.length;
    expect(answeredBefore).toBeLessThan(UNLOCK_BURST);
    await attacker.done;
    expectLimited(attacker.replies, attacker.script);
  });
});
