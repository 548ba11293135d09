// The idle timeout, against a real agent: `--idle` (on agent, or on unlock) drops the key after
// that long without a request that uses it, besides the absolute lifetime; requests push the
// idle deadline back; status shows both deadlines; the keyring fallback refuses --idle.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, makeEnv, makeVault, startAgent, unlock, type TestEnv } from '../helpers/cli.js';
import { Wire } from '../helpers/wire.js';

let t: TestEnv;
beforeEach(async () => {
  t = makeEnv();
  await makeVault(t);
});
afterEach(() => t.cleanup());

/** The agent's status over the wire (status does not count as a use of the key). */
async function agentStatus(wire: Wire, id: number): Promise<Record<string, unknown>> {
  wire.request({ v: 1, id, op: 'status' });
  return wire.reply();
}

describe('idle timeout', () => {
  it('agent --idle: requests keep the key; without them it is wiped long before the lifetime', async () => {
    const a = await startAgent(t.env, ['--idle', '4s', '--lifetime', '1h']);
    const wire = await Wire.connect(a.socket); // connected first: a loaded machine starts CLIs slowly
    expect((await unlock(t.env)).code).toBe(0);
    try {
      wire.request({ v: 1, id: 99, op: 'set', name: 'x', value: 'dg==' });
      expect(await wire.reply()).toMatchObject({ ok: true });
      // Requests every 0.3 s for 3 s: each one moves the idle deadline, so the key stays.
      for (let i = 0; i < 10; i++) {
        wire.request({ v: 1, id: 100 + i, op: 'get', name: 'x' });
        expect(await wire.reply(), `request ${i}`).toMatchObject({ ok: true, value: 'dg==' });
        await new Promise((r) => setTimeout(r, 300));
      }
      const st = await agentStatus(wire, 1);
      expect(st).toMatchObject({ state: 'unlocked', idle_s: 4 });
      expect(Date.parse(String(st.idle_expires_at))).toBeLessThan(Date.parse(String(st.expires_at)));
      // Then silence: the key goes at the idle deadline, with no request to notice it.
      let id = 2;
      const deadline = Date.now() + 30_000;
      let last: Record<string, unknown> = st;
      while (last.state !== 'locked' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        last = await agentStatus(wire, id++);
      }
      expect(last).toMatchObject({ state: 'locked', reason: 'idle' });
    } finally {
      wire.close();
    }
    const r = await cli(t.env, ['get', 'x']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('idle time');
    expect((await cli(t.env, ['status'])).stdout).toContain('idle time');
  });

  it('unlock --idle overrides the agent; status shows both deadlines', async () => {
    await startAgent(t.env);
    expect((await unlock(t.env, ['--lifetime', '2h', '--idle', '15m'])).stderr).toContain('or after 900 s without a request');
    const st = JSON.parse((await cli(t.env, ['status', '--json'])).stdout);
    expect(Date.parse(st.expires_at) - Date.parse(st.unlocked_at)).toBe(7_200_000);
    expect(Date.parse(st.idle_expires_at) - Date.parse(st.unlocked_at)).toBeGreaterThanOrEqual(900_000);
    const text = (await cli(t.env, ['status'])).stdout;
    expect(text).toMatch(/^expires: /m);
    expect(text).toMatch(/^idle: +\S+ \(in 1[45]m \d+s, unless a request comes first\)$/m);
  });

  it('without an agent, --idle is refused (the keyring cannot see requests)', async () => {
    const r = await unlock(t.env, ['--idle', '5m']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--idle needs an agent');
  });
});
