// The pure pieces of exec, inject and git-credential: placeholders and templates, fd 3's JSON with
// its tagged binary form, and the gitcredentials(7) parsing and naming.
import { describe, expect, it } from 'vitest';
import { placeholders, renderTemplate, substitute, templateNames } from '../../src/exec/placeholders.js';
import { secretsJson, utf8OrNull } from '../../src/exec/secrets-json.js';
import { answers, credentialSecretName, parseCredential, storedValue } from '../../src/git/credential.js';

describe('placeholders', () => {
  it('finds secrets and templates once each, in order, and substitutes their descriptors', () => {
    const argv = ['--a={{glassdome:x}}', '{{glassdome-template:/t/my.cnf}}', 'b{{glassdome:y}}c{{glassdome:x}}'];
    const found = placeholders(argv);
    expect(found.map((p) => p.key)).toEqual(['secret:x', 'template:/t/my.cnf', 'secret:y']);
    const fdOf = new Map(found.map((p, i) => [p.key, 4 + i]));
    expect(substitute(argv, fdOf)).toEqual(['--a=/dev/fd/4', '/dev/fd/5', 'b/dev/fd/6c/dev/fd/4']);
  });

  it('refuses a bad name or an empty template path', () => {
    expect(() => placeholders(['{{glassdome:../x}}'])).toThrow(/not an allowed secret name/);
    expect(() => placeholders(['{{glassdome-template:}}'])).toThrow(/needs a path/);
  });
});

describe('templates', () => {
  it('fills references with the values’ bytes and keeps every other byte, binary included', () => {
    const template = Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('pw={{glassdome:a}};{{glassdome:b}}{{glassdome:a}}\n')]);
    expect(templateNames(template)).toEqual(['a', 'b']);
    const values = new Map([
      ['a', Buffer.from([0x80, 0x0a])],
      ['b', Buffer.from('é')],
    ]);
    expect(renderTemplate(template, values)).toEqual(Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('pw='), Buffer.from([0x80, 0x0a]), Buffer.from(';é'), Buffer.from([0x80, 0x0a, 0x0a])]));
    expect(renderTemplate(Buffer.from('no references'), new Map()).toString()).toBe('no references');
  });
});

describe("fd 3's JSON", () => {
  it('text is a string (a BOM kept); anything else is {"base64": ...}', () => {
    const values = new Map([
      ['text', Buffer.from('\ufeffhé\n')],
      ['bin', Buffer.from([0xff, 0xfe, 0x00])],
      ['half', Buffer.from([0xc3])],
    ]);
    expect(JSON.parse(secretsJson(['text', 'bin', 'half'], values).toString())).toEqual({ text: '\ufeffhé\n', bin: { base64: '//4A' }, half: { base64: 'ww==' } });
    expect(secretsJson([], values).toString()).toBe('{}');
    expect(utf8OrNull(Buffer.from([0xed, 0xa0, 0x80]))).toBeNull(); // a lone surrogate is not UTF-8
  });
});

describe('git credentials', () => {
  it('parses key=value lines up to the blank line and ignores unknown keys', () => {
    expect(parseCredential('protocol=https\r\nhost=h:8443\ncapability[]=authtype\nusername=me\n\npassword=after\n')).toEqual({ protocol: 'https', host: 'h:8443', username: 'me' });
    expect(() => parseCredential('garbage\n')).toThrow(/not key=value/);
  });

  it('names the secret git/<protocol>/<host>[/<path>] with unsafe characters as _', () => {
    expect(credentialSecretName({ protocol: 'https', host: 'git.example.com' })).toBe('git/https/git.example.com');
    expect(credentialSecretName({ protocol: 'https', host: 'h:8443', path: 'org/repo.git' })).toBe('git/https/h_8443/org/repo.git');
    expect(() => credentialSecretName({ host: 'h' })).toThrow(/no protocol or host/);
  });

  it('stores username and password lines; answers only the same username', () => {
    const stored = parseCredential(storedValue({ username: 'me', password: 'p=w' }));
    expect(stored).toEqual({ username: 'me', password: 'p=w' });
    expect(answers({ protocol: 'https', host: 'h' }, stored)).toBe(true);
    expect(answers({ username: 'me' }, stored)).toBe(true);
    expect(answers({ username: 'you' }, stored)).toBe(false);
  });
});
