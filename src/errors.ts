// The error model of glassdome: one class, stable string codes, and the exit status each code
// maps to (the command contract of DESIGN.md). Pure: no I/O. Messages are lowercase, with no
// final period, and never contain a secret value or a password.

/** Every error code glassdome can report, on the wire and on the command line. */
export const ERROR_CODES = [
  'usage', // bad flags or arguments
  'invalid_name', // a secret name outside the allowed pattern
  'not_found', // no such secret
  'locked', // the agent or session holds no key
  'expired', // the session's lifetime ended
  'no_agent', // nothing answers at GLASSDOME_AUTH_SOCK
  'keyring_unavailable', // the OS keyring cannot be used (no D-Bus, locked collection, ...)
  'no_keyholder', // unlock found neither an agent nor a usable keyring to hold the key
  'denied', // a peer or policy refusal
  'rate_limited', // a token bucket ran dry
  'corrupt', // a file that does not parse as its format says
  'tampered', // a file whose authentication failed
  'unsupported_version', // a file or message of a version this build does not read
  'bad_password', // the master password did not open the vault
  'bad_key', // the key handed to the agent does not open its vault
  'wrong_vault', // the agent serves another vault than the one asked for
  'no_vault', // no vault at GLASSDOME_HOME
  'exists', // init over an existing vault without --force
  'insecure_file', // a file or directory readable by others or owned by someone else
  'too_large', // a value, a line or a vault over its limit
  'empty_value', // set with nothing to store
  'not_text', // a binary value where only UTF-8 text can go (exec's JSON)
  'bad_request', // a protocol message that does not parse or has wrong fields
  'unknown_op', // a protocol op this agent does not know
  'busy', // too many connections or a lock held too long
  'audit_failed', // the audit log cannot be written: secrets are withheld
  'policy_invalid', // policy.yaml does not parse or validate
  'io', // a file system or socket failure
  'unavailable', // a shared store (etcd) cannot be reached, or this replica's view of it is not fresh
  'internal', // a bug
] as const;

/** One of ERROR_CODES. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Marks a GlassdomeError whichever copy of this module made it. */
const BRAND = Symbol.for('glassdome.error');

/** Exit status of each code; unlisted codes exit 1. */
const EXIT_STATUS: Partial<Record<ErrorCode, number>> = {
  usage: 2,
  invalid_name: 2,
  not_found: 3,
  locked: 4,
  expired: 4,
  no_agent: 4,
  keyring_unavailable: 4,
  denied: 5,
  rate_limited: 5,
  corrupt: 6,
  tampered: 6,
};

/** The exit status for an error code, per the command contract. */
export function exitStatus(code: ErrorCode): number {
  return EXIT_STATUS[code] ?? 1;
}

/** True when a value is one of the known error codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** An error a user can act on: a stable code, a one-line message, and an optional hint. */
export class GlassdomeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, hint?: string) {
    super(message);
    this.name = 'GlassdomeError';
    this.code = code;
    this.hint = hint;
  }

  /**
   * `instanceof` by brand, not by class identity: the lean entry is split into bundles that each
   * carry a copy of this class, and an error thrown in one is rendered by another.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
}

/** Shorthand for `new GlassdomeError(...)`, for use in expressions. */
export function fail(code: ErrorCode, message: string, hint?: string): never {
  throw new GlassdomeError(code, message, hint);
}
