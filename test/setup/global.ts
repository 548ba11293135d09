// Checks, once per run, that the parts the end-to-end tests drive are really there: the built
// CLI, Debian's python3, setpriv, systemd-socket-activate, zsh, fish, gpg. A missing part fails the run with its name (never a silent skip).

import fs from 'node:fs';
import path from 'node:path';

const REQUIRED: Array<[string, string]> = [
  [path.join(__dirname, '../../dist/cli/fast.js'), 'the built CLI (run: npm run build)'],
  ['/usr/bin/python3', "Debian's python3 (apt-get install python3)"],
  ['/usr/bin/setpriv', 'setpriv (apt-get install util-linux)'],
  ['/usr/bin/systemd-socket-activate', 'systemd-socket-activate (apt-get install systemd)'],
  ['/usr/bin/zsh', 'zsh, for the completion tests (apt-get install zsh)'],
  ['/usr/bin/fish', 'fish, for the completion tests (apt-get install fish)'],
  ['/usr/bin/gpg', 'gpg, for the pass import test (apt-get install gnupg)'],
];

export default function setup(): void {
  const missing = REQUIRED.filter(([file]) => !fs.existsSync(file)).map(([, what]) => what);
  if (missing.length > 0) throw new Error(`required for the tests but missing: ${missing.join('; ')}`);
}
