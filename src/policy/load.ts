// Reading $GLASSDOME_HOME/policy.yaml (private, like every vault file). No file: no policy, and
// same-uid clients may do everything. A file, even empty: default deny.

import type { VaultPaths } from '../store/paths.js';
import { readPrivate } from '../store/secure-file.js';
import type { Policy } from './policy.js';

/** The vault's policy, or null when it has none; throws `policy_invalid` or `insecure_file`. */
export function loadPolicy(paths: VaultPaths): Policy | null {
  const file = readPrivate(paths.policy);
  if (!file) return null;
  const { parsePolicy } = require('./policy.js') as typeof import('./policy.js'); // yaml costs ~40 ms to load
  return parsePolicy(file.text);
}
