import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { parseLifetime } from '../../src/cli/duration.js';
import { LEAN_SPECS, parseExecArgs, parseSpec } from '../../src/cli/fast.js';
import { exportCode, guessShell, unsetCode } from '../../src/actions/agent.js';
import { exitStatus, ERROR_CODES } from '../../src/errors.js';
import { VERSION } from '../../src/version.js';
import { homeDir, vaultHome } from '../../src/store/paths.js';
import os from 'node:os';

describe('lifetimes', () => {
  it('parses units and bare seconds', () => {
    expect(parseLifetime('8h')).toBe(28800);
    expect(parseLifetime('1h30m')).toBe(5400);
    expect(parseLifetime('90')).toBe(90);
    expect(parseLifetime('2d')).toBe(172800);
    for (const bad of ['', '0', '8x', '-1h', '31d', 'h']) expect(() => parseLifetime(bad), bad).toThrow();
  });
});

describe('lean entry', () => {
  it('takes only exact shapes and leaves the rest to oclif', () => {
    expect(parseSpec(LEAN_SPECS.get!, ['x', '-n'])).toEqual({ flags: { 'no-newline': true }, args: ['x'] });
    expect(parseSpec(LEAN_SPECS.get!, ['x', '--help'])).toBeNull();
    expect(parseSpec(LEAN_SPECS.get!, [])).toBeNull();
    expect(parseSpec(LEAN_SPECS.get!, ['x', '-n', '-n'])).toBeNull();
    expect(parseSpec(LEAN_SPECS.unlock!, ['--lifetime=30m', '--password-stdin'])).toEqual({ flags: { lifetime: '30m', 'password-stdin': true }, args: [] });
    expect(parseSpec(LEAN_SPECS.agent!, ['-s', '-c'])).toBeNull();
    expect(parseSpec(LEAN_SPECS.agent!, ['-a', '/tmp/x.sock', '-D'])).toEqual({ flags: { address: '/tmp/x.sock', foreground: true }, args: [] });
    expect(parseExecArgs(['-s', 'a', '--mask', '--', 'cat', '-n'])).toEqual({ secrets: ['a'], keepAgent: false, mask: true, argv: ['cat', '-n'] });
    expect(parseExecArgs(['python', '-c', 'x'])).toEqual({ secrets: [], keepAgent: false, mask: false, argv: ['python', '-c', 'x'] });
    expect(parseExecArgs(['--bogus', 'x'])).toBeNull();
    expect(parseExecArgs(['-s', 'a'])).toBeNull();
  });

  it('declares the same flags as the oclif commands (oclif.manifest.json)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '../../oclif.manifest.json'), 'utf8'));
    for (const [name, spec] of Object.entries(LEAN_SPECS)) {
      const cmd = manifest.commands[name];
      expect(cmd, name).toBeDefined();
      const oclifFlags = Object.entries(cmd.flags as Record<string, { char?: string; type: string }>).filter(([f]) => f !== 'help');
      expect(Object.keys(spec.flags).sort(), name).toEqual(oclifFlags.map(([f]) => f).sort());
      for (const [flag, def] of oclifFlags) {
        expect(spec.flags[flag]!.char, `${name} --${flag}`).toBe(def.char);
        expect(!!spec.flags[flag]!.value, `${name} --${flag}`).toBe(def.type === 'option');
      }
      expect(Object.keys(cmd.args ?? {}).length, name).toBe(spec.args);
    }
    expect(manifest.commands.agent.flags.lifetime.default).toBe('8h');
    const execFlags = Object.keys(manifest.commands.exec.flags).filter((f) => f !== 'help').sort();
    expect(execFlags).toEqual(['keep-agent', 'mask', 'secret']);
  });
});

describe('agent shell code', () => {
  it('speaks sh, csh and fish, quoting odd paths', () => {
    expect(exportCode('sh', '/run/a.sock', 12)).toBe('GLASSDOME_AUTH_SOCK=/run/a.sock; export GLASSDOME_AUTH_SOCK;\nGLASSDOME_AGENT_PID=12; export GLASSDOME_AGENT_PID;\n');
    expect(exportCode('csh', '/run/a.sock', 12)).toBe('setenv GLASSDOME_AUTH_SOCK /run/a.sock;\nsetenv GLASSDOME_AGENT_PID 12;\n');
    expect(exportCode('fish', '/run/a.sock', 12)).toBe('set -gx GLASSDOME_AUTH_SOCK /run/a.sock;\nset -gx GLASSDOME_AGENT_PID 12;\n');
    expect(exportCode('sh', "/tmp/it's here.sock", 1)).toContain(`'/tmp/it'\\''s here.sock'`);
    expect(unsetCode('csh')).toContain('unsetenv GLASSDOME_AUTH_SOCK');
    expect(guessShell('/usr/bin/tcsh')).toBe('csh');
    expect(guessShell('/usr/local/bin/fish')).toBe('fish');
    expect(guessShell(undefined)).toBe('sh');
  });
});

describe('error codes', () => {
  it('map to the exit statuses of the contract', () => {
    const expected: Record<string, number> = { usage: 2, invalid_name: 2, not_found: 3, locked: 4, expired: 4, no_agent: 4, keyring_unavailable: 4, denied: 5, rate_limited: 5, corrupt: 6, tampered: 6, bad_password: 1, no_keyholder: 1 };
    for (const code of ERROR_CODES) expect(exitStatus(code), code).toBe(expected[code] ?? 1);
  });
  it('VERSION matches package.json', () => {
    expect(VERSION).toBe(JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')).version);
  });
});

describe('the default vault home', () => {
  it('is under $HOME when set, as os.homedir() says, and under the password database entry when not', () => {
    const saved = process.env.HOME;
    try {
      process.env.HOME = '/srv/someone';
      expect(homeDir()).toBe(os.homedir());
      expect(vaultHome({})).toBe('/srv/someone/.glassdome');
      delete process.env.HOME;
      expect(homeDir()).toBe(os.userInfo().homedir);
      expect(homeDir()).toBe(os.homedir());
      expect(vaultHome({})).toBe(path.join(os.userInfo().homedir, '.glassdome'));
      expect(vaultHome({ GLASSDOME_HOME: 'rel/vault' })).toBe(path.resolve('rel/vault'));
    } finally {
      if (saved === undefined) delete process.env.HOME;
      else process.env.HOME = saved;
    }
  });
});
