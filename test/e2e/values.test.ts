// Values byte for byte and what exec hands out (issue "exec and set with the tools"): set's newline
// rule, --file, --raw, the overwrite guard on a terminal; descriptors of mode 0400; least
// privilege with placeholders; binary values through fd 3, placeholders and the Python client;
// templates in exec and `inject`; the refusal of `exec --env`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cli, onTerminal, unlockedEnv, type TestEnv } from '../helpers/cli.js';

const PY = '/usr/bin/python3';
const CLIENT_DIR = path.join(__dirname, '../../clients/python');
const BINARY = Buffer.from([0xff, 0x00, 0xfe, 0x0a, 0x80, 0x41, 0x0a]);

let t: TestEnv;
beforeAll(async () => {
  t = await unlockedEnv();
  expect((await cli(t.env, ['set', 'db_pass'], 'p@ss w0rd\n')).code).toBe(0);
  expect((await cli(t.env, ['set', 'api_token'], 'tok-123')).code).toBe(0);
  expect((await cli(t.env, ['set', 'bin', '--raw'], BINARY)).code).toBe(0);
});
afterAll(() => t.cleanup());

const exec = (args: string[], input?: string) => cli(t.env, ['exec', ...args], input);
/** The bytes of a secret, read back through exec and a placeholder (base64 on stdout). */
async function stored(name: string): Promise<Buffer> {
  const r = await exec(['--', 'base64', '-w0', `{{glassdome:${name}}}`]);
  expect(r.code, r.stderr).toBe(0);
  return Buffer.from(r.stdout, 'base64');
}
const file = (name: string, data: string | Buffer): string => {
  const p = path.join(t.dir, name);
  fs.writeFileSync(p, data);
  return p;
};

describe('set stores values byte for byte', () => {
  it('a single-line value on stdin loses its one trailing newline (\\n or \\r\\n), nothing more', async () => {
    await cli(t.env, ['set', 'one'], 'hunter2\n');
    expect(await stored('one')).toEqual(Buffer.from('hunter2'));
    await cli(t.env, ['set', 'crlf'], 'hunter2\r\n');
    expect(await stored('crlf')).toEqual(Buffer.from('hunter2'));
    await cli(t.env, ['set', 'two'], 'hunter2\n\n');
    expect(await stored('two')).toEqual(Buffer.from('hunter2\n\n'));
  });

  it('a multi-line value (a PEM key, a my.cnf) is stored exactly, final newline included', async () => {
    const pem = spawnSync('openssl', ['genpkey', '-algorithm', 'ed25519'], { encoding: 'utf8' }).stdout;
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]*-----END PRIVATE KEY-----\n$/);
    const pemFile = file('key.pem', pem);
    expect((await cli(t.env, ['set', 'pem'], pem)).code).toBe(0);
    const r = await exec(['--', 'cmp', pemFile, '{{glassdome:pem}}']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const cnf = '[client]\nuser=app\npassword=s3cret\n';
    await cli(t.env, ['set', 'cnf'], cnf);
    expect((await stored('cnf')).toString()).toBe(cnf);
  });

  it('--file and --raw keep every byte; --file with --raw is a usage error', async () => {
    const p = file('one-line', 'exact\n');
    expect((await cli(t.env, ['set', 'from_file', '--file', p])).code).toBe(0);
    expect(await stored('from_file')).toEqual(Buffer.from('exact\n'));
    expect((await cli(t.env, ['set', 'raw', '--raw'], 'exact\n')).code).toBe(0);
    expect(await stored('raw')).toEqual(Buffer.from('exact\n'));
    const both = await cli(t.env, ['set', 'x', '--raw', '--file', p]);
    expect(both.code).toBe(2);
    const missing = await cli(t.env, ['set', 'x', '--file', path.join(t.dir, 'absent')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^glassdome: cannot read .*absent: no such file\nglassdome: hint: /);
    const dir = await cli(t.env, ['set', 'x', '--file', t.dir]);
    expect(dir.code).toBe(2);
    expect((await exec(['--', 'true', '{{glassdome:x}}'])).code).toBe(3); // nothing stored
  });

  it('a script replaces an existing secret without being asked (as before)', async () => {
    await cli(t.env, ['set', 'scripted'], 'first');
    expect((await cli(t.env, ['set', 'scripted'], 'second')).code).toBe(0);
    expect((await stored('scripted')).toString()).toBe('second');
  });

  it('on a terminal, replacing asks first; "no" keeps the old value; --force does not ask', async () => {
    await cli(t.env, ['set', 'guarded'], 'original');
    const no = onTerminal(t.env, ['set', 'guarded'], [['Replace it?', 'n']]);
    expect(no.code).toBe(1);
    expect(no.terminal).toMatch(/Secret guarded exists\. Replace it\?/);
    expect(no.terminal).toMatch(/glassdome: secret "guarded" exists; nothing was stored\r?\nglassdome: hint: replace it with: glassdome set guarded --force/);
    expect((await stored('guarded')).toString()).toBe('original');
    const yes = onTerminal(t.env, ['set', 'guarded'], [['Replace it?', 'y'], ['Value for guarded', 'replaced'], ['Repeat it', 'replaced']]);
    expect(yes.code).toBe(0);
    expect((await stored('guarded')).toString()).toBe('replaced');
    const forced = onTerminal(t.env, ['set', 'guarded', '--force'], [['Value for guarded', 'forced'], ['Repeat it', 'forced']]);
    expect(forced.code).toBe(0);
    expect(forced.terminal).not.toMatch(/Replace it/);
    expect((await stored('guarded')).toString()).toBe('forced');
    const fresh = onTerminal(t.env, ['set', 'fresh_one'], [['Value for fresh_one', 'v1'], ['Repeat it', 'v1']]);
    expect(fresh.code).toBe(0);
    expect(fresh.terminal).not.toMatch(/Replace it/);
  });
});

describe('descriptors', () => {
  it('every descriptor exec hands out is mode 0400: fd 3, placeholders, templates', async () => {
    const tmpl = file('mode.tmpl', 'pw={{glassdome:api_token}}\n');
    const r = await exec(['-s', 'api_token', '--', 'stat', '-L', '-c', '%a %F', '/dev/fd/3', '{{glassdome:db_pass}}', `{{glassdome-template:${tmpl}}}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('400 regular file\n400 regular file\n400 regular file\n');
  });

  it('placeholders without -s: the child gets exactly the named secrets; fd 3 holds {}', async () => {
    const script = [
      'import json, os, sys',
      '# every open descriptor past stdio that is a memfd (the runner may leak unrelated pipes)',
      'fds = [fd for fd in range(3, 1024) if os.path.exists("/proc/self/fd/%d" % fd) and os.readlink("/proc/self/fd/%d" % fd).startswith("/memfd:")]',
      'fd3 = json.loads(os.read(3, 1 << 20))',
      'print(json.dumps({"fds": fds, "fd3": fd3, "arg": open(sys.argv[1]).read()}))',
    ].join('\n');
    const r = await exec(['--', PY, '-c', script, '{{glassdome:api_token}}']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ fds: [3, 4], fd3: {}, arg: 'tok-123' });
    const all = await exec(['--', PY, '-c', 'import json,os; print(sorted(json.load(os.fdopen(3))))']);
    expect(all.stdout).toMatch(/'api_token', 'bin'.*'db_pass'/); // neither -s nor a placeholder: everything, as before
    const chosen = await exec(['-s', 'db_pass', '--', PY, '-c', 'import json,os,sys; print(sorted(json.load(os.fdopen(3))), open(sys.argv[1]).read())', '{{glassdome:api_token}}']);
    expect(chosen.stdout).toBe("['db_pass'] tok-123\n");
  });
});

describe('stdio', () => {
  it('a child of exec gets blocking stdio even when glassdome’s are pipes (Ansible refused to run)', async () => {
    const script = 'import fcntl, os, sys, time\ntime.sleep(0.2)\nprint([bool(fcntl.fcntl(f, fcntl.F_GETFL) & os.O_NONBLOCK) for f in (0, 1, 2)])';
    const r = await exec(['-s', 'api_token', '--', PY, '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('[False, False, False]\n');
  });
});

describe('binary values', () => {
  it('fd 3 carries a non-UTF-8 value as {"base64": ...}; text stays a string; exec never fails', async () => {
    const r = await exec(['--', PY, '-c', 'import json,os; d=json.load(os.fdopen(3)); print(json.dumps({"bin": d["bin"], "db": d["db_pass"]}))']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ bin: { base64: BINARY.toString('base64') }, db: 'p@ss w0rd' });
  });

  it('a placeholder carries the bytes unchanged', async () => {
    const p = file('binary', BINARY);
    expect((await exec(['--', 'cmp', p, '{{glassdome:bin}}'])).code).toBe(0);
  });

  it('the Python client returns bytes, under exec and from the agent; get() refuses as not_text', async () => {
    const script = [
      'import glassdome',
      'print(glassdome.get_bytes("bin").hex(), glassdome.secrets()["bin"].hex(), glassdome.get("db_pass"))',
      'try: glassdome.get("bin")',
      'except glassdome.GlassdomeError as e: print(e.code, e.hint)',
    ].join('\n');
    const want = `${BINARY.toString('hex')} ${BINARY.toString('hex')} p@ss w0rd\nnot_text read it with glassdome.get_bytes('bin')\n`;
    const env = { ...t.env, PYTHONPATH: CLIENT_DIR };
    const under = await cli(env, ['exec', '-s', 'bin', '-s', 'db_pass', '--', PY, '-c', script]);
    expect(under.stderr).toBe('');
    expect(under.stdout).toBe(want);
    const direct = spawnSync(PY, ['-c', script], { env, encoding: 'utf8' });
    expect(direct.stderr).toBe('');
    expect(direct.stdout).toBe(want);
  });
});

describe('templates', () => {
  const TEMPLATE = '[client]\nuser=app\npassword={{glassdome:db_pass}}\n# token {{glassdome:api_token}}, again {{glassdome:db_pass}}\n';
  const RENDERED = '[client]\nuser=app\npassword=p@ss w0rd\n# token tok-123, again p@ss w0rd\n';

  it('exec hands {{glassdome-template:PATH}} rendered on a sealed descriptor; fd 3 stays {}', async () => {
    const tmpl = file('my.cnf.tmpl', TEMPLATE);
    const r = await exec(['--', 'sh', '-c', 'cat "$1"; cat /dev/fd/3', 'sh', `{{glassdome-template:${tmpl}}}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${RENDERED}{}`);
    const missing = await exec(['--', 'true', `{{glassdome-template:${path.join(t.dir, 'absent')}}}`]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^glassdome: cannot read template .*absent: no such file\n/);
    const unknown = await exec(['--', 'true', `{{glassdome-template:${file('bad.tmpl', '{{glassdome:nope}}')}}}`]);
    expect(unknown.code).toBe(3);
  });

  it('inject renders stdin to stdout, and -i TEMPLATE to -o FILE written 0600 by rename', async () => {
    const out = await cli(t.env, ['inject'], TEMPLATE);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe(RENDERED);
    const tmpl = file('inject.tmpl', TEMPLATE);
    const target = path.join(t.dir, 'my.cnf');
    fs.writeFileSync(target, 'old', { mode: 0o644 });
    const before = fs.statSync(target).ino;
    const r = await cli(t.env, ['inject', '-i', tmpl, '-o', target]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(fs.readFileSync(target, 'utf8')).toBe(RENDERED);
    expect(fs.statSync(target).mode & 0o777).toBe(0o600);
    expect(fs.statSync(target).ino).not.toBe(before); // a new file renamed into place
    expect(fs.readdirSync(t.dir).filter((n) => n.includes('my.cnf') && !n.endsWith('.tmpl'))).toEqual(['my.cnf']);
  });

  it('inject with a missing secret: exit 3, the old file untouched, no temporary left', async () => {
    const target = path.join(t.dir, 'keep.cnf');
    fs.writeFileSync(target, 'old');
    const r = await cli(t.env, ['inject', '-o', target], 'x={{glassdome:nope}}\n');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^glassdome: no secret named "nope"/);
    expect(fs.readFileSync(target, 'utf8')).toBe('old');
    expect(fs.readdirSync(t.dir).filter((n) => n.includes('keep.cnf'))).toEqual(['keep.cnf']);
  });
});

describe('exec --env', () => {
  // (--env-file is refused too, but Node 20 itself takes an --env-file anywhere in argv and exits 9)
  it.each([['--env', 'PW=db_pass'], ['-e', 'PW'], ['--env=PW']])('%s is refused with the reason and the idioms', async (...flag) => {
    const marker = path.join(t.dir, 'env-started');
    const r = await exec([...flag, '--', 'touch', marker]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^glassdome: exec does not put secrets in the environment \(-{1,2}e[a-z-]*\): any process of yours can read \/proc\/PID\/environ/);
    expect(r.stderr).toMatch(/\nglassdome: hint: give the tool a file instead: VAR_FILE=\{\{glassdome:NAME\}\}, a password command .*, or a wrapper that reads fd 3/);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
