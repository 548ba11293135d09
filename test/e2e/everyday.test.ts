// The everyday commands users of pass, op and bw expect, through the real binary and a real
// agent: generate, edit (a real editor process: a shell script), cp/mv, import (.env, a Bitwarden
// export, a real pass store encrypted by Debian's gpg under a temporary GNUPGHOME), export, and
// the times in list --json.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandChars, randomChars } from '../../src/actions/generate.js';
import { cli, makeEnv, makeVault, startAgent, unlock, type TestEnv } from '../helpers/cli.js';

let t: TestEnv;
beforeEach(async () => {
  t = makeEnv();
  await startAgent(t.env);
  await makeVault(t);
  expect((await unlock(t.env)).code).toBe(0);
});
afterEach(() => t.cleanup());

async function value(name: string): Promise<string> {
  const r = await cli(t.env, ['get', '-n', name]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

async function names(): Promise<string[]> {
  return (await cli(t.env, ['list'])).stdout.split('\n').filter(Boolean);
}

describe('generate', () => {
  it('stores a value from the set, prints nothing unless --print, keeps an existing one unless --force', async () => {
    const quiet = await cli(t.env, ['generate', 'db_pass']);
    expect(quiet).toMatchObject({ code: 0, stdout: '' });
    expect(await value('db_pass')).toMatch(/^[A-Za-z0-9]{32}$/);
    const hex = await cli(t.env, ['generate', 'api_key', '--length', '48', '--chars', 'a-f0-9', '--print']);
    expect(hex.code).toBe(0);
    expect(hex.stdout).toMatch(/^[a-f0-9]{48}\n$/);
    expect(await value('api_key')).toBe(hex.stdout.trim());
    const before = await value('db_pass');
    const again = await cli(t.env, ['generate', 'db_pass']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
    expect(await value('db_pass')).toBe(before);
    expect((await cli(t.env, ['generate', 'db_pass', '--force'])).code).toBe(0);
    expect(await value('db_pass')).not.toBe(before);
    for (const bad of [['--length', '0'], ['--chars', 'a'], ['--chars', 'z-a'], ['--chars', 'a b']]) {
      expect((await cli(t.env, ['generate', 'x', ...bad])).code, bad.join(' ')).toBe(2);
    }
  });

  it('draws every character of the set, and only those (rejection sampling, no modulo bias)', () => {
    const chars = expandChars('a-z0-9_');
    expect(chars).toHaveLength(37);
    const sample = Buffer.from(randomChars(37 * 400, chars)).toString('latin1');
    expect(new Set(sample)).toEqual(new Set(chars));
  });
});

describe('edit', () => {
  /** An editor (a real process) that records where it was asked to edit, then writes `text`. */
  function editor(text: string, status = 0): { env: NodeJS.ProcessEnv; seen: string } {
    const seen = path.join(t.dir, 'editor-saw');
    const script = path.join(t.dir, 'editor.sh');
    fs.writeFileSync(
      script,
      `#!/bin/sh\n{ echo "$1"; stat -c %a "$(dirname "$1")"; stat -c %a "$1"; stat -f -c %T "$1"; cat "$1"; } > '${seen}'\nprintf '%s' '${text}' > "$1"\nexit ${status}\n`,
      { mode: 0o755 },
    );
    return { env: { ...t.env, EDITOR: script, VISUAL: '' }, seen };
  }

  it('with neither VISUAL nor EDITOR and no terminal, refuses at once (exit 2) instead of leaving vi waiting', async () => {
    const env = { ...t.env, VISUAL: '', EDITOR: '' };
    const r = await cli(env, ['edit', 'cfg'], undefined, 20_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('glassdome: no editor to run: VISUAL and EDITOR are unset, and there is no terminal for vi\nglassdome: hint: set one (EDITOR=nano glassdome edit cfg), or store the value with: glassdome set cfg\n');
  });

  it('hands the value to $EDITOR in a 0700 directory on a tmpfs and wipes it afterwards', async () => {
    expect((await cli(t.env, ['set', 'cfg'], 'old-value')).code).toBe(0);
    const { env, seen } = editor('new-value\n');
    const r = await cli(env, ['edit', 'cfg']);
    expect(r.code, r.stderr).toBe(0);
    const [file, dirMode, fileMode, fsType, ...content] = fs.readFileSync(seen, 'utf8').split('\n');
    expect([dirMode, fileMode, fsType]).toEqual(['700', '600', 'tmpfs']);
    expect(content.join('\n')).toBe('old-value');
    expect(fs.existsSync(file!)).toBe(false);
    expect(fs.existsSync(path.dirname(file!))).toBe(false);
    expect(await value('cfg')).toBe('new-value');
  });

  it('a new name starts empty; a failing editor or an unchanged file stores nothing', async () => {
    const { env } = editor('line1\nline2\n');
    expect((await cli(env, ['edit', 'notes/wifi'])).code).toBe(0);
    expect(await value('notes/wifi')).toBe('line1\nline2\n');
    const failing = editor('changed', 1);
    const r = await cli(failing.env, ['edit', 'notes/wifi']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nothing was stored');
    expect(await value('notes/wifi')).toBe('line1\nline2\n');
    const same = await cli(editor('line1\nline2\n').env, ['edit', 'notes/wifi']);
    expect(same.stderr).toContain('unchanged');
  });
});

describe('cp and mv', () => {
  it('copy and rename, refusing to replace without --force', async () => {
    await cli(t.env, ['set', 'a'], 'va');
    await cli(t.env, ['set', 'b'], 'vb');
    expect((await cli(t.env, ['cp', 'a', 'c'])).code).toBe(0);
    expect(await value('c')).toBe('va');
    const clash = await cli(t.env, ['mv', 'a', 'b']);
    expect(clash.code).toBe(1);
    expect(await value('b')).toBe('vb');
    expect((await cli(t.env, ['mv', '--force', 'a', 'b'])).code).toBe(0);
    expect(await value('b')).toBe('va');
    expect(await names()).toEqual(['b', 'c']);
    expect((await cli(t.env, ['mv', 'nope', 'x'])).code).toBe(3);
  });
});

describe('import', () => {
  it('.env: dry run first, then one write; a clash or a bad line stores nothing', async () => {
    const env = path.join(t.dir, 'app.env');
    fs.writeFileSync(env, "# comment\nexport DB_USER=admin\nDB_PASS='it''s \"q\"' # trailing comment\nURL=\"a\\nb\"\n\nEMPTY=\n");
    const dry = await cli(t.env, ['import', 'env', env, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe('new     DB_USER\nnew     DB_PASS\nnew     URL\nnew     EMPTY\n');
    expect(await names()).toEqual([]);
    const bad = path.join(t.dir, 'bad.env');
    fs.writeFileSync(bad, 'GOOD=1\nthis line is wrong\n');
    const refused = await cli(t.env, ['import', 'env', bad]);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('line 2');
    expect(await names()).toEqual([]);
  });

  it('.env values land byte for byte; existing names need --force', async () => {
    const env = path.join(t.dir, 'app.env');
    fs.writeFileSync(env, "DB_USER=admin\nDB_PASS='it''s \"q\"'\nURL=\"a\\nb\"\n");
    await cli(t.env, ['set', 'DB_USER'], 'keep');
    const clash = await cli(t.env, ['import', 'env', env]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain('DB_USER');
    expect(await names()).toEqual(['DB_USER']);
    expect((await cli(t.env, ['import', 'env', env, '--force'])).code).toBe(0);
    expect(await value('DB_USER')).toBe('admin');
    expect(await value('DB_PASS')).toBe('its "q"');
    expect(await value('URL')).toBe('a\nb');
  });

  it('a Bitwarden JSON export: password, username, totp, notes and custom fields', async () => {
    const file = path.join(t.dir, 'bw.json');
    const items = [
      { type: 1, name: 'Proxmox', login: { username: 'root@pam', password: 'hunter2', totp: null }, notes: null, fields: [{ name: 'api token', value: 'tok', type: 0 }] },
      { type: 2, name: 'Server notes', notes: 'line1\nline2', login: null },
    ];
    fs.writeFileSync(file, JSON.stringify({ encrypted: false, folders: [], items }));
    const r = await cli(t.env, ['import', 'bitwarden', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(await names()).toEqual(['Proxmox', 'Proxmox/api_token', 'Proxmox/username', 'Server_notes/notes']);
    expect(await value('Proxmox')).toBe('hunter2');
    expect(await value('Server_notes/notes')).toBe('line1\nline2');
    fs.writeFileSync(file, JSON.stringify({ encrypted: true, data: 'x' }));
    expect((await cli(t.env, ['import', 'bitwarden', file])).code).toBe(2);
  });

  it('a pass store, decrypted by the real gpg', async () => {
    const gnupg = path.join(t.dir, 'gnupg');
    fs.mkdirSync(gnupg, { mode: 0o700 });
    const gpgEnv = { ...t.env, GNUPGHOME: gnupg };
    const gpg = (args: string[], input?: string): string => {
      const r = spawnSync('gpg', ['--batch', '--quiet', ...args], { env: gpgEnv, input, encoding: 'utf8' });
      if (r.error) throw new Error('gpg is required for the pass import test (apt-get install gnupg)');
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    try {
      gpg(['--passphrase', '', '--quick-generate-key', 'glassdome test <test@glassdome.invalid>', 'default', 'default', 'never']);
      const store = path.join(t.dir, 'password-store');
      fs.mkdirSync(path.join(store, 'web'), { recursive: true });
      fs.writeFileSync(path.join(store, '.gpg-id'), 'test@glassdome.invalid\n');
      for (const [name, text] of [['email', 'mail-pw\n'], ['web/forum', 'forum-pw\nuser: me\n']] as const) {
        gpg(['--yes', '--trust-model', 'always', '-r', 'test@glassdome.invalid', '-o', path.join(store, `${name}.gpg`), '--encrypt'], text);
      }
      const r = await cli(gpgEnv, ['import', 'pass', store]);
      expect(r.code, r.stderr).toBe(0);
      expect(await names()).toEqual(['email', 'web/forum']);
      expect(await value('email')).toBe('mail-pw');
      expect(await value('web/forum')).toBe('forum-pw\nuser: me\n');
    } finally {
      spawnSync('gpgconf', ['--kill', 'all'], { env: gpgEnv });
    }
  });
});

describe('export and list --json', () => {
  it('export needs --stdout; JSON and env formats; list --json carries created and updated', async () => {
    await cli(t.env, ['set', 'DB_USER'], 'admin');
    await cli(t.env, ['set', 'DB_PASS'], "it's");
    const refused = await cli(t.env, ['export']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('--stdout');
    const json = await cli(t.env, ['export', '--stdout']);
    expect(JSON.parse(json.stdout)).toEqual({ DB_PASS: "it's", DB_USER: 'admin' });
    const env = await cli(t.env, ['export', '--stdout', '--format', 'env']);
    expect(env.stdout).toBe("DB_PASS='it'\\''s'\nDB_USER='admin'\n");
    const sourced = spawnSync('/bin/sh', ['-c', `${env.stdout}\nprintf %s "$DB_PASS"`], { encoding: 'utf8' });
    expect(sourced.stdout).toBe("it's");
    const listed = JSON.parse((await cli(t.env, ['list', '--json'])).stdout) as Array<{ name: string; created: string; updated: string }>;
    expect(listed.map((e) => e.name)).toEqual(['DB_PASS', 'DB_USER']);
    for (const e of listed) {
      expect(Date.parse(e.created)).toBeGreaterThan(Date.now() - 600_000);
      expect(e.updated >= e.created).toBe(true);
    }
    const createdBefore = listed[1]!.created;
    await new Promise((r) => setTimeout(r, 5));
    await cli(t.env, ['set', 'DB_USER'], 'root');
    const after = JSON.parse((await cli(t.env, ['list', '--json'])).stdout) as typeof listed;
    expect(after[1]!.created).toBe(createdBefore);
    expect(after[1]!.updated > createdBefore).toBe(true);
  });
});
