// Help that helps, through the real binary: help [COMMAND], -v/--version/version, "did you mean"
// for a mistyped command or flag (never an internal id like "gte:foo"), exec's usage line, and
// every example in every command's help: each glassdome invocation in it parses against that
// command's real flags and arguments (oclif's own parser), and the safe ones run for real.

import fs from 'node:fs';
import path from 'node:path';
import { Flags, Parser } from '@oclif/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseExecArgs } from '../../src/cli/fast.js';
import { cli, makeEnv, makeVault, startAgent, unlock, type TestEnv } from '../helpers/cli.js';

const ROOT = path.join(__dirname, '../..');

let t: TestEnv;
beforeEach(() => {
  t = makeEnv();
});
afterEach(() => t.cleanup());

describe('help and version', () => {
  it('help, help COMMAND, -h, -v, --version and version work', async () => {
    const top = await cli(t.env, ['help']);
    expect(top.code).toBe(0);
    for (const command of ['get', 'set', 'exec', 'unlock', 'agent', 'python-path']) expect(top.stdout).toContain(command);
    const exec = await cli(t.env, ['help', 'exec']);
    expect(exec.code).toBe(0);
    expect(exec.stdout).toMatch(/USAGE\s+\$ glassdome exec \[-s NAME\]\.\.\. \[--keep-agent\] \[--mask\] -- CMD\s+\[ARGS\]/);
    expect((await cli(t.env, ['exec', '--help'])).stdout).toContain('-- CMD');
    expect((await cli(t.env, ['get', '-h'])).stdout).toContain('$ glassdome get NAME');
    for (const args of [['-v'], ['--version'], ['version']]) {
      const r = await cli(t.env, args);
      expect(r.code, args[0]).toBe(0);
      expect(r.stdout, args[0]).toMatch(/^glassdome\/0\.\d+\.\d+ linux-\w+ node-v\d+/);
    }
  });

  it('a mistyped command gets "did you mean", with the words as typed and exit 2', async () => {
    const r = await cli(t.env, ['gte', 'foo']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('glassdome: "gte" is not a glassdome command\nglassdome: hint: did you mean: glassdome get foo\n');
    expect(r.stderr).not.toContain(':foo');
    const two = await cli(t.env, ['policy', 'chek', 'x']);
    expect(two.stderr).toContain('"policy chek" is not a glassdome command');
    expect(two.stderr).toContain('did you mean: glassdome policy check x');
    const far = await cli(t.env, ['frobnicate']);
    expect(far.code).toBe(2);
    expect(far.stderr).toBe('glassdome: "frobnicate" is not a glassdome command\nglassdome: hint: see the commands: glassdome help\n');
    const help = await cli(t.env, ['help', 'lsit']);
    expect(help.code).toBe(2);
    expect(help.stderr).toContain('did you mean: glassdome help list');
  });

  it('a mistyped flag gets the nearest flag of that command', async () => {
    const r = await cli(t.env, ['get', '--nonewline', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('glassdome: nonexistent flag: --nonewline\nglassdome: hint: did you mean --no-newline? see: glassdome get --help\n');
    const far = await cli(t.env, ['list', '--bogus']);
    expect(far.stderr).toContain('hint: see: glassdome list --help');
  });
});

describe('usage errors', () => {
  it('a missing required flag and a flag value out of range are named in one line, with the help hint', async () => {
    // oclif says "The following error occurred:" (one error) and "Parsing --length" on a line of its
    // own; before, these came out as "the following error occurred: Missing" and "parsing --length".
    const backup = await cli(t.env, ['backup']);
    expect(backup.code).toBe(2);
    expect(backup.stderr).toBe('glassdome: missing required flag output\nglassdome: hint: see: glassdome backup --help\n');
    const issue = await cli(t.env, ['ca', 'issue']);
    expect(issue.code).toBe(2);
    expect(issue.stderr).toBe('glassdome: missing required flag cn\nglassdome: hint: see: glassdome ca issue --help\n');
    const length = await cli(t.env, ['generate', 'x', '--length', '0']);
    expect(length.code).toBe(2);
    expect(length.stderr).toBe('glassdome: --length: expected an integer greater than or equal to 1 but received: 0\nglassdome: hint: see: glassdome generate --help\n');
  });

  it('a file to read that is not there is not found (exit 3), with a hint about that file', async () => {
    const missing = `${t.dir}/nowhere`;
    const restore = await cli(t.env, ['restore', missing, '--password-stdin'], 'pw');
    expect(restore.code).toBe(3);
    expect(restore.stderr).toBe(`glassdome: no file ${missing}\nglassdome: hint: name a file glassdome backup -o FILE wrote\n`);
    const imported = await cli(t.env, ['import', 'env', missing]);
    expect(imported.code).toBe(3);
    expect(imported.stderr).toBe(`glassdome: cannot read ${missing}: no such file or directory\nglassdome: hint: give the path of the file to import\n`);
  });
});

/** The glassdome invocations inside one example line (in command position), as argv (shell quotes removed). */
function invocations(example: string): string[][] {
  const out: string[][] = [];
  for (const match of example.matchAll(/(^|\$\(|[|;&]\s*|\S+=\S+\s+|=['"]|['"]!)glassdome((?: +(?:"[^"]*"|'[^']*'|(?:[^\s|;)#<>'"$]|\$\([^)]*\)|\$(?!\())+))*)/g)) {
    const words = [...match[2]!.matchAll(/"([^"]*)"|'([^']*)'|((?:[^\s$]|\$\([^)]*\)|\$)+)/g)].map((w) => w[1] ?? w[2] ?? w[3]!);
    // '!glassdome git-credential': git runs a helper with the operation appended, as here.
    out.push(match[1]!.endsWith('!') ? [...words, 'get'] : words);
  }
  return out;
}

describe('examples', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, { examples?: Array<string | { command: string }>; relativePath: string[] }>;
  };

  it('every glassdome invocation in every example parses against its command', async () => {
    let checked = 0;
    for (const [id, entry] of Object.entries(manifest.commands)) {
      const Command = require(path.join(ROOT, ...entry.relativePath)).default;
      for (const raw of entry.examples ?? []) {
        const example = (typeof raw === 'string' ? raw : raw.command).replaceAll('<%= config.bin %>', 'glassdome');
        const found = invocations(example);
        expect(found.length, `${id}: ${example}`).toBeGreaterThan(0);
        for (const argv of found) {
          const words = id.split(':');
          expect(argv.slice(0, words.length), example).toEqual(words);
          const rest = argv.slice(words.length);
          if (id === 'exec') expect(parseExecArgs(rest), example).not.toBeNull();
          else await expect(Parser.parse(rest, { flags: { ...Command.flags, ...(Command.enableJsonFlag ? { json: Flags.boolean() } : {}) }, args: Command.args ?? {}, strict: Command.strict ?? true }), example).resolves.toBeDefined();
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('the examples of get, set, list, version, help and python-path run', async () => {
    await startAgent(t.env);
    await makeVault(t);
    expect((await unlock(t.env)).code).toBe(0);
    expect((await cli(t.env, ['set', 'proxmox_password'], 'hunter2')).code).toBe(0);
    expect((await cli(t.env, ['get', 'proxmox_password'])).stdout).toBe('hunter2\n');
    for (const args of [['help'], ['help', 'exec'], ['help', 'policy', 'check'], ['version'], ['python-path']]) {
      expect((await cli(t.env, args)).code, args.join(' ')).toBe(0);
    }
  });
});
