// Policy, audit and rate limits with real processes: python, node and cat as clients of a real
// agent, policies sealed with `policy apply`, the audit log edited by hand, an unwritable log, a
// brute force of unlocks, a noisy client, and forwarding to a syslog socket.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { applyPolicy, PYTHON_ONLY, BIN, cli, makeEnv, makeVault, PASSWORD, python, startAgent, unlock, waitFor, type TestEnv } from '../helpers/cli.js';
import { Wire } from '../helpers/wire.js';

const CLIENT_DIR = path.join(__dirname, '../../clients/python');
const PYTHON_EXE = fs.realpathSync('/usr/bin/python3');

let t: TestEnv;
beforeEach(async () => {
  t = makeEnv();
  await makeVault(t);
});
afterEach(() => t.cleanup());

function writePolicy(text: string): void {
  fs.writeFileSync(path.join(t.home, 'policy.yaml'), text, { mode: 0o600 });
}

/** The audit log's events (complete lines only: the agent may be writing the next one). */
function events(): Array<Record<string, any>> {
  const file = path.join(t.home, 'audit.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l)) : [];
}

/** Reads a secret with the Python client; returns the value or the error code. */
function pyGet(name: string, env = t.env): string {
  const r = python('import glassdome, sys\ntry: print(glassdome.get(sys.argv[1]))\nexcept glassdome.GlassdomeError as e: print("ERR", e.code)', [name], { ...env, PYTHONPATH: CLIENT_DIR });
  return r.stdout.trim() || r.stderr;
}



/** A python process bound to a datagram socket at `sock`, running `loop` (over `s`) once bound. */
async function syslogReceiver(sock: string, loop: string): Promise<{ receiver: ReturnType<typeof spawn>; said: () => string }> {
  const receiver = spawn('/usr/bin/python3', ['-c', ['import socket, sys', 's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)', 's.bind(sys.argv[1])', 'print("ready", flush=True)', loop].join('\n'), sock]);
  let got = '';
  receiver.stdout!.on('data', (c: Buffer) => (got += c));
  await waitFor(() => got.includes('ready'), 'the receiver');
  return { receiver, said: () => got };
}

const ROLES = `clients:
  scripts: { exe: /usr/bin/python3* }
roles:
  agent:
    permissions: ["secrets:read:mail_*"]
  ai-agent:
    inherits: agent
    permissions: ["secrets:read:openai_*"]
client_roles:
  scripts: ai-agent
`;

describe('policy', () => {
  it('allows only python to read proxmox_*: node and cat are denied and audited, another secret too', async () => {
    const agent = await startAgent(t.env);
    await unlock(t.env);
    await cli(t.env, ['set', 'proxmox_password'], 'hunter2');
    await cli(t.env, ['set', 'mail_password'], 'other');
    writePolicy(PYTHON_ONLY);
    expect((await cli(t.env, ['policy', 'apply'])).code).toBe(0); // through the agent: nothing sealed yet, so any client of the uid may

    expect(pyGet('proxmox_password')).toBe('hunter2');
    expect(pyGet('mail_password')).toBe('ERR denied');

    const viaNode = await cli(t.env, ['get', 'proxmox_password']);
    expect(viaNode.code).toBe(5);
    expect(viaNode.stderr).toMatch(/^glassdome: the policy denies \/.*node.* read on "proxmox_password" \(default deny\)\nglassdome: hint: see why: glassdome policy check/);
    expect(viaNode.stderr).not.toContain('hunter2');

    const marker = path.join(t.dir, 'cat-started');
    const viaCat = await cli(t.env, ['exec', '--', 'sh', '-c', `touch ${marker}; cat "$1"`, 'sh', '{{glassdome:proxmox_password}}']);
    expect(viaCat.code).toBe(5);
    expect(fs.existsSync(marker)).toBe(false);

    const wire = await Wire.connect(agent.socket); // this test's own node process, directly
    wire.request({ v: 1, id: 1, op: 'get', name: 'proxmox_password' });
    expect(await wire.reply()).toMatchObject({ ok: false, error: { code: 'denied' } });
    wire.close();

    const denied = events().filter((e) => e.event_type === 'secret_denied');
    expect(denied.map((e) => [e.resource, e.client.exe === PYTHON_EXE ? 'python' : 'node'])).toEqual([
      ['mail_password', 'python'],
      ['proxmox_password', 'node'],
      ['proxmox_password', 'node'],
      ['proxmox_password', 'node'],
    ]);
    expect(events().find((e) => e.event_type === 'secret_access' && e.action === 'get')).toMatchObject({ resource: 'proxmox_password', result: 'success', reason: 'rule python-reads-proxmox', client: { exe: PYTHON_EXE } });
    expect((await cli(t.env, ['list', '--json'])).stdout.trim()).toBe('[]'); // node may read nothing: it sees no names
    const lock = await cli(t.env, ['lock']); // admin: not granted to anyone here
    expect(lock.code).toBe(5);
    expect(lock.stderr).toMatch(/the policy denies .* admin on lock \(default deny\)/);
    expect(events().pop()).toMatchObject({ event_type: 'secret_denied', action: 'lock', result: 'denied' });
    expect(pyGet('proxmox_password')).toBe('hunter2'); // still unlocked
  });

  it('roles with inheritance, granted through client_roles', async () => {
    await applyPolicy(t, ROLES);
    await startAgent(t.env);
    await unlock(t.env);
    expect((await cli(t.env, ['set', 'mail_x'], 'm')).code).toBe(5); // node has no role: no write either
    await applyPolicy(t, 'default_policy: allow\n'); // with the password, while the agent runs: in force at its next request
    await cli(t.env, ['set', 'mail_x'], 'mail-value');
    await cli(t.env, ['set', 'openai_key'], 'openai-value');
    await cli(t.env, ['set', 'aws_key'], 'aws-value');
    await applyPolicy(t, ROLES);
    expect(pyGet('openai_key')).toBe('openai-value');
    expect(pyGet('mail_x')).toBe('mail-value'); // inherited from agent
    expect(pyGet('aws_key')).toBe('ERR denied');
    const grants = events().filter((e) => e.event_type === 'secret_access' && e.action === 'get').map((e) => e.reason);
    expect(grants).toEqual(['role ai-agent', 'role ai-agent']);
  });

  it('policy apply refuses a bad policy, naming the line, and seals nothing', async () => {
    const before = fs.readFileSync(path.join(t.home, 'secrets.encrypted'));
    writePolicy('authorization:\n  rules:\n    - name: x\n      clients: [{exe: /usr/bin/python3*}]\n      secrets: ["a{b"]\n      actions: [read]\n');
    const r = await cli(t.env, ['policy', 'apply', '--password-stdin'], PASSWORD);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^glassdome: policy.yaml:5: bad glob "a\{b" in secrets: unclosed \{\n/);
    writePolicy('authorization: [\n');
    const yaml = await cli(t.env, ['policy', 'apply', '--password-stdin'], PASSWORD);
    expect(yaml.code).toBe(1);
    expect(yaml.stderr).toMatch(/^glassdome: policy.yaml:\d+: /);
    writePolicy('authorization:\n  rule: []\n');
    const key = await cli(t.env, ['policy', 'check', 'x', 'read']);
    expect(key.code).toBe(1);
    expect(key.stderr).toMatch(/^glassdome: policy.yaml:2: unknown key "rule" in authorization \(expected one of rules\)/);
    expect(fs.readFileSync(path.join(t.home, 'secrets.encrypted'))).toEqual(before);
    const wrong = await cli(t.env, ['policy', 'apply', '--password-stdin', path.join(t.home, 'nope.yaml')], PASSWORD);
    expect(wrong.code).toBe(3);
  });

  it('policy check and policy apply refuse a rate limit that can never grant or never limits, naming its line', async () => {
    const before = fs.readFileSync(path.join(t.home, 'secrets.encrypted'));
    // Before, a burst under 1 (a bucket that never holds a token: every read rate_limited for good)
    // and an infinite rate or burst (no limit at all) were accepted and sealed.
    const bad: Array<[string, RegExp]> = [
      ['burst: 0.5', /^glassdome: policy.yaml:5: rate_limits.read.burst must be a finite number of at least 1 \(a bucket below one token never grants\)\n/],
      ['burst: 0', /^glassdome: policy.yaml:5: rate_limits.read.burst must be a finite number of at least 1 /],
      ['burst: -3', /^glassdome: policy.yaml:5: rate_limits.read.burst must be a finite number of at least 1 /],
      ['burst: .inf', /^glassdome: policy.yaml:5: rate_limits.read.burst must be a finite number of at least 1 /],
      ['burst: .nan', /^glassdome: policy.yaml:5: rate_limits.read.burst must be a finite number of at least 1 /],
    ];
    for (const rate of ['0', '-1', '.inf', '.nan', '1e-400', 'fast']) bad.push([`per: second\n    rate: ${rate}`, /^glassdome: policy.yaml:5: rate_limits.read.rate must be a finite number above 0\n/]);
    for (const [line, message] of bad) {
      writePolicy(`default_policy: allow\nrate_limits:\n  read:\n    ${line.includes('rate:') ? '' : 'rate: 5\n    '}${line}\n`);
      const check = await cli(t.env, ['policy', 'check', 'x', 'read']);
      expect(check.code, line).toBe(1);
      expect(check.stderr, line).toMatch(message);
      expect(check.stderr, line).toMatch(/\nglassdome: hint: fix it, then seal it into the vault: glassdome policy apply\n$/);
      const apply = await cli(t.env, ['policy', 'apply', '--password-stdin'], PASSWORD);
      expect(apply.code, line).toBe(1);
      expect(apply.stderr, line).toMatch(message);
    }
    expect(fs.readFileSync(path.join(t.home, 'secrets.encrypted'))).toEqual(before);
    writePolicy('default_policy: allow\nrate_limits:\n  read: { rate: 0.5, per: minute, burst: 1 }\n');
    expect((await cli(t.env, ['policy', 'check', 'x', 'read'])).code).toBe(0); // the least that can grant
  });

  it('policy apply through the agent is an admin action under the sealed policy; a bad policy keeps the old one', async () => {
    await applyPolicy(t, PYTHON_ONLY);
    await startAgent(t.env);
    await unlock(t.env);
    expect((await cli(t.env, ['set', 'proxmox_a'], 'v')).code).toBe(5);
    const nodeRules = `${PYTHON_ONLY}    - name: node-writes
      clients: [{ exe: "${fs.realpathSync(process.execPath)}" }]
      secrets: ["*"]
      actions: [write, read]
`;
    writePolicy(nodeRules);
    const denied = await cli(t.env, ['policy', 'apply']); // node holds no admin under the sealed policy
    expect(denied.code).toBe(5);
    expect(denied.stderr).toMatch(/^glassdome: the policy denies \/.*node.* admin on policy_apply \(default deny\)\nglassdome: hint: seal it with the master password instead: glassdome policy apply --password-stdin\n$/);
    expect((await cli(t.env, ['set', 'proxmox_a'], 'v')).code).toBe(5);
    const bad = await cli(t.env, ['policy', 'apply', '--password-stdin'], 'not the password');
    expect(bad.code).toBe(1);
    expect((await cli(t.env, ['set', 'proxmox_a'], 'v')).code).toBe(5);
    await applyPolicy(t, `${nodeRules}    - name: node-admin\n      clients: [{ exe: "${fs.realpathSync(process.execPath)}" }]\n      secrets: ["*"]\n      actions: [admin]\n`);
    expect((await cli(t.env, ['set', 'proxmox_a'], 'v')).code).toBe(0);
    writePolicy('authorization:\n  rules:\n    - name: broken\n      bogus: true\n');
    const broken = await cli(t.env, ['policy', 'apply']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^glassdome: policy.yaml:4: unknown key "bogus"/);
    expect((await cli(t.env, ['get', '-n', 'proxmox_a'])).stdout).toBe('v'); // node-writes still applies
    writePolicy(nodeRules); // node-admin may apply through the agent: it drops its own admin
    expect((await cli(t.env, ['policy', 'apply'])).code).toBe(0);
    // The outcome line is written once the reply is on its way (the change stands even if it is lost): wait for it.
    await waitFor(() => events().filter((e) => e.action === 'policy_apply').length >= 6, 'the outcome line of the last policy_apply');
    expect(events().filter((e) => e.action === 'policy_apply').map((e) => `${e.result}:${e.client.exe === PYTHON_EXE ? 'python' : 'node'}`)).toEqual(['success:node', 'denied:node', 'failure:node', 'success:node', 'attempt:node', 'success:node']);
    expect((await cli(t.env, ['policy', 'apply'])).code).toBe(5);
  });

  it('policy check prints the decision, what decided it, and which policy is in force', async () => {
    writePolicy(PYTHON_ONLY);
    const locked = await cli(t.env, ['policy', 'check', '--exe', '/usr/bin/python3.11', 'proxmox_password', 'read']);
    expect(locked).toMatchObject({ code: 0, stdout: 'allow (rule python-reads-proxmox)\npolicy: the vault is locked, so policy.yaml was evaluated; the agent enforces only the policy sealed into the vault\n' });
    await applyPolicy(t, PYTHON_ONLY);
    await startAgent(t.env);
    await unlock(t.env);
    const sealed = /sealed in the vault, sha256 [0-9a-f]{64} \(policy.yaml is the same\)/;
    const allow = await cli(t.env, ['policy', 'check', '--exe', '/usr/bin/python3.11', 'proxmox_password', 'read']);
    expect(allow.code).toBe(0);
    expect(allow.stdout).toMatch(new RegExp(`^allow \\(rule python-reads-proxmox\\)\\npolicy: ${sealed.source}\\n$`));
    const deny = await cli(t.env, ['policy', 'check', '--exe', '/usr/bin/python3.11', 'proxmox_password', 'write']);
    expect(deny.code).toBe(5);
    expect(deny.stdout).toMatch(/^deny \(default deny\)\n/);
    expect((await cli(t.env, ['policy', 'check', 'proxmox_password', 'read'])).stdout).toMatch(/^deny \(default deny\)\n/);
    expect((await cli(t.env, ['policy', 'check', 'x', 'fly'])).code).toBe(2);
    fs.rmSync(path.join(t.home, 'policy.yaml'));
    const gone = await cli(t.env, ['policy', 'check', 'x', 'delete']);
    expect(gone.code).toBe(5); // the sealed policy decides, not the missing file
    expect(gone.stdout).toMatch(/^deny \(default deny\)\npolicy: sealed in the vault, sha256 [0-9a-f]{64} \(there is no policy.yaml\)\n$/);
  });
});

describe('audit log', () => {
  it('holds the events, never a value or a password; verifies; finds an edited, a removed and a reordered line', async () => {
    const agent = await startAgent(t.env);
    await unlock(t.env, [], 'wrong password here');
    await unlock(t.env);
    await cli(t.env, ['set', 'db_pass'], 'value-never-logged-1');
    await cli(t.env, ['get', 'db_pass']);
    await cli(t.env, ['exec', '--', 'true', '{{glassdome:db_pass}}']);
    pyGet('db_pass');
    await cli(t.env, ['get', 'missing']);
    await cli(t.env, ['lock']);
    const text = fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8');
    for (const secret of ['value-never-logged-1', Buffer.from('value-never-logged-1').toString('base64'), PASSWORD, 'wrong password here']) expect(text).not.toContain(secret);
    const types = events().map((e) => `${e.event_type}:${e.action}:${e.result}`);
    expect(types).toEqual(
      expect.arrayContaining(['auth_attempt:unlock:attempt', 'auth_failure:unlock:failure', 'auth_success:unlock:success', 'secret_access:set:success', 'secret_access:get:success', 'secret_access:get:not_found', 'admin_action:lock:success']),
    );
    expect(events().every((e) => /^evt_[0-9a-f]{16}$/.test(e.event_id) && !Number.isNaN(Date.parse(e.timestamp)))).toBe(true);
    expect(await cli(t.env, ['audit', 'verify'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^audit log intact: \d+ line\(s\) in 1 file\(s\); checked without the key: /) });
    const human = await cli(t.env, ['audit']);
    expect(human.stdout).toMatch(/secret_access +get db_pass +success +pid \d+ \/.*python3/);
    const json = await cli(t.env, ['audit', '--json', '--since', '1h']);
    expect(json.stdout.trim().split('\n').length).toBe(events().length);
    expect((await cli(t.env, ['audit', '--since', '2999-01-01T00:00:00Z'])).stdout).toBe('');

    const file = path.join(t.home, 'audit.log');
    const original = fs.readFileSync(file, 'utf8');
    const lines = original.trimEnd().split('\n');
    const cases: Array<[string, string[], RegExp]> = [
      ['edited', lines.map((l, i) => (i === 3 ? l.replace('"success"', '"failure"') : l)), /audit.log line 4: it was edited/],
      ['removed', lines.filter((_, i) => i !== 3), /audit.log line 4: it does not follow the line before it/],
      ['reordered', [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)], /audit.log line 2: it does not follow/],
    ];
    for (const [what, changed, expected] of cases) {
      fs.writeFileSync(file, `${changed.join('\n')}\n`);
      const r = await cli(t.env, ['audit', 'verify']);
      expect(r.code, what).toBe(6);
      expect(r.stderr, what).toMatch(expected);
    }
    fs.writeFileSync(file, original);
    expect((await cli(t.env, ['audit', 'verify'])).code).toBe(0);
    expect(agent.pid).toBeGreaterThan(0);
  });

  it('audit --follow prints events as they are written', async () => {
    await startAgent(t.env);
    await unlock(t.env);
    const follow = spawn(process.execPath, [BIN, 'audit', '--follow', '--json', '--since', '1m'], { env: t.env });
    let out = '';
    follow.stdout.on('data', (c: Buffer) => (out += c));
    try {
      await waitFor(() => out.includes('"auth_success"'), 'the existing events');
      await cli(t.env, ['set', 'followed'], 'v');
      await waitFor(() => out.includes('"resource":"followed"'), 'the new event');
      expect(out.trim().split('\n').every((l) => JSON.parse(l).hash)).toBe(true);
    } finally {
      follow.kill();
    }
  });

  it('an unwritable audit.log stops secret access (fail closed) and says why', async () => {
    await startAgent(t.env);
    await unlock(t.env);
    await cli(t.env, ['set', 'x'], 'value');
    const file = path.join(t.home, 'audit.log');
    fs.rmSync(file);
    fs.mkdirSync(file); // root ignores modes: a directory cannot be appended to by anyone
    const r = await cli(t.env, ['get', 'x']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^glassdome: cannot write the audit log .*audit.log \(.*\), so the value is withheld\n/);
    expect((await cli(t.env, ['exec', '--', 'true'])).code).toBe(1);
    expect(pyGet('x')).toBe('ERR audit_failed');
    const before = fs.readFileSync(path.join(t.home, 'secrets.encrypted'));
    const w = await cli(t.env, ['set', 'x'], 'changed');
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/so nothing was changed/);
    expect(fs.readFileSync(path.join(t.home, 'secrets.encrypted'))).toEqual(before);
    fs.rmdirSync(file);
    expect((await cli(t.env, ['get', '-n', 'x'])).stdout).toBe('value');
  });

  it('forwards lines to a syslog socket when policy.yaml says so', async () => {
    const sock = path.join(t.dir, 'log.sock');
    const { receiver, said } = await syslogReceiver(sock, 'while True: print(s.recv(65536).decode(), flush=True)');
    try {
      await applyPolicy(t, `default_policy: allow\naudit:\n  syslog: { socket: ${sock}, facility: auth }\n`);
      await startAgent(t.env);
      await unlock(t.env);
      await cli(t.env, ['set', 'x'], 'v');
      await waitFor(() => said().includes('"event_type":"secret_access"'), 'a forwarded line');
      expect(said()).toMatch(/<38>glassdome\[\d+\]: \{"timestamp":/);
      expect(said()).not.toContain('"v"');
    } finally {
      receiver.kill();
    }
  });
  it('a syslog socket that stops taking lines costs the agent no descriptor per line', async () => {
    const sock = path.join(t.dir, 'stuck.sock');
    const { receiver } = await syslogReceiver(sock, 'import time; time.sleep(600)'); // never reads: its queue fills, every later send fails
    try {
      await applyPolicy(t, `default_policy: allow\nrate_limits:\n  read: { rate: 100000, burst: 100000 }\naudit:\n  syslog: { socket: ${sock}, facility: auth }\n`);
      const agent = await startAgent(t.env);
      await unlock(t.env);
      await cli(t.env, ['set', 'x'], 'v');
      const descriptors = (): number => fs.readdirSync(`/proc/${agent.pid}/fd`).length;
      const wire = await Wire.connect(agent.socket);
      const gets = async (from: number, n: number): Promise<void> => {
        for (let id = from; id < from + n; id++) {
          wire.request({ v: 1, id, op: 'get', name: 'x' });
          expect(await wire.reply()).toMatchObject({ ok: true });
        }
      };
      await gets(1, 50); // fills the receiver's queue (net.unix.max_dgram_qlen datagrams, 10 by default)
      const before = descriptors();
      await gets(100, 600);
      expect(descriptors() - before).toBeLessThan(5);
      wire.close();
    } finally {
      receiver.kill();
    }
  });
});

describe('rate limits', () => {
  it('unlock brute force from one process is slowed, then refused, and audited; the owner still unlocks', async () => {
    await applyPolicy(t, 'default_policy: allow\nrate_limits:\n  unlock: { rate: 3, per: hour, burst: 3 }\n');
    const agent = await startAgent(t.env);
    expect((await unlock(t.env)).code).toBe(0); // the agent learns the sealed policy (and its limits) at unlock, and keeps it when locked
    expect((await cli(t.env, ['lock'])).code).toBe(0);
    const codes: Array<number | null> = [];
    for (let i = 0; i < 3; i++) codes.push((await unlock(t.env, [], `guess ${i}`)).code);
    expect(codes).toEqual([1, 1, 1]); // each `glassdome unlock` is a process of its own
    const wire = await Wire.connect(agent.socket);
    for (let id = 1; id <= 4; id++) wire.request({ v: 1, id, op: 'unlock', failed: 'bad_password' });
    const replies = [];
    for (let id = 1; id <= 4; id++) replies.push(((await wire.reply()).error as { code: string; message: string }));
    wire.close();
    expect(replies.map((e) => e.code)).toEqual(['bad_password', 'bad_password', 'bad_password', 'rate_limited']);
    expect(replies[3]!.message).toMatch(/too many unlock requests from pid \d+ .*retry in \d+ s/);
    const owner = await unlock(t.env); // the right password, from a process that failed nothing
    expect(owner.code, owner.stderr).toBe(0);
    const ev = events();
    expect(ev.filter((e) => e.event_type === 'auth_failure')).toHaveLength(6);
    expect(ev.filter((e) => e.event_type === 'rate_limited' && e.action === 'unlock').length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(ev)).not.toMatch(/guess \d/);
  });

  it('limits one noisy client while another is served', async () => {
    // Refilled at one an hour: no token comes back while the test runs, however slow the machine, so the counts are exact.
    await applyPolicy(t, 'default_policy: allow\nrate_limits:\n  read: { rate: 1, per: hour, burst: 5 }\n');
    await startAgent(t.env);
    await unlock(t.env);
    await cli(t.env, ['set', 'x'], 'value');
    const noisy = python(
      ['import glassdome', 'codes = []', 'for i in range(60):', '    try: glassdome.get("x"); codes.append("ok")', '    except glassdome.GlassdomeError as e: codes.append(e.code)', 'print(codes.count("ok"), codes.count("rate_limited"))'].join('\n'),
      [],
      { ...t.env, PYTHONPATH: CLIENT_DIR },
    );
    const [ok, limited] = noisy.stdout.trim().split(' ').map(Number);
    expect([ok, limited]).toEqual([5, 55]);
    expect((await cli(t.env, ['get', '-n', 'x'])).stdout).toBe('value'); // another client (node) is served
    const rl = events().filter((e) => e.event_type === 'rate_limited');
    expect(rl.length).toBeGreaterThanOrEqual(1);
    expect(rl.length).toBeLessThan(limited!); // audited sparingly, not once per refusal
  });
});

describe('peers', () => {
  it('a refused peer is audited as peer_denied', async () => {
    const agent = await startAgent(t.env);
    for (let d = path.dirname(agent.socket); d !== '/'; d = path.dirname(d)) fs.chmodSync(d, fs.statSync(d).mode | 0o755);
    fs.chmodSync(agent.socket, 0o666);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3', '-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"{}\\n"); print(s.recv(4096).decode())', agent.socket], { encoding: 'utf8' });
    expect(r.stdout).toContain('"denied"');
    await waitFor(() => events().some((e) => e.event_type === 'peer_denied'), 'the audit line');
    expect(events().find((e) => e.event_type === 'peer_denied')).toMatchObject({ client: { uid: 65534 }, result: 'denied' });
  });
});
