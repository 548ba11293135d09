import { describe, expect, it } from 'vitest';
import { Masker, CONCEALED } from '../../src/exec/mask.js';

async function run(values: string[], chunks: string[]): Promise<{ out: string; pushes: string[] }> {
  const m = new Masker(values.map((v) => Buffer.from(v)));
  const pushes: string[] = [];
  m.on('data', (c: Buffer) => pushes.push(c.toString()));
  const done = new Promise((r) => m.on('end', r));
  for (const c of chunks) m.write(Buffer.from(c));
  m.end();
  await done;
  return { out: pushes.join(''), pushes };
}

const C = CONCEALED.toString();

describe('Masker', () => {
  it('conceals values whole, in one chunk or split at every position', async () => {
    expect((await run(['secret'], ['a secret b'])).out).toBe(`a ${C} b`);
    const text = 'x secret y secret';
    for (let i = 0; i <= text.length; i++) {
      expect((await run(['secret'], [text.slice(0, i), text.slice(i)])).out, `split at ${i}`).toBe(`x ${C} y ${C}`);
    }
    expect((await run(['secret'], [...'a secret'])).out).toBe(`a ${C}`);
  });

  it('prefers the leftmost, then the longest value', async () => {
    expect((await run(['abc', 'abcdef'], ['xabcdefx'])).out).toBe(`x${C}x`);
    expect((await run(['bcd', 'abc'], ['abcd'])).out).toBe(`${C}d`);
  });

  it('never lets a shorter value out while a longer one is still possible, even at the end', async () => {
    expect((await run(['abcdef', 'cd'], ['ab', 'cd'])).out).toBe(`ab${C}`);
    expect((await run(['abcdef', 'cd'], ['abcd', 'ef'])).out).toBe(C);
  });

  it('passes text that cannot hold a value at once, holding back only a possible prefix', async () => {
    const { pushes } = await run(['secret'], ['prompt> ', 'sec']);
    expect(pushes[0]).toBe('prompt> ');
    expect(pushes.join('')).toBe('prompt> sec');
    expect((await run([''], ['nothing to hide'])).out).toBe('nothing to hide');
  });
});
