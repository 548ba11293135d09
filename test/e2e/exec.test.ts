// glassdome exec with real children: a Python child reading fd 3, cat on {{glassdome:NAME}},
// exit statuses and signals, SIGINT forwarding without orphans, 1 MiB values, a child that never
// reads, stdin, a terminal, --mask across writes; and the Python client both ways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { alive, BIN, cli, makeEnv, makeVault, startAgent, unlockedEnv, waitFor, type TestEnv } from '../helpers/cli.js';

const PY = '/usr/bin/python3';
const CLIENT_DIR = path.join(__dirname, '../../clients/python');
const BIG = 'b'.repeat(1024 * 1024);

let t: TestEnv;
beforeAll(async () => {
  t = await unlockedEnv();
  await cli(t.env, ['set', 'db_pass'], 'p@ss w0rd');
  await cli(t.env, ['set', 'api_token'], 'tok-123');
  await cli(t.env, ['set', 'big'], BIG);
});
afterAll(() => t.cleanup());

const exec = (args: string[], input?: string) => cli(t.env, ['exec', ...args], input);

describe('descriptors', () => {
  it('a Python child reads its secrets from fd 3; its environ and cmdline hold no value', async () => {
    const script = [
      'import json, os, sys',
      'fd = int(os.environ["GLASSDOME_SECRETS_FD"])',
      'data = json.loads(os.read(fd, 1 << 22))',
      'environ = open("/proc/self/environ", "rb").read()',
      'cmdline = open("/proc/self/cmdline", "rb").read()',
      '# the values, built here so that this script (in our own cmdline) does not contain them',
      'values = ["p@s" + "s w0rd", "tok-" + "123"]',
      'leak = [v for v in values if v.encode() in environ or v.encode() in cmdline]',
      'print(json.dumps({"fd": fd, "names": sorted(data), "db": data["db_pass"], "leak": leak, "sock": "GLASSDOME_AUTH_SOCK" in os.environ, "pid": "GLASSDOME_AGENT_PID" in os.environ}))',
    ].join('\n');
    const r = await exec(['-s', 'db_pass', '-s', 'api_token', '--', PY, '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ fd: 3, names: ['api_token', 'db_pass'], db: 'p@ss w0rd', leak: [], sock: false, pid: false });
  });

  it('without -s the JSON holds every secret; --keep-agent keeps the agent variables', async () => {
    const r = await exec(['--keep-agent', '--', PY, '-c', 'import json,os; d=json.load(os.fdopen(3)); print(sorted(d), len(d["big"]), os.environ.get("GLASSDOME_AUTH_SOCK") is not None)']);
    expect(r.stdout.trim()).toBe(`['api_token', 'big', 'db_pass'] ${1024 * 1024} True`);
  });

  it('{{glassdome:NAME}} becomes /dev/fd/N holding exactly that value, readable twice', async () => {
    const r = await exec(['--', 'sh', '-c', 'echo "$1"; cat "$1"; echo; cat "$1"', 'sh', '{{glassdome:api_token}}']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('/dev/fd/4\ntok-123\ntok-123');
    const two = await exec(['--', 'sh', '-c', 'cat "$1"; echo "|$2"', 'sh', '{{glassdome:db_pass}}', '--pw-file={{glassdome:api_token}}']);
    expect(two.stdout).toBe('p@ss w0rd|--pw-file=/dev/fd/5\n');
  });

  it('asks the agent for all its values in one request: one get_many naming them, no get', () => {
    const trace = path.join(t.dir, 'exec.strace');
    const r = spawnSync('/usr/bin/strace', ['-f', '-e', 'trace=connect,read,write,close', '-e', 'signal=none', '-s', '256', '-o', trace, process.execPath, BIN, 'exec', '-s', 'db_pass', '-s', 'api_token', '-s', 'big', '--', 'true'], { env: t.env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes(`sun_path="${t.env.GLASSDOME_AUTH_SOCK}"`));
    const fd = /connect\((\d+),/.exec(lines[at] ?? '')?.[1];
    expect(fd, 'no connect to the agent in the trace').toBeDefined();
    // The socket's life: from its connect to its close (the number is reused afterwards).
    const life = lines.slice(at);
    const end = life.findIndex((l) => l.includes(` close(${fd})`));
    const writes = life.slice(0, end === -1 ? undefined : end).filter((l) => l.includes(` write(${fd},`));
    const ops = writes.flatMap((l) => [...l.matchAll(/\\"op\\":\\"([a-z_]+)\\"/g)].map((m) => m[1]));
    expect(ops).toEqual(['hello', 'get_many']);
    expect(writes.join('')).toContain('\\"names\\":[\\"db_pass\\",\\"api_token\\",\\"big\\"]');
  });

  it('asks before its own code loads: the hello and the get_many of every secret are on the wire before lean-exec.js is opened', () => {
    const trace = path.join(t.dir, 'exec-early.strace');
    const r = spawnSync('/usr/bin/strace', ['-f', '-e', 'trace=connect,openat,write', '-e', 'signal=none', '-s', '256', '-o', trace, process.execPath, BIN, 'exec', '--', 'true'], { env: t.env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes(`sun_path="${t.env.GLASSDOME_AUTH_SOCK}"`));
    const fd = /connect\((\d+),/.exec(lines[at] ?? '')?.[1];
    expect(fd, 'no connect to the agent in the trace').toBeDefined();
    const asked = lines.findIndex((l, i) => i > at && l.includes(` write(${fd},`) && l.includes('\\"op\\":\\"hello\\"') && l.includes('\\"op\\":\\"get_many\\"'));
    const loaded = lines.findIndex((l) => l.includes('openat(') && l.includes('/dist/cli/lean-exec.js"'));
    expect(asked).toBeGreaterThan(at);
    expect(loaded).toBeGreaterThan(asked);
  });

  it('an exec that fails its own argument check (exit 2) asked the agent for nothing that is audited (the early request goes out only when no argument can fail)', async () => {
    const log = path.join(t.home, 'audit.log');
    /** The audit lines `run` adds, closed by a `list` of ours (its line follows any the agent still had to write). */
    const linesOf = async (run: () => Promise<unknown>): Promise<Array<{ action: string; resource: string | null }>> => {
      const before = fs.readFileSync(log, 'utf8').length;
      await run();
      expect((await cli(t.env, ['list'])).code).toBe(0);
      return fs.readFileSync(log, 'utf8').slice(before).trim().split('\n').map((l) => JSON.parse(l));
    };
    const bad = [
      ['-s', 'bad name', '--', 'true'],
      ['-s', 'db_pass', '-s', '../etc', '--', 'true'],
      ['--nope', '--', 'true'],
      ['--mask'],
      ['-e', 'X=1', '--', 'true'],
      ['--', 'echo', '{{glassdome:bad name}}'],
      ['--', 'echo', '{{glassdome-template:}}'],
    ];
    for (const args of bad) {
      const lines = await linesOf(async () => {
        const r = await exec(args);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      });
      expect(lines.map((l) => l.action), args.join(' ')).toEqual(['list']); // only the closing list of ours
    }
    // The control: a good exec's reads (the early request among them) are audited before our closing list.
    const good = await linesOf(async () => expect((await exec(['--', 'true'])).code).toBe(0));
    expect(good.length).toBeGreaterThan(1);
    expect(good.slice(0, -1).map((l) => l.resource)).toContain('db_pass');
  });

  it('a command that is not there (exit 127) reads no secret: nothing audited, every secret or -s alike', async () => {
    // Found in review: `exec -- typo` read and audited every secret, then failed with 127.
    const log = path.join(t.home, 'audit.log');
    for (const args of [['--', 'glassdome-no-such-command'], ['-s', 'db_pass', '--', 'glassdome-no-such-command', '{{glassdome:api_token}}'], ['--', './no-such-script.sh']]) {
      const before = fs.readFileSync(log, 'utf8').length;
      const r = await exec(args);
      expect(r.code, r.stderr).toBe(127);
      expect(r.stderr).toBe(`glassdome: ${args.at(-1)!.startsWith('{{') ? args.at(-2) : args.at(-1)}: command not found\nglassdome: hint: check the name and PATH\n`);
      expect((await cli(t.env, ['list'])).code).toBe(0); // its line follows any the agent still had to write
      const lines = fs.readFileSync(log, 'utf8').slice(before).trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.action), args.join(' ')).toEqual(['list']);
    }
    // A file that is there but not executable is still 126, as a shell says.
    const plain = path.join(t.dir, 'plain.txt');
    fs.writeFileSync(plain, 'x', { mode: 0o600 });
    const r = await exec(['--', plain]);
    expect(r.code).toBe(126);
  });

  it('a 1 MiB value arrives whole, by fd 3 and by path', async () => {
    const r = await exec(['-s', 'big', '--', PY, '-c', 'import json,os,sys; print(len(json.load(os.fdopen(3))["big"]), len(open(sys.argv[1]).read()))', '{{glassdome:big}}']);
    expect(r.stdout.trim()).toBe(`${1024 * 1024} ${1024 * 1024}`);
  });

  it('a child that never reads its descriptors neither hangs nor breaks glassdome', async () => {
    const r = await exec(['--', 'true', '{{glassdome:big}}']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('a named secret that does not exist: exit 3 before the child starts', async () => {
    const marker = path.join(t.dir, 'started');
    const r = await exec(['-s', 'nope', '--', 'touch', marker]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no secret named "nope"/);
    expect(fs.existsSync(marker)).toBe(false);
    expect((await exec(['--', 'touch', marker, '{{glassdome:nope}}'])).code).toBe(3);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('refuses when locked (exit 4), before starting anything', async () => {
    const env = { ...t.env };
    delete env.GLASSDOME_AUTH_SOCK;
    const r = await cli(env, ['exec', '--', 'true']);
    expect(r.code).toBe(4);
  });
});

describe('process', () => {
  it('exits with the child’s status, 128+N for a signal, 127 and 126 like a shell', async () => {
    expect((await exec(['--', 'sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await exec(['--', 'sh', '-c', 'kill -TERM $$'])).code).toBe(143);
    const missing = await exec(['--', 'no-such-command-here']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/^glassdome: no-such-command-here: command not found/);
    const plain = path.join(t.dir, 'not-executable');
    fs.writeFileSync(plain, 'echo hi\n', { mode: 0o644 });
    const denied = await exec(['--', plain]);
    expect(denied.code).toBe(126);
    expect(denied.stderr).toContain('permission denied');
  });

  it('waits for the child on its event loop: no more threads than a bare Node process (no worker pool)', async () => {
    const bare = spawnSync(process.execPath, ['-e', "setTimeout(() => console.log(require('fs').readdirSync('/proc/self/task').length), 200)"], { encoding: 'utf8' });
    expect(bare.status, bare.stderr).toBe(0);
    // The child looks once glassdome has long since settled into waiting for it.
    const r = await exec(['--', 'sh', '-c', 'sleep 0.3; ls /proc/$PPID/task | wc -l']);
    expect(r.code, r.stderr).toBe(0);
    expect(Number(r.stdout.trim())).toBeGreaterThan(0);
    expect(Number(r.stdout.trim())).toBeLessThanOrEqual(Number(bare.stdout.trim()));
  });

  it('a file without a #! line runs under /bin/sh, as a shell runs it', async () => {
    const script = path.join(t.dir, 'no-shebang');
    fs.writeFileSync(script, 'echo "plain script $1"\n', { mode: 0o755 });
    const r = await exec(['--', script, 'ran']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('plain script ran\n');
  });

  it('the child gets every signal at its default action, none blocked, and none of glassdome’s descriptors', async () => {
    // cat and find change no signal action of their own (Python would: it ignores SIGPIPE).
    const status = await exec(['--', 'cat', '/proc/self/status']);
    expect(status.code, status.stderr).toBe(0);
    // Node ignores SIGPIPE, glassdome catches the signals it forwards, glibc keeps two of its own:
    // none of that reaches the child.
    expect(status.stdout).toMatch(/^SigBlk:\s+0+$/m);
    expect(status.stdout).toMatch(/^SigIgn:\s+0+$/m);
    expect(status.stdout).toMatch(/^SigCgt:\s+0+$/m);
    const r = await exec(['-s', 'db_pass', '--', 'find', '{{glassdome:api_token}}', '/proc/self/fd/', '-mindepth', '1', '-printf', '%f %l\\n']);
    expect(r.code, r.stderr).toBe(0);
    const byFd = new Map(r.stdout.trim().split('\n').map((l) => [Number(l.split(' ')[0]), l.slice(l.indexOf(' ') + 1)]));
    expect(byFd.get(3)).toBe('/memfd:glassdome-secrets (deleted)');
    expect(byFd.get(4)).toBe('/memfd:glassdome-secret (deleted)');
    // Node's own (its event loop's epoll and eventfds, the agent's socket) stay behind.
    const others = [...byFd].filter(([fd]) => fd > 4).map(([, target]) => target);
    expect(others.filter((target) => /anon_inode|socket:|memfd:/.test(target))).toEqual([]);
  });

  it('passes stdin through', async () => {
    expect((await exec(['--', 'cat'], 'from stdin')).stdout).toBe('from stdin');
  });

  it('SIGINT to glassdome reaches the child, which exits; no orphan is left', async () => {
    const marker = path.join(t.dir, 'child.pid');
    const script = [
      'import os, signal, sys, time',
      `open(${JSON.stringify(marker)}, "w").write(str(os.getpid()))`,
      'signal.signal(signal.SIGINT, lambda *a: (print("child got SIGINT", flush=True), sys.exit(42)))',
      'time.sleep(30)',
    ].join('\n');
    const child = spawn(process.execPath, [BIN, 'exec', '--', PY, '-c', script], { env: t.env, detached: true });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    await waitFor(() => fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').length > 0, 'the child to start');
    const pythonPid = Number(fs.readFileSync(marker, 'utf8'));
    const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    process.kill(child.pid!, 'SIGINT'); // to glassdome alone (its own process group): forwarding must carry it
    expect(await done).toBe(42);
    expect(out).toContain('child got SIGINT');
    await waitFor(() => !alive(pythonPid), 'the child to be gone');
  });

  it('forwards SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH', async () => {
    const marker = path.join(t.dir, 'signals.ready');
    const script = [
      'import os, signal, sys',
      'got = []',
      'names = ["SIGWINCH", "SIGUSR1", "SIGUSR2", "SIGQUIT", "SIGHUP", "SIGTERM"]',
      'def on(n, _):',
      '    got.append(signal.Signals(n).name)',
      '    if len(got) == len(names): print(" ".join(got), flush=True); sys.exit(0)',
      'for n in names: signal.signal(getattr(signal, n), on)',
      `open(${JSON.stringify(marker)}, "w").write("1")`,
      'while True: signal.pause()',
    ].join('\n');
    const child = spawn(process.execPath, [BIN, 'exec', '--', PY, '-c', script], { env: t.env, detached: true });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    await waitFor(() => fs.existsSync(marker), 'the child to be ready');
    const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (const s of ['SIGWINCH', 'SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGHUP', 'SIGTERM'] as const) {
      process.kill(child.pid!, s);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await done).toBe(0);
    expect(out.trim()).toBe('SIGWINCH SIGUSR1 SIGUSR2 SIGQUIT SIGHUP SIGTERM');
  });

  it('a terminal stays a terminal', () => {
    const script = [
      'import os, pty, sys',
      'pid, fd = pty.fork()',
      'if pid == 0:',
      `    os.execvpe(sys.argv[1], sys.argv[1:] + ["exec", "--", "${PY}", "-c", "import os; print('TTY', os.isatty(0), os.isatty(1), os.isatty(2))"], os.environ)`,
      'out = b""',
      'while True:',
      '    try: chunk = os.read(fd, 1024)',
      '    except OSError: break',
      '    if not chunk: break',
      '    out += chunk',
      'print(out.decode())',
    ].join('\n');
    const r = spawnSync(PY, ['-c', script, process.execPath, BIN], { env: t.env, encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toContain('TTY True True True');
  });
});

describe('--mask', () => {
  it('conceals values in stdout and stderr, even split across writes', async () => {
    const script = [
      'import sys, time',
      'sys.stdout.write("token: tok-"); sys.stdout.flush(); time.sleep(0.2)',
      'sys.stdout.write("123 and p@ss"); sys.stdout.flush(); time.sleep(0.2)',
      'sys.stdout.write(" w0rd.\\n"); sys.stdout.flush()',
      'sys.stderr.write("err p@ss w0rd\\n")',
    ].join('\n');
    const r = await exec(['--mask', '--', PY, '-c', script]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('token: <concealed by glassdome> and <concealed by glassdome>.\n');
    expect(r.stderr).toBe('err <concealed by glassdome>\n');
  });
});

describe('the Python client', () => {
  const env = () => ({ ...t.env, PYTHONPATH: CLIENT_DIR });

  it('under exec reads the descriptor once, closes it, and keeps the values', async () => {
    const script = [
      'import os, glassdome',
      'print(glassdome.get("db_pass"))',
      'print(sorted(glassdome.secrets()))',
      'try: os.fstat(3); print("fd still open")',
      'except OSError: print("fd closed")',
      'print(glassdome.get("api_token"), "GLASSDOME_SECRETS_FD" in os.environ)',
      'try: glassdome.get("big")',
      'except glassdome.GlassdomeError as e: print("error", e.code)',
    ].join('\n');
    const r = await cli(env(), ['exec', '-s', 'db_pass', '-s', 'api_token', '--', PY, '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("p@ss w0rd\n['api_token', 'db_pass']\nfd closed\ntok-123 False\nerror not_found\n");
  });

  it('in a grandchild whose descriptor 3 is its own (subprocess closed exec’s) refuses, and neither reads nor closes that descriptor', async () => {
    // Python's subprocess closes fd 3 but keeps GLASSDOME_SECRETS_FD; the grandchild's next socket
    // or file takes the number. Before, the client read it to the end (a socket: forever) and closed it.
    const grandchild = [
      'import socket, glassdome',
      'a, b = socket.socketpair()',
      'f = open("/etc/hostname")',
      'print(a.fileno(), f.fileno())',
      'try: glassdome.get("db_pass")',
      'except glassdome.GlassdomeError as e: print(e.code, "|", e.message)',
      'b.sendall(b"still mine")',
      'print(a.recv(100).decode(), len(f.read()) > 0)',
    ].join('\n');
    const child = `import subprocess, sys\nsys.exit(subprocess.run([sys.executable, "-c", ${JSON.stringify(grandchild)}]).returncode)`;
    const r = await cli(env(), ['exec', '--', PY, '-c', child], undefined, 20_000);
    expect(r.code, r.stderr).toBe(0);
    const [fds, refused, after] = r.stdout.trim().split('\n');
    expect(fds).toBe('3 5');
    expect(refused).toMatch(/^bad_request \| GLASSDOME_SECRETS_FD is 3, but descriptor 3 is not the one glassdome exec made/);
    expect(after).toBe('still mine True');
  });

  it('in a child with no /proc (a mount namespace without it, as in a chroot or sandbox) still reads exec’s descriptor', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test unmounts /proc in a new mount namespace and needs root (CI runs as root)');
    // Before: /proc/self/fd/3 could not be read, so exec's own sealed memfd was refused as bad_request.
    const r = await cli(env(), ['exec', '-s', 'db_pass', '--', '/usr/bin/unshare', '--mount', '/bin/sh', '-c', `umount -l /proc && ${PY} -c 'import os, glassdome; print(os.path.isdir("/proc/self"), glassdome.get("db_pass"))'`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('False p@ss w0rd\n');
  });

  it('two Python steps of one shell script under one exec both get their secrets, and fd 3 is still whole after them', async () => {
    // The steps share fd 3's offset (one open file); before, the first step's read left the second at the end.
    const step = (n: number) => `${PY} -c 'import glassdome; print(${n}, glassdome.get("db_pass"))'`;
    const r = await cli(env(), ['exec', '-s', 'db_pass', '--', '/bin/sh', '-c', `${step(1)} && ${step(2)} && cat <&3`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('1 p@ss w0rd\n2 p@ss w0rd\n{"db_pass":"p@ss w0rd"}');
  });

  it('without exec asks the agent; errors carry the protocol code', () => {
    const script = [
      'import glassdome',
      'print(glassdome.get("api_token"), len(glassdome.get_bytes("big")))',
      'print(sorted(glassdome.secrets()))',
      'try: glassdome.get("nope")',
      'except glassdome.GlassdomeError as e: print("error", e.code)',
    ].join('\n');
    const r = spawnSync(PY, ['-c', script], { env: env(), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`tok-123 ${1024 * 1024}\n['api_token', 'big', 'db_pass']\nerror not_found\n`);
    const noAgent = { ...env() };
    delete noAgent.GLASSDOME_AUTH_SOCK;
    const r2 = spawnSync(PY, ['-c', 'import glassdome\ntry: glassdome.get("x")\nexcept glassdome.GlassdomeError as e: print(e.code)'], { env: noAgent, encoding: 'utf8' });
    expect(r2.stdout.trim()).toBe('no_agent');
  });

  it('reports a locked agent as `locked`', async () => {
    const other = makeEnv();
    try {
      await makeVault(other);
      await startAgent(other.env);
      const r = spawnSync(PY, ['-c', 'import glassdome\ntry: glassdome.get("x")\nexcept glassdome.GlassdomeError as e: print(e.code, e.hint)'], { env: { ...other.env, PYTHONPATH: CLIENT_DIR }, encoding: 'utf8' });
      expect(r.stdout.trim()).toBe('locked unlock it: glassdome unlock');
    } finally {
      other.cleanup();
    }
  });

  it('stays within the standard library and Python 3.8 syntax', () => {
    const source = fs.readFileSync(path.join(CLIENT_DIR, 'glassdome.py'), 'utf8');
    const code = source.replace(/^"""[\s\S]*?"""/, ''); // past the docstring, whose example imports glassdome
    const imports = [...new Set([...code.matchAll(/^\s*import (\w+)|^\s*from (\w+)/gm)].map((m) => m[1] ?? m[2]))];
    expect(imports.sort()).toEqual(['base64', 'fcntl', 'http', 'json', 'os', 'socket', 'ssl', 'struct', 'threading', 'time', 'urllib']); // all standard library (http.client, ssl, urllib.parse: glassdome serve)
    // Those three cost ~25 ms to import: a script that never talks to glassdome serve never loads them.
    const loaded = spawnSync(PY, ['-c', 'import sys, glassdome; print(sorted(m for m in ("ssl", "http.client", "urllib.parse") if m in sys.modules))'], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: CLIENT_DIR } });
    expect(loaded.stdout.trim()).toBe('[]');
    const r = spawnSync(PY, ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read(), feature_version=(3, 8)); print("ok")', path.join(CLIENT_DIR, 'glassdome.py')], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('ok');
  });
});
