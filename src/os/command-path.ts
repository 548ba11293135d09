// Where a command name leads on PATH, as posix_spawnp(3) looks: the first executable file named
// `command` in a PATH directory (or `command` itself when it has a slash). exec asks before it
// reads any secret, so a mistyped command costs no read and leaves no audit line.

import fs from 'node:fs';
import path from 'node:path';

function candidates(command: string): string[] {
  return command.includes('/') ? [command] : (process.env.PATH ?? '/usr/bin:/bin').split(':').map((dir) => path.join(dir || '.', command));
}

/** The first executable file named `command` on PATH (or `command` itself when it has a slash). */
export function onPath(command: string): string | undefined {
  return candidates(command).find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** Whether nothing named `command` is there at all (a start would fail with ENOENT: exit 127). */
export function commandMissing(command: string): boolean {
  return command === '' || !candidates(command).some((file) => fs.existsSync(file));
}
