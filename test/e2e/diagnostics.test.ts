// The wrong states a new user meets first, each answered with one line naming the real cause and
// a hint that fits the state, through the real binary and a real agent: no vault yet (with and
// without an agent), GLASSDOME_HOME naming a file, a vault directory opened to others (refused by
// every command and by the agent itself, for a client speaking the wire), and init's next step.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, makeEnv, makeVault, python, startAgent, unlock, type TestEnv } from '../helpers/cli.js';

/** Sends each request of argv[1] (a JSON list) to the agent on its own line; prints "op code" per reply. */
const WIRE = [
  'import json, os, socket, sys',
  's = socket.socket(socket.AF_UNIX); s.connect(os.environ["GLASSDOME_AUTH_SOCK"]); f = s.makefile("rwb")',
  'for i, r in enumerate(json.loads(sys.argv[1])):',
  '    f.write(json.dumps(dict(r, v=1, id=i)).encode() + b"\\n"); f.flush()',
  '    reply = json.loads(f.readline())',
  '    print(r["op"], "served" if reply["ok"] else reply["error"]["code"])',
].join('\n');

let t: TestEnv;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => t.cleanup());

function expectOneLine(stderr: string, message: RegExp, hint: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(2);
  expect(lines[0]).toMatch(message);
  expect(lines[1]).toMatch(hint);
  expect(stderr).not.toMatch(/EEXIST|ENOTDIR|\n\s+at /);
}

describe('no vault yet', () => {
  it('get and list before init say "no vault" and send to init, without an agent', async () => {
    for (const args of [['get', 'x'], ['list'], ['rm', 'x'], ['exec', '--', 'true']]) {
      const r = await cli(t.env, args);
      expect(r.code, args[0]).toBe(1);
      expectOneLine(r.stderr, new RegExp(`^glassdome: no vault at ${t.home}$`), /^glassdome: hint: create one: glassdome init$/);
    }
  });

  it('the same with an agent running, and the agent itself says so over the wire', async () => {
    await startAgent(t.env);
    for (const args of [['get', 'x'], ['list'], ['unlock', '--password-stdin']]) {
      const r = await cli(t.env, args, 'pw');
      expect(r.code, args[0]).toBe(1);
      expectOneLine(r.stderr, new RegExp(`^glassdome: no vault at ${t.home}$`), /^glassdome: hint: create one: glassdome init$/);
    }
    const wire = python(WIRE, [JSON.stringify([{ op: 'get', name: 'x' }])], t.env);
    expect(wire.stdout.trim(), wire.stderr).toBe('get no_vault');
  });
});

describe('GLASSDOME_HOME naming a file', () => {
  it('every command says it is not a directory, in one line, with the fix', async () => {
    const file = path.join(t.dir, 'a-file');
    fs.writeFileSync(file, 'x');
    for (const home of [file, path.join(file, 'sub')]) {
      const env = { ...t.env, GLASSDOME_HOME: home };
      for (const args of [['init', '--password-stdin'], ['get', 'x'], ['status'], ['unlock', '--password-stdin']]) {
        const r = await cli(env, args, 'pw');
        expect(r.code, `${home} ${args[0]}`).toBe(1);
        expectOneLine(r.stderr, new RegExp(`^glassdome: ${home} is not a directory, so it cannot hold a vault$`), /^glassdome: hint: point GLASSDOME_HOME at a directory/);
      }
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });
});

describe('a vault directory open to others (0755)', () => {
  it('is refused by every command and by the agent for get, list and set, whoever asks', async () => {
    await startAgent(t.env);
    await makeVault(t);
    expect((await unlock(t.env)).code).toBe(0);
    expect((await cli(t.env, ['set', 'a'], 'v')).code).toBe(0);
    fs.chmodSync(t.home, 0o755);
    const refused = new RegExp(`^glassdome: ${t.home} is accessible by others \\(mode 0755\\)$`);
    for (const args of [['get', 'a'], ['list'], ['set', 'b'], ['rm', 'a'], ['exec', '--', 'true'], ['status'], ['unlock', '--password-stdin']]) {
      const r = await cli(t.env, args, 'v');
      expect(r.code, args[0]).toBe(1);
      expectOneLine(r.stderr, refused, new RegExp(`^glassdome: hint: chmod 700 ${t.home}$`));
    }
    // The agent refuses too, for a client that does not check first (the Python client speaks the wire).
    const wire = python(WIRE, [JSON.stringify([{ op: 'get', name: 'a' }, { op: 'list' }, { op: 'set', name: 'b', value: 'dg==' }])], t.env);
    expect(wire.stdout.trim().split('\n'), wire.stderr).toEqual(['get insecure_file', 'list insecure_file', 'set insecure_file']);
    fs.chmodSync(t.home, 0o700);
    expect(await cli(t.env, ['list'])).toMatchObject({ code: 0, stdout: 'a\n' });
  });
});

describe('init', () => {
  it('hints to start an agent only when none runs', async () => {
    const alone = await cli(t.env, ['init', '--password-stdin'], 'pw');
    expect(alone.code).toBe(0);
    expect(alone.stderr).toContain('hint: next: eval "$(glassdome agent)"; glassdome unlock');
    fs.rmSync(t.home, { recursive: true });
    await startAgent(t.env);
    const withAgent = await cli(t.env, ['init', '--password-stdin'], 'pw');
    expect(withAgent.code).toBe(0);
    expect(withAgent.stderr).toMatch(/hint: next: glassdome unlock\n$/);
  });
});
