// exec asks for many secrets at once: replay of the hang found in review. With 2,000 secrets of
// 8 KiB, the agent stopped reading once 8 MiB of its replies waited to be read, while exec, still
// writing one get per secret, filled the socket: each waited for the other until the 60 s timeout.
// The client then kept at most 16 requests unanswered; exec now asks by get_many, whose replies
// (at most 2 MiB a line) each wait for the client's next request.
import { afterAll, beforeAll, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { applyPolicy, cli, unlockedEnv, type TestEnv } from '../helpers/cli.js';

const COUNT = 2000;
const SIZE = 8 * 1024;
const PER_IMPORT = 100;

let t: TestEnv;
beforeAll(async () => {
  t = await unlockedEnv();
  // The default read limit (burst 1000) is not what this test is about: lift it.
  await applyPolicy(t, 'default_policy: allow\nrate_limits:\n  read: { rate: 100000, burst: 100000 }\n');
  for (let start = 0; start < COUNT; start += PER_IMPORT) {
    const file = path.join(t.dir, `chunk-${start}.env`);
    const lines = [];
    for (let i = start; i < Math.min(COUNT, start + PER_IMPORT); i++) lines.push(`MANY_${String(i).padStart(4, '0')}=${String.fromCharCode(97 + (i % 26)).repeat(SIZE)}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
    const r = await cli(t.env, ['import', 'env', file]);
    if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
  }
}, 120_000);
afterAll(() => t.cleanup());

it('hands over 2,000 secrets of 8 KiB (16 MiB, past the agent\'s 8 MiB of queued replies) without waiting for a timeout', async () => {
  const script = 'import json,os; d=json.load(os.fdopen(3)); print(len(d), sum(len(v) for v in d.values()), d["MANY_1027"][:3])';
  const r = await cli(t.env, ['exec', '--', '/usr/bin/python3', '-c', script], undefined, 50_000);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe(`${COUNT} ${COUNT * SIZE} ${String.fromCharCode(97 + (1027 % 26)).repeat(3)}`);
}, 60_000);
