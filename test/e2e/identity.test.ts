// Process identity at each value release (issue 9, item 6), replayed with real Python processes
// against a real agent: a client that connects and then execs another program, one that forks
// and exits leaving the connection to its child, one that hands the descriptor to another process
// over SCM_RIGHTS and exits: each is denied (exit 5 semantics: `denied`) and audited as
// `identity_changed`. And `exe_sha256:` pins a binary's content: a copy with the same bytes is
// allowed, one with other bytes is not.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { applyPolicy, cli, makeEnv, makeVault, python, startAgent, unlock, type TestEnv } from '../helpers/cli.js';

const PYTHON_EXE = fs.realpathSync('/usr/bin/python3');
const NODE_EXE = fs.realpathSync(process.execPath);

let t: TestEnv;
beforeEach(async () => {
  t = makeEnv();
  await makeVault(t);
});
afterEach(() => t.cleanup());

/** Starts an agent under `policy`, unlocks it and stores token=s3cret through the CLI (node). */
async function agentWith(policy: string): Promise<void> {
  await applyPolicy(t, `version: 1\ndefault_policy: deny\nauthorization:\n  rules:\n    - name: cli\n      clients: [{ exe: "${NODE_EXE}" }]\n      secrets: ["*"]\n      actions: ["*"]\n${policy}`); // the agent enforces only a sealed policy
  await startAgent(t.env);
  expect((await unlock(t.env)).code).toBe(0);
  expect((await cli(t.env, ['set', 'token'], 's3cret')).code).toBe(0);
}

const PYTHON_RULE = `    - name: python
      clients: [{ exe: "/usr/bin/python3*" }]
      secrets: ["token"]
      actions: [read]
`;

/** Python helpers shared by the scripts: a line-based request on a socket. */
const ASK = `
import json, os, socket, sys, time
def ask(s, req):
    s.sendall((json.dumps(req) + "\\n").encode())
    line = b""
    while not line.endswith(b"\\n"):
        chunk = s.recv(65536)
        if not chunk: return {"closed": True}
        line += chunk
    return json.loads(line)
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["GLASSDOME_AUTH_SOCK"])
    return s
`;

/** Runs python and returns its last stdout line as JSON. */
function run(script: string, args: string[] = []): Record<string, any> {
  const r = python(ASK + script, args, t.env);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (!last.startsWith('{')) throw new Error(`python said: ${r.stdout} ${r.stderr}`);
  return JSON.parse(last) as Record<string, any>;
}

function auditText(): string {
  return fs.readFileSync(path.join(t.home, 'audit.log'), 'utf8');
}

/** A copy of python at a new path (a new inode), optionally with bytes appended (other content). */
function pythonCopy(name: string, extra = ''): string {
  const file = path.join(t.dir, name);
  fs.copyFileSync(PYTHON_EXE, file);
  if (extra) fs.appendFileSync(file, extra);
  fs.chmodSync(file, 0o755);
  return file;
}

/**
 * Python (allowed) connects and says hello, then execs `program` (another executable) with
 * `script` and the inherited connection's descriptor; returns the script's last line as JSON.
 */
function execOnConnection(program: string, script: string): Record<string, any> {
  return run(
    `s = connect()
assert ask(s, {"v":1,"id":1,"op":"hello"})["ok"]
os.set_inheritable(s.fileno(), True)
os.execv(sys.argv[1], [sys.argv[1], sys.argv[2], str(s.fileno())])`,
    [program, script],
  );
}

describe('connect, then become someone else', () => {
  it('an allowed process that connects and then execs another program is denied, and audited', async () => {
    await agentWith(PYTHON_RULE);
    // The control: the allowed interpreter asking on its own connection gets the value.
    expect(run(`s = connect(); print(json.dumps(ask(s, {"v":1,"id":1,"op":"get","name":"token"})))`)).toMatchObject({ ok: true, value: Buffer.from('s3cret').toString('base64') });
    const other = pythonCopy('other-program');
    // The copy is not allowed on its own connection...
    const ownConnection = spawnPython(other, `${ASK}\ns = connect(); print(json.dumps(ask(s, {"v":1,"id":1,"op":"get","name":"token"})))`);
    expect(ownConnection.error?.code).toBe('denied');
    // ...so it inherits one: python connects, says hello, then execs the other program on it.
    const child = path.join(t.dir, 'child.py');
    fs.writeFileSync(child, 'import socket, sys\ns = socket.socket(fileno=int(sys.argv[1]))\ns.sendall(b\'{"v":1,"id":2,"op":"get","name":"token"}\\n\')\nprint(s.makefile("rb").readline().decode().strip())\n');
    const attack = execOnConnection(other, child);
    expect(attack.ok).toBe(false);
    expect(attack.error.code).toBe('denied');
    expect(attack.error.message).toMatch(/another executable/);
    expect(attack.value).toBeUndefined();
    expect(auditText()).toMatch(/"identity_changed".*another executable/);
    // The CLI maps `denied` to exit 5; the same check answers it (a get through the CLI still works).
    expect((await cli(t.env, ['get', 'token'])).stdout).toBe('s3cret\n');
  });

  it('the program it execs gets no value by get_many either (named, or every secret its opener may read): denied, audited, nothing served', async () => {
    await agentWith(`    - name: python
      clients: [{ exe: "/usr/bin/python3*" }]
      secrets: ["token", "second"]
      actions: [read]
`);
    expect((await cli(t.env, ['set', 'second'], 'other-s3cret')).code).toBe(0);
    // The control: the allowed interpreter on its own connection gets both values in one reply.
    const control = run(`s = connect(); print(json.dumps(ask(s, {"v":1,"id":1,"op":"get_many"})))`);
    expect(control).toMatchObject({ ok: true, names: ['second', 'token'], more: false });
    const before = auditText().split('\n').length;
    const other = pythonCopy('other-program');
    const child = path.join(t.dir, 'child.py');
    fs.writeFileSync(child, `import json, socket, sys\ns = socket.socket(fileno=int(sys.argv[1]))\nf = s.makefile("rb")\nout = {}\nfor key, req in [("named", {"v":1,"id":2,"op":"get_many","names":["token","second"]}), ("every", {"v":1,"id":3,"op":"get_many"})]:\n    s.sendall((json.dumps(req) + "\\n").encode())\n    out[key] = json.loads(f.readline())\nprint(json.dumps(out))\n`);
    const attack = execOnConnection(other, child);
    for (const key of ['named', 'every']) {
      expect(attack[key].ok, key).toBe(false);
      expect(attack[key].error.code, key).toBe('denied');
      expect(attack[key].error.message, key).toMatch(/another executable/);
      expect(attack[key].values, key).toBeUndefined();
      expect(JSON.stringify(attack[key]), key).not.toMatch(/czNjcmV0|b3RoZXItczNjcmV0/); // neither value's base64
    }
    const lines = auditText().split('\n').slice(before - 1).filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((e) => e.event_type === 'identity_changed' && e.action === 'get').length).toBeGreaterThanOrEqual(2);
    expect(lines.filter((e) => e.event_type === 'secret_access' && e.result === 'success')).toEqual([]); // no value released by a line
  });

  it('the program it execs cannot write, delete or apply a policy through that connection either', async () => {
    await agentWith(`    - name: python
      clients: [{ exe: "/usr/bin/python3*" }]
      secrets: ["token"]
      actions: [read, write, delete, admin]
`);
    const opened = 'version: 1\ndefault_policy: allow\n';
    t.env.OPENED_POLICY = opened;
    const other = pythonCopy('other-program');
    const child = path.join(t.dir, 'child.py');
    const value = Buffer.from('planted').toString('base64');
    fs.writeFileSync(child, `import json, os, socket, sys\ns = socket.socket(fileno=int(sys.argv[1]))\nf = s.makefile("rb")\nout = {}\nfor op, req in [("set", {"v":1,"id":2,"op":"set","name":"token","value":"${value}"}), ("rm", {"v":1,"id":3,"op":"rm","name":"token"}), ("policy_apply", {"v":1,"id":4,"op":"policy_apply","text":os.environ["OPENED_POLICY"]})]:\n    s.sendall((json.dumps(req) + "\\n").encode())\n    out[op] = json.loads(f.readline())\nprint(json.dumps(out))\n`);
    const attack = execOnConnection(other, child);
    for (const op of ['set', 'rm', 'policy_apply']) {
      expect(attack[op].ok, op).toBe(false);
      expect(attack[op].error.code, op).toBe('denied');
      expect(attack[op].error.message, op).toMatch(/another executable/);
    }
    expect((await cli(t.env, ['get', 'token'])).stdout).toBe('s3cret\n'); // neither replaced nor deleted
    // The sealed policy stands: the other program is still refused on a connection of its own.
    expect(spawnPython(other, `${ASK}\ns = connect(); print(json.dumps(ask(s, {"v":1,"id":1,"op":"get","name":"token"})))`).error?.code).toBe('denied');
    expect(auditText()).toMatch(/"identity_changed","client":\{"pid":\d+[^\n]*"action":"set"/);
  });

  it('a connection left to a forked child after its opener exits is denied', async () => {
    await agentWith(PYTHON_RULE);
    const r = run(`s = connect()
assert ask(s, {"v":1,"id":1,"op":"hello"})["ok"]
parent = os.getpid()
if os.fork() != 0:
    os._exit(0)
while os.getppid() == parent: time.sleep(0.01)
print(json.dumps(ask(s, {"v":1,"id":2,"op":"get","name":"token"})))
sys.stdout.flush()`);
    expect(r.error?.code).toBe('denied');
    expect(r.error.message).toMatch(/exited|no longer the process/);
    expect(auditText()).toContain('"identity_changed"');
  });

  it('a descriptor passed over SCM_RIGHTS to another process, after its opener exits, is denied (also for list and list --details)', async () => {
    await agentWith(PYTHON_RULE);
    const r = run(`a, b = socket.socketpair()
receiver = os.fork()
if receiver == 0:
    a.close()
    msg, fds, flags, addr = socket.recv_fds(b, 16, 1)
    s = socket.socket(fileno=fds[0])
    b.recv(1)  # the opener has exited when this returns
    while True:
        try: os.kill(int(msg.decode()), 0); time.sleep(0.01)
        except ProcessLookupError: break
    print(json.dumps({"get": ask(s, {"v":1,"id":2,"op":"get","name":"token"}), "list": ask(s, {"v":1,"id":3,"op":"list"}), "details": ask(s, {"v":1,"id":4,"op":"list","details":True})}))
    sys.stdout.flush()
    os._exit(0)
b.close()
opener = os.fork()
if opener == 0:
    s = connect()
    assert ask(s, {"v":1,"id":1,"op":"hello"})["ok"]
    socket.send_fds(a, [str(os.getpid()).encode()], [s.fileno()])
    os._exit(0)
os.waitpid(opener, 0)
a.send(b"x")
os.waitpid(receiver, 0)`);
    expect(r.get.error?.code).toBe('denied');
    expect(r.list.error?.code).toBe('denied');
    expect(r.get.value).toBeUndefined();
    expect(r.list.names).toBeUndefined();
    expect(r.details.error?.code).toBe('denied'); // list --details too (it released the names before)
    expect(r.details.names).toBeUndefined();
  });
});

// Who a connection belongs to when the process that connected is gone before the agent accepts
// it (security review h16r, issue 14). SO_PEERCRED names the pid that connected; pidfd_open(pid)
// then opened whatever process held that pid at accept. A same-uid attacker stopped the agent
// (SIGSTOP), connected from a throwaway child, took the descriptor over SCM_RIGHTS, let the child
// die and an allowed program take its pid, and resumed the agent: the agent pinned the allowed
// program and gave the attacker its value. The pidfd now comes from the socket (SO_PEERPIDFD),
// bound to the process that connected, which is found gone: the peer is unidentified.
/** The attacker: an unallowed program (a copy of python) that ends up holding a connection pinned to an allowed one. */
const REUSE_ATTACK = `${ASK}
import signal
python = sys.argv[1]
agent = int(os.environ["GLASSDOME_AGENT_PID"])
os.kill(agent, signal.SIGSTOP)
impostor = None
try:
    a, b = socket.socketpair()
    opener = os.fork()
    if opener == 0:
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.environ["GLASSDOME_AUTH_SOCK"])  # queued: the agent accepts it only once resumed
        socket.send_fds(a, [b"x"], [s.fileno()])
        os._exit(0)
    msg, fds, flags, addr = socket.recv_fds(b, 16, 1)
    conn = socket.socket(fileno=fds[0])
    os.waitpid(opener, 0)  # reaped: its pid is free
    # An allowed program takes that pid (root's shortcut through ns_last_pid; any user can cycle pids).
    for attempt in range(2000):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(opener - 1))
        pid = os.fork()
        if pid == 0:
            if os.getpid() == opener:
                os.execv(python, [python, "-c", "import time; time.sleep(60)"])
            os._exit(0)
        if pid == opener:
            impostor = pid
            break
        os.waitpid(pid, 0)
    if impostor is None:
        print(json.dumps({"setup": "the pid was never reused"})); sys.exit(0)
    while True:
        try:
            if os.readlink("/proc/%d/exe" % impostor) == python: break
        except OSError: pass
        time.sleep(0.01)
finally:
    os.kill(agent, signal.SIGCONT)
reply = ask(conn, {"v": 1, "id": 1, "op": "get", "name": "token"})
os.kill(impostor, signal.SIGKILL)
print(json.dumps({"reply": reply, "pid": impostor}))
`;

describe('a connection whose opener died before the agent accepted it', () => {
  it('is not pinned to the allowed program that took its pid: denied, no value', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test takes a pid through /proc/sys/kernel/ns_last_pid and needs root (CI runs as root)');
    await agentWith(PYTHON_RULE);
    // The attacker's program is not allowed on a connection of its own.
    const attacker = pythonCopy('attacker');
    expect(spawnPython(attacker, `${ASK}\ns = connect(); print(json.dumps(ask(s, {"v":1,"id":1,"op":"get","name":"token"})))`).error?.code).toBe('denied');
    const r = spawnSync(attacker, ['-c', REUSE_ATTACK, PYTHON_EXE], { env: t.env, encoding: 'utf8', timeout: 60_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop() || `{"stderr": ${JSON.stringify(r.stderr)}}`) as Record<string, any>;
    expect(out.setup).toBeUndefined();
    expect(out.reply, r.stderr).toBeDefined();
    expect(out.reply.value).toBeUndefined();
    expect(out.reply.ok).toBe(false);
    expect(out.reply.error.code).toBe('denied');
    expect(out.reply.error.message).not.toContain(PYTHON_EXE); // not judged as the program that took the pid
    expect(auditText()).not.toMatch(new RegExp(`"secret_access","client":\\{"pid":${out.pid},[^\\n]*"result":"success"`));
    // The agent still serves the CLI.
    expect((await cli(t.env, ['get', 'token'])).stdout).toBe('s3cret\n');
  });
});

// One audit batch holds the checks of many connections, which share what they read of /proc and
// each pid's liveness (src/os/identity.ts): a refusal must stay with its own connection. The
// agent is stopped while every request is queued, so that it reads them all in one turn.
const ONE_BATCH = `${ASK}
import signal
agent = int(os.environ["GLASSDOME_AGENT_PID"])
a, b = socket.socketpair()
opener = os.fork()
if opener == 0:
    s = connect()
    assert ask(s, {"v":1,"id":1,"op":"hello"})["ok"]
    socket.send_fds(a, [b"x"], [s.fileno()])
    os._exit(0)
msg, fds, flags, addr = socket.recv_fds(b, 16, 1)
os.waitpid(opener, 0)
stale = socket.socket(fileno=fds[0])
child_reads, parent_writes = os.pipe()
parent_reads, child_writes = os.pipe()
child = os.fork()
if child == 0:
    mine = [connect() for _ in range(3)]
    for s in mine: assert ask(s, {"v":1,"id":1,"op":"hello"})["ok"]
    os.write(child_writes, b"r"); os.read(child_reads, 1)  # the agent is stopped now
    for s in mine: s.sendall(b'{"v":1,"id":2,"op":"get","name":"token"}\\n')
    os.write(child_writes, b"s")
    print(json.dumps([json.loads(s.makefile("rb").readline()) for s in mine])); sys.stdout.flush()
    os._exit(0)
assert os.read(parent_reads, 1) == b"r"
own = [connect() for _ in range(3)]
for s in own: assert ask(s, {"v":1,"id":1,"op":"hello"})["ok"]
os.kill(agent, signal.SIGSTOP)
try:
    conns = [own[0], stale, own[1], own[2]]
    for s in conns: s.sendall(b'{"v":1,"id":2,"op":"get","name":"token"}\\n')
    os.write(parent_writes, b"g")
    assert os.read(parent_reads, 1) == b"s"
finally:
    os.kill(agent, signal.SIGCONT)
replies = [json.loads(s.makefile("rb").readline()) for s in conns]
os.waitpid(child, 0)
print(json.dumps({"own": [replies[0], replies[2], replies[3]], "stale": replies[1], "pids": [os.getpid(), opener, child]}))
`;

describe('refusals in one audit batch', () => {
  it('a stale connection among live ones of two processes is refused alone; each release is audited once, under its own pid', async () => {
    await agentWith(PYTHON_RULE);
    const r = python(ONE_BATCH, [], t.env);
    const lines = r.stdout.trim().split('\n');
    const childReplies = JSON.parse(lines[0]!) as Array<Record<string, any>>;
    const out = JSON.parse(lines[lines.length - 1]!) as Record<string, any>;
    const [self, opener, child] = out.pids as number[];
    const value = Buffer.from('s3cret').toString('base64');
    for (const reply of [...out.own, ...childReplies]) expect(reply).toMatchObject({ ok: true, value });
    expect(out.stale.ok).toBe(false);
    expect(out.stale.error.code).toBe('denied');
    expect(out.stale.value).toBeUndefined();
    const events = auditText().trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>).filter((e) => e.resource === 'token' && e.action === 'get');
    const by = (pid: number, type: string) => events.filter((e) => e.client?.pid === pid && e.event_type === type).length;
    expect(by(self, 'secret_access')).toBe(3);
    expect(by(child, 'secret_access')).toBe(3);
    expect(by(opener, 'secret_access')).toBe(0);
    expect(by(opener, 'identity_changed')).toBe(1);
    expect(by(self, 'identity_changed') + by(child, 'identity_changed')).toBe(0);
  });
});

/** Runs a python script with a given interpreter binary; returns its last line as JSON. */
function spawnPython(interpreter: string, script: string): Record<string, any> {
  const r = spawnSync(interpreter, ['-c', script], { env: t.env, encoding: 'utf8', timeout: 30_000 });
  const last = String(r.stdout).trim().split('\n').pop() ?? '';
  if (!last.startsWith('{')) throw new Error(`${interpreter} said: ${r.stdout} ${r.stderr}`);
  return JSON.parse(last) as Record<string, any>;
}

describe('exe_sha256', () => {
  it('allows a binary with the pinned content and denies a copy with other content', async () => {
    const same = pythonCopy('pinned-python');
    const changed = pythonCopy('changed-python', '\0extra bytes after the ELF image');
    const digest = crypto.createHash('sha256').update(fs.readFileSync(PYTHON_EXE)).digest('hex');
    await agentWith(`    - name: pinned
      clients: [{ exe: "${t.dir}/*", exe_sha256: "${digest.toUpperCase()}" }]
      secrets: ["token"]
      actions: [read]
`);
    const script = `${ASK}\ns = connect(); print(json.dumps(ask(s, {"v":1,"id":1,"op":"get","name":"token"})))`;
    expect(spawnPython(same, script)).toMatchObject({ ok: true, value: Buffer.from('s3cret').toString('base64') });
    const denied = spawnPython(changed, script);
    expect(denied.error?.code).toBe('denied');
    expect(denied.error.message).toMatch(/default deny/);
    const check = await cli(t.env, ['policy', 'check', '--exe', changed, 'token', 'read']);
    expect(check.code).toBe(5);
    expect((await cli(t.env, ['policy', 'check', '--exe', same, 'token', 'read'])).stdout).toMatch(/^allow \(rule pinned\)/);
  });

  it('a malformed digest is a policy error naming its line', async () => {
    fs.writeFileSync(path.join(t.home, 'policy.yaml'), 'authorization:\n  rules:\n    - name: x\n      clients: [{ exe_sha256: "abc" }]\n      secrets: ["*"]\n      actions: [read]\n', { mode: 0o600 });
    const r = await cli(t.env, ['policy', 'check', 'token', 'read']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/policy\.yaml:4: exe_sha256 must be 64 hex digits/);
  });
});
