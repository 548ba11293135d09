import { describe, expect, it } from 'vitest';
import { parsePolicy, globProblem } from '../../src/policy/policy.js';
import { decide } from '../../src/policy/decide.js';
import { clientKey, remoteClient, type Client } from '../../src/policy/client.js';
import { RateLimiter } from '../../src/policy/rate-limit.js';
import { unlockPenaltyMs } from '../../src/agent/server.js';
import { GlassdomeError } from '../../src/errors.js';

const python: Client = { pid: 10, uid: 1000, user: 'nomad', exe: '/usr/bin/python3.11', cwd: '/home/nomad/glassdome/scripts', parents: ['/usr/bin/bash'] };
const node: Client = { ...python, exe: '/usr/bin/node' };

function problem(text: string): string {
  try {
    parsePolicy(text);
  } catch (err) {
    expect((err as GlassdomeError).code).toBe('policy_invalid');
    return (err as Error).message;
  }
  return 'accepted';
}

describe('policy.yaml validation', () => {
  it('names the line of an unknown key, a bad glob, an unknown action or role, and a YAML error', () => {
    expect(problem('authorization:\n  rules:\n    - name: a\n      clients: [{exes: /x}]\n      secrets: [x]\n      actions: [read]\n')).toMatch(/^policy.yaml:4: unknown key "exes" in a rule client/);
    expect(problem('authorization:\n  rules:\n    - name: a\n      clients: [{exe: "/usr/bin/{py"}]\n      secrets: [x]\n      actions: [read]\n')).toMatch(/^policy.yaml:4: bad glob "\/usr\/bin\/\{py" in exe: unclosed \{/);
    expect(problem('authorization:\n  rules:\n    - name: a\n      clients: [{uid: 1}]\n      secrets: ["a[b"]\n      actions: [read]\n')).toMatch(/^policy.yaml:5: bad glob/);
    expect(problem('authorization:\n  rules:\n    - name: a\n      clients: [{uid: 1}]\n      secrets: [x]\n      actions: [rotate]\n')).toMatch(/^policy.yaml:6: unknown action "rotate"/);
    expect(problem('client_roles:\n  x: ghost\n')).toMatch(/^policy.yaml:2: unknown role "ghost"/);
    expect(problem('roles:\n  a:\n    inherits: b\n  b:\n    inherits: a\n')).toMatch(/role inheritance loops: a → b → a/);
    expect(problem('authorization:\n  rules: [\n')).toMatch(/^policy.yaml:\d+: /);
    expect(problem('rate_limits:\n  unlock:\n    burst: 0.99\n')).toMatch(/^policy.yaml:3: rate_limits.unlock.burst must be a finite number of at least 1/);
    expect(problem('rate_limits:\n  read: { rate: .inf }\n')).toMatch(/^policy.yaml:2: rate_limits.read.rate must be a finite number above 0/);
    expect(problem('rate_limits:\n  read: {rate: -1}\n')).toMatch(/^policy.yaml:2: rate_limits.read.rate must be a finite number above 0/);
    expect(problem('clients:\n  scripts: {exe: relative/path}\n')).toMatch(/^policy.yaml:2: exe must be an absolute path glob/);
    expect(problem('default_policy: allow\n')).toBe('accepted');
    expect(problem('')).toBe('accepted');
  });

  it('knows a usable glob from a broken one', () => {
    expect(globProblem('/usr/bin/python3*')).toBeNull();
    expect(globProblem('/home/*/glassdome/**')).toBeNull();
    expect(globProblem('{a,b')).toMatch(/unclosed/);
    expect(globProblem('a]')).toMatch(/unbalanced/);
    expect(globProblem('x\\')).toMatch(/backslash/);
  });
});

describe('decisions', () => {
  const policy = parsePolicy(`
clients:
  scripts: { exe: /usr/bin/python3*, cwd: /home/*/glassdome/** }
  bash-children: { parent: /usr/bin/bash }
authorization:
  rules:
    - name: platform-access
      clients: [scripts]
      secrets: ["proxmox_*", "esxi_*"]
      actions: [read]
    - name: remote-agents
      clients: ["agent-*"]
      secrets: ["*"]
      actions: [read]
roles:
  agent:
    permissions: [secrets:read:mail_*]
  ai-agent:
    inherits: agent
    permissions: [secrets:read:openai_*]
  admin:
    permissions: ["secrets:*", "admin:*"]
client_roles:
  scripts: ai-agent
  bash-children: admin
`);

  it('rules, then roles (with inheritance), then the default; each names what decided', () => {
    expect(decide(policy, python, 'read', 'proxmox_password')).toEqual({ allow: true, by: 'rule platform-access' });
    expect(decide(policy, python, 'read', 'openai_key')).toEqual({ allow: true, by: 'role ai-agent' });
    expect(decide(policy, python, 'read', 'mail_password')).toEqual({ allow: true, by: 'role ai-agent' });
    expect(decide(policy, { ...python, cwd: '/tmp' }, 'read', 'proxmox_password')).toEqual({ allow: true, by: 'role admin' });
    expect(decide(policy, { ...python, parents: [] }, 'write', 'proxmox_password')).toEqual({ allow: false, by: 'default deny' });
    expect(decide(policy, { ...node, parents: [] }, 'read', 'proxmox_password')).toEqual({ allow: false, by: 'default deny' });
    expect(decide(policy, node, 'admin', null)).toEqual({ allow: true, by: 'role admin' });
    expect(decide(null, node, 'delete', 'x')).toEqual({ allow: true, by: 'no policy' });
  });

  it('parent: "!GLOB" allows only clients with no such ancestor (a child of `glassdome exec` has node above it)', () => {
    const p = parsePolicy(`
clients:
  not-under-exec: { parent: "!/usr/bin/node" }
authorization:
  rules:
    - { name: interactive, clients: [not-under-exec], secrets: ["*"], actions: [read] }
`);
    const cli = { ...python, exe: '/usr/bin/node' };
    expect(decide(p, { ...cli, parents: ['/usr/bin/bash', '/usr/sbin/sshd'] }, 'read', 'x')).toEqual({ allow: true, by: 'rule interactive' });
    expect(decide(p, { ...cli, parents: ['/usr/bin/bash', '/usr/bin/node', '/usr/bin/bash'] }, 'read', 'x')).toEqual({ allow: false, by: 'default deny' });
    expect(decide(p, { ...python, parents: ['/usr/bin/node', '/usr/bin/bash'] }, 'read', 'x')).toEqual({ allow: false, by: 'default deny' });
    expect(() => parsePolicy('clients:\n  c: { parent: "!usr/bin/node" }\n')).toThrow(/absolute path glob/);
  });

  it('a certificate CN never matches a local process', () => {
    const p = parsePolicy('default_policy: deny\nauthorization:\n  rules:\n    - {name: r, clients: ["*"], secrets: ["*"], actions: ["*"]}\n');
    expect(decide(p, python, 'read', 'x').allow).toBe(false);
  });

  it('a remote client matches CN globs and pins only, never a local matcher', () => {
    const pin = 'ab'.repeat(32);
    const p = parsePolicy(`
clients:
  pinned: { cn: agent-secure, sha256: "sha256:${pin.toUpperCase().match(/../g)!.join(':')}" }
  local: { uid: 1000 }
authorization:
  rules:
    - { name: agents, clients: ["agent-*"], secrets: ["proxmox_*"], actions: [read] }
    - { name: pinned-only, clients: [pinned], secrets: ["vault_*"], actions: [read] }
    - { name: locals, clients: [local], secrets: ["*"], actions: ["*"] }
`);
    const remote = (cn: string, sha256: string | null = null): Client => remoteClient({ address: '10.0.0.2:5000', cn, sha256, accessor: null });
    expect(decide(p, remote('agent-1'), 'read', 'proxmox_password')).toEqual({ allow: true, by: 'rule agents' });
    expect(decide(p, remote('agent-1'), 'write', 'proxmox_password')).toEqual({ allow: false, by: 'default deny' });
    expect(decide(p, remote('intruder'), 'read', 'proxmox_password')).toEqual({ allow: false, by: 'default deny' });
    expect(decide(p, remote('agent-secure', pin), 'read', 'vault_key')).toEqual({ allow: true, by: 'rule pinned-only' });
    expect(decide(p, remote('agent-secure', 'cd'.repeat(32)), 'read', 'vault_key').allow).toBe(false);
    expect(decide(p, remote('agent-secure'), 'read', 'vault_key').allow).toBe(false); // a token has no certificate to pin
    expect(decide(p, remote('anything'), 'read', 'x').allow).toBe(false); // { uid: 1000 } never matches a remote client
    const mixed = parsePolicy(`clients:\n  m: { cn: "agent-*", exe_sha256: "${'ef'.repeat(32)}" }\nauthorization:\n  rules:\n    - { name: mixed, clients: [m], secrets: ["*"], actions: [read] }\n`);
    expect(decide(mixed, remote('agent-1'), 'read', 'x').allow).toBe(false); // a local field (exe_sha256) never matches a remote client
    expect(decide(p, python, 'read', 'proxmox_password')).toEqual({ allow: true, by: 'rule locals' });
    expect(clientKey(remote('agent-1'))).not.toBe(clientKey(remote('agent-2')));
    expect(clientKey(remoteClient({ address: 'x', cn: 'job', sha256: null, accessor: 'a1' }))).not.toBe(clientKey(remoteClient({ address: 'x', cn: 'job', sha256: null, accessor: 'a2' })));
  });

  it('refuses a pin that is not a SHA-256, naming the line', () => {
    expect(problem('clients:\n  p: { cn: a, sha256: "sha256:1234" }\n')).toMatch(/^policy.yaml:2: sha256 must be a certificate fingerprint of 64 hex digits/);
  });
});

describe('unlock penalty', () => {
  it('doubles from 0.25 s with each failure in a row, up to 8 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map(unlockPenaltyMs)).toEqual([0, 250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });
});

describe('rate limiter', () => {
  it('allows a burst, then refills at its rate, per client', () => {
    const r = new RateLimiter({ perSecond: 2, burst: 3 });
    expect([1, 2, 3, 4].map(() => r.take('a', 1000))).toEqual([true, true, true, false]);
    expect(r.take('b', 1000)).toBe(true);
    expect(r.retryAfter('a', 1000)).toBe(1);
    expect(r.take('a', 1500)).toBe(true);
    expect(r.take('a', 1500)).toBe(false);
  });
});
