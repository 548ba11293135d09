// Checks, once per run, that the parts the end-to-end tests drive are really there: the built
// CLI, Debian's python3, setpriv, iproute2's ip. A missing part fails the run with its name (never a silent skip).

import fs from 'node:fs';
import path from 'node:path';

const REQUIRED: Array<[string, string]> = [
  [path.join(__dirname, '../../dist/cli/fast.js'), 'the built CLI (run: npm run build)'],
  ['/usr/bin/python3', "Debian's python3 (apt-get install python3)"],
  ['/usr/bin/setpriv', 'setpriv (apt-get install util-linux)'],
  ['/usr/sbin/ip', 'ip, for network namespaces (apt-get install iproute2)'],
];

export default function setup(): void {
  const missing = REQUIRED.filter(([file]) => !fs.existsSync(file)).map(([, what]) => what);
  if (missing.length > 0) throw new Error(`required for the tests but missing: ${missing.join('; ')}`);
}
