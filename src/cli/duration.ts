// Lifetimes as people write them: "8h", "30m", "1h30m", "90s", "2d", or bare seconds ("3600").

import { fail } from '../errors.js';
import { MAX_LIFETIME_S } from '../protocol/messages.js';

/** How long an unlock lasts unless told otherwise: 8 hours. */
export const DEFAULT_LIFETIME_MS = 8 * 3600 * 1000;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Parses a lifetime into whole seconds, from 1 s to 30 days; `usage` otherwise. */
export function parseLifetime(text: string): number {
  const trimmed = text.trim();
  let seconds = 0;
  if (/^\d+$/.test(trimmed)) {
    seconds = Number(trimmed);
  } else if (/^(\d+[smhdw])+$/i.test(trimmed)) {
    for (const [, n, unit] of trimmed.matchAll(/(\d+)([smhdw])/gi)) seconds += Number(n) * UNIT_SECONDS[unit!.toLowerCase()]!;
  } else {
    fail('usage', `${JSON.stringify(text)} is not a lifetime`, 'write it like 8h, 30m, 1h30m, 90s or 2d');
  }
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_LIFETIME_S) {
    fail('usage', `lifetime ${JSON.stringify(text)} is outside 1 s to 30 days`);
  }
  return seconds;
}
