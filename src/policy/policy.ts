// policy.yaml: parsing with a real YAML parser and validating against the schema of
// docs/POLICY.md, where every error names its line. The result is a compiled Policy: globs turned
// into matchers, role inheritance resolved, rate limits filled in. Nothing here does I/O.

import picomatch from 'picomatch';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { fail } from '../errors.js';
import { DEFAULT_RATE_LIMITS, type RateLimits, type RateSpec } from './rate-limit.js';

/** The actions a policy grants. */
export const ACTIONS = ['read', 'write', 'delete', 'admin'] as const;
/** One of ACTIONS. */
export type Action = (typeof ACTIONS)[number];

/** A compiled glob. */
export interface Glob {
  source: string;
  test: (value: string) => boolean;
}

/** What a local client must be for a matcher to hold (every given field must match). */
export interface Matcher {
  exe?: Glob;
  user?: Glob;
  uid?: number;
  cwd?: Glob;
  parent?: Glob;
  cn?: Glob;
  /** A pinned client certificate: its SHA-256 in lower-case hex (`sha256: "sha256:AB:CD…"` in YAML). */
  sha256?: string;
  /** The SHA-256 (lowercase hex) the executable's content must have. */
  exeSha256?: string;
}

/** A rule: these clients may do these actions on these secrets. */
export interface Rule {
  name: string;
  line: number;
  clients: Matcher[];
  secrets: Glob[];
  actions: Set<Action>;
}

/** A permission of a role. */
export interface Permission {
  source: string;
  actions: Set<Action>;
  secrets: Glob | null; // null: not about secrets (admin)
}

/** A role with its inherited permissions already merged in. */
export interface Role {
  name: string;
  permissions: Permission[];
}

/** Syslog forwarding of audit lines. */
export interface SyslogConfig {
  socket: string;
  facility: number;
}

/** A compiled policy. */
export interface Policy {
  defaultAllow: boolean;
  rules: Rule[];
  roles: Map<string, Role>;
  clientRoles: Array<{ client: Matcher; name: string; roles: Role[] }>;
  rateLimits: RateLimits;
  syslog: SyslogConfig | null;
}

/** The smallest burst a rate limit may have: one request (below it the bucket never holds a token). */
export const MIN_BURST = 1;

const FACILITIES: Record<string, number> = { user: 1, auth: 4, authpriv: 10, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23 };
const MATCHER_KEYS = ['exe', 'user', 'uid', 'cwd', 'parent', 'cn', 'exe_sha256', 'sha256'];

class Checker {
  constructor(private readonly lines: LineCounter) {}

  line(node: Node | null | undefined): number {
    const offset = node?.range?.[0] ?? 0;
    return this.lines.linePos(offset).line;
  }

  error(node: Node | null | undefined, message: string): never {
    return fail('policy_invalid', `policy.yaml:${this.line(node)}: ${message}`, 'fix it, then seal it into the vault: glassdome policy apply');
  }

  map(node: Node | null | undefined, allowed: string[], what: string): YAMLMap {
    if (!isMap(node)) this.error(node, `${what} must be a mapping`);
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!allowed.includes(key)) this.error(pair.key as Node, `unknown key ${JSON.stringify(key)} in ${what} (expected one of ${allowed.join(', ')})`);
    }
    return node;
  }

  get(map: YAMLMap, key: string): Node | undefined {
    return map.items.find((p) => isScalar(p.key) && p.key.value === key)?.value as Node | undefined;
  }

  string(node: Node | null | undefined, what: string): string {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.length === 0) this.error(node, `${what} must be a non-empty string`);
    return node.value;
  }

  list(node: Node | null | undefined, what: string): Node[] {
    if (isScalar(node)) return [node];
    if (!isSeq(node) || node.items.length === 0) this.error(node, `${what} must be a non-empty list`);
    return node.items as Node[];
  }

  glob(node: Node | null | undefined, what: string): Glob {
    const source = this.string(node, what);
    const why = globProblem(source);
    if (why) this.error(node, `bad glob ${JSON.stringify(source)} in ${what}: ${why}`);
    return { source, test: picomatch(source, { dot: true }) };
  }
}

/** Why a glob is unusable (unbalanced brackets, never matches, ...), or null. */
export function globProblem(pattern: string): string | null {
  if (/[\0\n\r]/.test(pattern)) return 'control characters';
  const pairs: Record<string, string> = { '[': ']', '{': '}', '(': ')' };
  const stack: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      if (i === pattern.length - 1) return 'ends with a backslash';
      i++;
    } else if (c in pairs) stack.push(pairs[c]!);
    else if (c === ']' || c === '}' || c === ')') {
      if (stack.pop() !== c) return `unbalanced ${c}`;
    }
  }
  if (stack.length > 0) return `unclosed ${stack.map((c) => ({ ']': '[', '}': '{', ')': '(' })[c]).join('')}`;
  try {
    if (picomatch.makeRe(pattern, { dot: true }).source === '$^') return 'it can never match';
  } catch (err) {
    return (err as Error).message.toLowerCase();
  }
  return null;
}

/** Parses and validates policy.yaml; throws `policy_invalid` naming the line of the first problem. */
export function parsePolicy(text: string): Policy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, strict: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    fail('policy_invalid', `policy.yaml:${e.linePos?.[0]?.line ?? 1}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').toLowerCase()}`, 'fix the YAML syntax');
  }
  const c: Checker = new Checker(lines);
  if (doc.contents === null) return emptyPolicy();
  const top = c.map(doc.contents as Node, ['version', 'default_policy', 'clients', 'authorization', 'roles', 'client_roles', 'rate_limits', 'audit'], 'the policy');

  const version = c.get(top, 'version');
  if (version && !(isScalar(version) && version.value === 1)) c.error(version, 'version must be 1');
  const dp = c.get(top, 'default_policy');
  const defaultPolicy = dp ? c.string(dp, 'default_policy') : 'deny';
  if (defaultPolicy !== 'deny' && defaultPolicy !== 'allow') c.error(dp, 'default_policy must be deny or allow');

  const named = new Map<string, Matcher>();
  const clientsNode = c.get(top, 'clients');
  if (clientsNode) {
    if (!isMap(clientsNode)) c.error(clientsNode, 'clients must be a mapping of names to matchers');
    for (const pair of clientsNode.items) named.set(c.string(pair.key as Node, 'a client name'), matcher(c, pair.value as Node, 'a client'));
  }
  const clientRef = (node: Node, what: string): Matcher => {
    if (isMap(node)) return matcher(c, node, what);
    const name = c.string(node, what);
    return named.get(name) ?? { cn: c.glob(node, `${what} (a certificate CN glob)`) };
  };

  const rules: Rule[] = [];
  const auth = c.get(top, 'authorization');
  if (auth) {
    const authMap = c.map(auth, ['rules'], 'authorization');
    const rulesNode = c.get(authMap, 'rules');
    if (rulesNode) {
      if (!isSeq(rulesNode)) c.error(rulesNode, 'authorization.rules must be a list');
      for (const item of rulesNode.items as Node[]) {
        const r = c.map(item, ['name', 'clients', 'secrets', 'actions', 'description'], 'a rule');
        const nameNode = c.get(r, 'name');
        const name = c.string(nameNode, 'a rule name');
        if (rules.some((x) => x.name === name)) c.error(nameNode, `rule name ${JSON.stringify(name)} is used twice`);
        for (const required of ['clients', 'secrets', 'actions']) if (!c.get(r, required)) c.error(item, `rule ${JSON.stringify(name)} has no ${required}`);
        rules.push({
          name,
          line: c.line(item),
          clients: c.list(c.get(r, 'clients'), 'clients').map((n) => clientRef(n, 'a rule client')),
          secrets: c.list(c.get(r, 'secrets'), 'secrets').map((n) => c.glob(n, 'secrets')),
          actions: actionsOf(c, c.get(r, 'actions')!),
        });
      }
    }
  }

  const roles = parseRoles(c, c.get(top, 'roles'));
  const clientRoles: Policy['clientRoles'] = [];
  const cr = c.get(top, 'client_roles');
  if (cr) {
    if (!isMap(cr)) c.error(cr, 'client_roles must be a mapping of clients to roles');
    for (const pair of cr.items) {
      const keyNode = pair.key as Node;
      const names = c.list(pair.value as Node, 'the roles of a client').map((n): Role => {
        const name = c.string(n, 'a role name');
        return roles.get(name) ?? c.error(n, `unknown role ${JSON.stringify(name)}`);
      });
      clientRoles.push({ client: clientRef(keyNode, 'a client'), name: c.string(keyNode, 'a client'), roles: names });
    }
  }

  return {
    defaultAllow: defaultPolicy === 'allow',
    rules,
    roles,
    clientRoles,
    rateLimits: parseRateLimits(c, c.get(top, 'rate_limits')),
    syslog: parseAudit(c, c.get(top, 'audit')),
  };
}

/** The policy of an empty policy.yaml: deny everything. */
export function emptyPolicy(): Policy {
  return { defaultAllow: false, rules: [], roles: new Map(), clientRoles: [], rateLimits: { ...DEFAULT_RATE_LIMITS }, syslog: null };
}

function matcher(c: Checker, node: Node, what: string): Matcher {
  const m = c.map(node, MATCHER_KEYS, what);
  if (m.items.length === 0) c.error(node, `${what} must name at least one of ${MATCHER_KEYS.join(', ')}`);
  const out: Matcher = {};
  for (const key of MATCHER_KEYS) {
    const v = c.get(m, key);
    if (!v) continue;
    if (key === 'uid') {
      if (!isScalar(v) || !Number.isSafeInteger(v.value) || (v.value as number) < 0) c.error(v, 'uid must be a whole number');
      out.uid = v.value as number;
    } else if (key === 'sha256') {
      out.sha256 = fingerprintPin(c, v);
    } else if (key === 'exe_sha256') {
      const hex = c.string(v, key);
      if (!/^[0-9a-fA-F]{64}$/.test(hex)) c.error(v, 'exe_sha256 must be 64 hex digits (sha256sum of the executable)');
      out.exeSha256 = hex.toLowerCase();
    } else {
      const glob = c.glob(v, key);
      // parent: "!GLOB" means no ancestor matches GLOB (e.g. not under `glassdome exec`'s node).
      const path = key === 'parent' && glob.source.startsWith('!') ? glob.source.slice(1) : glob.source;
      if ((key === 'exe' || key === 'cwd' || key === 'parent') && !path.startsWith('/') && !path.startsWith('*')) {
        c.error(v, `${key} must be an absolute path glob`);
      }
      (out as Record<string, Glob>)[key] = glob;
    }
  }
  return out;
}

/** A certificate pin: 64 hex digits, with or without a `sha256:` prefix and colons. */
function fingerprintPin(c: Checker, node: Node): string {
  const hex = c.string(node, 'sha256').replace(/^sha256:/i, '').replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) c.error(node, 'sha256 must be a certificate fingerprint of 64 hex digits (glassdome ca issue prints it)');
  return hex;
}

function actionsOf(c: Checker, node: Node): Set<Action> {
  const out = new Set<Action>();
  for (const item of c.list(node, 'actions')) {
    const a = c.string(item, 'an action');
    if (a === '*') ACTIONS.forEach((x) => out.add(x));
    else if ((ACTIONS as readonly string[]).includes(a)) out.add(a as Action);
    else c.error(item, `unknown action ${JSON.stringify(a)} (expected ${ACTIONS.join(', ')} or *)`);
  }
  return out;
}

function parseRoles(c: Checker, node: Node | undefined): Map<string, Role> {
  const roles = new Map<string, Role>();
  if (!node) return roles;
  if (!isMap(node)) c.error(node, 'roles must be a mapping of names to roles');
  const raw = new Map<string, { node: Node; inherits: Node[]; permissions: Permission[] }>();
  for (const pair of node.items) {
    const name = c.string(pair.key as Node, 'a role name');
    const r = c.map(pair.value as Node, ['description', 'inherits', 'permissions'], `role ${name}`);
    const inherits = c.get(r, 'inherits');
    const perms = c.get(r, 'permissions');
    raw.set(name, {
      node: pair.value as Node,
      inherits: inherits ? c.list(inherits, 'inherits') : [],
      permissions: perms ? c.list(perms, 'permissions').map((p) => permission(c, p)) : [],
    });
  }
  const resolve = (name: string, trail: string[], at: Node): Permission[] => {
    const r = raw.get(name);
    if (!r) return c.error(at, `unknown role ${JSON.stringify(name)}`);
    if (trail.includes(name)) return c.error(at, `role inheritance loops: ${[...trail, name].join(' → ')}`);
    return [...r.permissions, ...r.inherits.flatMap((n) => resolve(c.string(n, 'an inherited role'), [...trail, name], n))];
  };
  for (const [name, r] of raw) roles.set(name, { name, permissions: resolve(name, [], r.node) });
  return roles;
}

/** `secrets:ACTION:GLOB`, `secrets:ACTION`, `secrets:*`, `admin:*` or `admin`. */
function permission(c: Checker, node: Node): Permission {
  const source = c.string(node, 'a permission');
  const [kind, action, ...rest] = source.split(':');
  const glob = rest.join(':');
  if (kind === 'admin' && (action === undefined || action === '*') && !glob) return { source, actions: new Set(['admin']), secrets: null };
  if (kind === 'secrets' && action !== undefined) {
    const actions = action === '*' ? new Set<Action>(['read', 'write', 'delete']) : (['read', 'write', 'delete'] as string[]).includes(action) ? new Set([action as Action]) : null;
    if (actions) {
      const pattern = glob || '**';
      const why = globProblem(pattern);
      if (why) c.error(node, `bad glob ${JSON.stringify(pattern)} in permission ${JSON.stringify(source)}: ${why}`);
      return { source, actions, secrets: { source: pattern, test: picomatch(pattern, { dot: true }) } };
    }
  }
  return c.error(node, `bad permission ${JSON.stringify(source)} (expected secrets:ACTION:GLOB, secrets:*, or admin:*)`);
}

function parseRateLimits(c: Checker, node: Node | undefined): RateLimits {
  const limits: RateLimits = { ...DEFAULT_RATE_LIMITS };
  if (!node) return limits;
  const m = c.map(node, Object.keys(DEFAULT_RATE_LIMITS), 'rate_limits');
  for (const key of Object.keys(DEFAULT_RATE_LIMITS) as Array<keyof RateLimits>) {
    const v = c.get(m, key);
    if (!v) continue;
    const spec = c.map(v, ['rate', 'per', 'burst'], `rate_limits.${key}`);
    // A limiter that can never grant (burst under 1) or never limits (infinite): refused, naming the line.
    const num = (k: string, fallback: number, least: number, what: string): number => {
      const n = c.get(spec, k);
      if (!n) return fallback;
      if (!isScalar(n) || typeof n.value !== 'number' || !Number.isFinite(n.value) || !(n.value >= least)) c.error(n, `rate_limits.${key}.${k} must be ${what}`);
      return n.value;
    };
    const perNode = c.get(spec, 'per');
    const per = perNode ? c.string(perNode, 'per') : 'second';
    const seconds = { second: 1, minute: 60, hour: 3600 }[per];
    if (!seconds) c.error(perNode, 'per must be second, minute or hour');
    const rate = num('rate', limits[key].perSecond * seconds, Number.MIN_VALUE, 'a finite number above 0');
    const next: RateSpec = { perSecond: rate / seconds, burst: num('burst', Math.max(1, Math.ceil(rate)), MIN_BURST, `a finite number of at least ${MIN_BURST} (a bucket below one token never grants)`) };
    limits[key] = next;
  }
  return limits;
}

function parseAudit(c: Checker, node: Node | undefined): SyslogConfig | null {
  if (!node) return null;
  const m = c.map(node, ['syslog'], 'audit');
  const s = c.get(m, 'syslog');
  if (!s) return null;
  const sm = c.map(s, ['enabled', 'socket', 'facility'], 'audit.syslog');
  const enabled = c.get(sm, 'enabled');
  if (enabled && !(isScalar(enabled) && typeof enabled.value === 'boolean')) c.error(enabled, 'enabled must be true or false');
  if (enabled && (enabled as { value: boolean }).value === false) return null;
  const socketNode = c.get(sm, 'socket');
  const socket = socketNode ? c.string(socketNode, 'socket') : '/dev/log';
  if (!socket.startsWith('/')) c.error(socketNode, 'socket must be an absolute path');
  const facilityNode = c.get(sm, 'facility');
  const facilityName = facilityNode ? c.string(facilityNode, 'facility') : 'authpriv';
  const facility = FACILITIES[facilityName];
  if (facility === undefined) c.error(facilityNode, `facility must be one of ${Object.keys(FACILITIES).join(', ')}`);
  return { socket, facility };
}
