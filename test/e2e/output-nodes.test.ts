// Commands that write a file the user names (backup -o, inject -o) write a temp file and rename it
// over the name. Run as root, `backup --force -o /dev/full` replaced the device node with the
// backup. The rename (writePrivateAtomic) now refuses any name that is not a regular file; these
// replay it with the real CLI and agent against nodes made in the test's own directory.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, unlockedEnv, type TestEnv } from '../helpers/cli.js';

let t: TestEnv;
beforeEach(async () => {
  t = await unlockedEnv();
  expect((await cli(t.env, ['set', 'db_password'], 's3cret')).code).toBe(0);
});
afterEach(() => t.cleanup());

/** A character device (1,7: what /dev/full is), a fifo, a symbolic link to a file, a directory: each with the check that it is still that. */
function nodes(): Array<[string, (st: fs.Stats) => boolean]> {
  const device = path.join(t.dir, 'full');
  const made = spawnSync('mknod', [device, 'c', '1', '7'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mknod (coreutils) could not make a device node: ${made.stderr}`);
  const fifo = path.join(t.dir, 'fifo');
  if (spawnSync('mkfifo', [fifo]).status !== 0) throw new Error('mkfifo (coreutils) failed');
  const target = path.join(t.dir, 'target');
  fs.writeFileSync(target, 'untouched\n');
  const link = path.join(t.dir, 'link');
  fs.symlinkSync(target, link);
  const dir = path.join(t.dir, 'dir');
  fs.mkdirSync(dir);
  return [
    [device, (st) => st.isCharacterDevice()],
    [fifo, (st) => st.isFIFO()],
    [link, (st) => st.isSymbolicLink()],
    [dir, (st) => st.isDirectory()],
  ];
}

describe('a written file never replaces a node that is not a regular file', () => {
  it('backup --force -o over a device node, a fifo, a symbolic link, a directory: exit 2, one line + hint, the node left as it was', async () => {
    for (const [file, stillIt] of nodes()) {
      const r = await cli(t.env, ['backup', '--force', '-o', file]);
      expect(r.code, `${file}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toBe(`glassdome: ${file} is not a regular file\nglassdome: hint: glassdome backup -o writes a new file, or replaces one with --force: name a file\n`);
      expect(stillIt(fs.lstatSync(file)), file).toBe(true);
    }
    expect(fs.readFileSync(path.join(t.dir, 'target'), 'utf8')).toBe('untouched\n');
    for (const name of fs.readdirSync(t.dir)) expect(name, 'a temp file left behind').not.toMatch(/\.tmp$/);
  });

  it('inject -o over a device node, a fifo, a symbolic link, a directory: exit 1, one line + hint, the node left as it was and no value written anywhere', async () => {
    const template = path.join(t.dir, 'app.tmpl');
    fs.writeFileSync(template, 'password={{glassdome:db_password}}\n');
    for (const [file, stillIt] of nodes()) {
      const r = await cli(t.env, ['inject', '-i', template, '-o', file]);
      expect(r.code, `${file}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toBe(`glassdome: ${file} is not a regular file (a device, a fifo, a symbolic link or a directory); it was not replaced\nglassdome: hint: name a regular file, or a new one\n`);
      expect(stillIt(fs.lstatSync(file)), file).toBe(true);
    }
    expect(fs.readFileSync(path.join(t.dir, 'target'), 'utf8')).toBe('untouched\n');
    for (const name of fs.readdirSync(t.dir)) expect(name, 'a temp file left behind').not.toMatch(/\.tmp$/);
    // A regular file is still replaced, 0600.
    const out = path.join(t.dir, 'app.conf');
    fs.writeFileSync(out, 'old\n');
    const ok = await cli(t.env, ['inject', '-i', template, '-o', out]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe('password=s3cret\n');
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
  });
});
