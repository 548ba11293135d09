// Shell completion through the real shells: the script `glassdome completion SHELL` prints is
// loaded into Debian's bash, zsh (bashcompinit) and fish, and completions are asked the way each
// shell asks them (bash: COMP_WORDS/COMP_CWORD and the registered function; fish: complete -C).
// Secret names come from the real agent through `glassdome list`.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, makeEnv, makeVault, startAgent, unlock, type TestEnv } from '../helpers/cli.js';

let t: TestEnv;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  t = makeEnv();
  const bin = path.join(t.dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'glassdome'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, { mode: 0o755 });
  env = { ...t.env, PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: t.dir, XDG_CONFIG_HOME: path.join(t.dir, 'config'), XDG_DATA_HOME: path.join(t.dir, 'data') };
  await startAgent(env);
  t.env.GLASSDOME_AGENT_PID = env.GLASSDOME_AGENT_PID; // so cleanup stops it
  await makeVault(t);
  expect((await unlock(env)).code).toBe(0);
  for (const name of ['db_pass', 'db_user', 'proxmox_password']) expect((await cli(env, ['set', name], 'v')).code).toBe(0);
});
afterAll(() => t.cleanup());

function shell(program: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  for (const p of [`/usr/bin/${program}`, `/bin/${program}`]) {
    if (fs.existsSync(p)) {
      const r = spawnSync(p, args, { env, cwd: t.dir, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    }
  }
  throw new Error(`${program} is required for the completion tests (apt-get install ${program})`);
}

/** Bash: load the script as ~/.bashrc would, then call the registered function on COMP_WORDS. */
function bashComplete(words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const script = `eval "$(glassdome completion bash)"; f=$(complete -p glassdome | sed -n 's/.*-F \\([^ ]*\\) glassdome$/\\1/p'); COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; "$f"; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = shell('bash', ['--norc', '--noprofile', '-i', '-c', script]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('completion', () => {
  it('bash: registered with complete -F; commands, subcommands, flags and secret names', () => {
    const registered = shell('bash', ['--norc', '--noprofile', '-i', '-c', 'eval "$(glassdome completion bash)"; complete -p glassdome']);
    expect(registered.stdout).toMatch(/^complete -o default -F \S+ glassdome$/m);
    expect(bashComplete(['glassdome', 'ge'])).toEqual(['generate', 'get']);
    expect(bashComplete(['glassdome', 'imp'])).toEqual(['import']);
    expect(bashComplete(['glassdome', 'p'])).toEqual(['passwd', 'policy', 'python-path']);
    expect(bashComplete(['glassdome', 'policy', ''])).toEqual(['apply', 'check']);
    expect(bashComplete(['glassdome', 'get', '--no'])).toEqual(['--no-newline']);
    expect(bashComplete(['glassdome', 'exec', '--'])).toEqual(expect.arrayContaining(['--secret', '--keep-agent', '--mask']));
    expect(bashComplete(['glassdome', 'get', 'db'])).toEqual(['db_pass', 'db_user']);
    expect(bashComplete(['glassdome', 'rm', 'prox'])).toEqual(['proxmox_password']);
  });

  it('zsh: the same function through bashcompinit (zsh filters the candidates itself)', () => {
    const script = `autoload -U +X compinit && compinit -u; eval "$(glassdome completion zsh)"; setopt ksharrays; COMP_WORDS=(glassdome get ''); COMP_CWORD=2; _glassdome_complete; print -rl -- "\${COMPREPLY[@]}"; COMP_WORDS=(glassdome policy ''); COMP_CWORD=2; _glassdome_complete; print -rl -- "\${COMPREPLY[@]}"`;
    const r = shell('zsh', ['-f', '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['db_pass', 'db_user', 'proxmox_password', 'apply', 'check']);
  });

  it('fish: complete -C answers commands with their summaries, flags and secret names', () => {
    const r = shell('fish', ['--no-config', '-c', 'glassdome completion fish | source; complete -C "glassdome get"; complete -C "glassdome get --no"; complete -C "glassdome get db"; complete -C "glassdome policy "']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'get\tPrint the value of a secret',
      '--no-newline\tno newline after the value',
      'db_pass\tsecret',
      'db_user\tsecret',
      expect.stringMatching(/^apply\t/),
      expect.stringMatching(/^check\t/),
    ]);
  });

  it('an unknown shell is a usage error naming the three', async () => {
    const r = await cli(env, ['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bash, zsh, fish/);
  });
});
