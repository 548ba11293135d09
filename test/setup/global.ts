// Checks, once per run, that the parts the end-to-end tests drive are really there: the built
// CLI, Debian's python3, setpriv and prlimit, iproute2's ip, systemd-socket-activate, zsh, fish, gpg, etcd and etcdctl, strace, and the
// programs of docs/RECIPES.md. A missing part fails the run with its name (never a silent skip).

import fs from 'node:fs';
import path from 'node:path';
import { postgresBin } from '../helpers/servers.js';

/** The programs docs/RECIPES.md runs, and the Debian package of each. */
const RECIPE_PROGRAMS: Array<[string, string]> = [
  ['/usr/bin/mariadb', 'mariadb-client'],
  ['/usr/bin/mariadb-install-db', 'mariadb-server'],
  ['/usr/sbin/mariadbd', 'mariadb-server'],
  ['/usr/bin/psql', 'postgresql'],
  [path.join(postgresBin(), 'initdb'), 'postgresql'],
  [path.join(postgresBin(), 'postgres'), 'postgresql'],
  ['/usr/bin/ssh-keygen', 'openssh-client'],
  ['/usr/bin/ssh-agent', 'openssh-client'],
  ['/usr/bin/ssh-add', 'openssh-client'],
  ['/usr/sbin/sshd', 'openssh-server'],
  ['/usr/bin/openssl', 'openssl'],
  ['/usr/bin/gpg', 'gnupg'],
  ['/usr/bin/curl', 'curl'],
  ['/usr/bin/restic', 'restic'],
  ['/usr/bin/borg', 'borgbackup'],
  ['/usr/bin/ansible-vault', 'ansible-core'],
  ['/usr/bin/skopeo', 'skopeo'],
  ['/usr/bin/rclone', 'rclone'],
  ['/usr/bin/git', 'git'],
];

const REQUIRED: Array<[string, string]> = [
  [path.join(__dirname, '../../dist/cli/fast.js'), 'the built CLI (run: npm run build)'],
  ['/usr/bin/python3', "Debian's python3 (apt-get install python3)"],
  ['/usr/bin/setpriv', 'setpriv (apt-get install util-linux)'],
  ['/usr/bin/prlimit', 'prlimit (apt-get install util-linux)'],
  ['/usr/sbin/ip', 'ip, for network namespaces (apt-get install iproute2)'],
  ['/usr/bin/systemd-socket-activate', 'systemd-socket-activate (apt-get install systemd)'],
  ['/usr/bin/zsh', 'zsh, for the completion tests (apt-get install zsh)'],
  ['/usr/bin/fish', 'fish, for the completion tests (apt-get install fish)'],
  ['/usr/bin/gpg', 'gpg, for the pass import test (apt-get install gnupg)'],
  ['/usr/bin/etcd', 'etcd, for the etcd store tests (apt-get install etcd-server)'],
  ['/usr/bin/etcdctl', 'etcdctl, for the etcd store tests (apt-get install etcd-client)'],
  ['/usr/bin/strace', 'strace, for the audit durability and exec round-trip tests (apt-get install strace)'],
  ...RECIPE_PROGRAMS.map(([file, pkg]): [string, string] => [file, `${path.basename(file)} (apt-get install ${pkg})`]),
];

export default function setup(): void {
  const missing = REQUIRED.filter(([file]) => !fs.existsSync(file)).map(([, what]) => what);
  if (missing.length > 0) throw new Error(`required for the tests but missing: ${missing.join('; ')}`);
}
