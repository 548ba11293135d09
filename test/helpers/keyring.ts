// A private, headless Secret Service for tests: our own dbus-daemon session bus and a
// gnome-keyring-daemon on it (unlocked with a known password), in a temporary HOME. Nothing of
// the machine's own session is touched. Needs Debian's dbus, gnome-keyring and libsecret-tools.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const TOOLS = ['/usr/bin/dbus-daemon', '/usr/bin/gnome-keyring-daemon', '/usr/bin/secret-tool', '/usr/bin/dbus-send', '/usr/bin/dbus-monitor'];

/** Why the Secret Service cannot be started here, or null when it can. */
export function keyringMissing(): string | null {
  const missing = TOOLS.filter((t) => !fs.existsSync(t));
  return missing.length > 0 ? `missing ${missing.join(', ')} (apt-get install dbus gnome-keyring libsecret-tools)` : null;
}

/** A running private Secret Service. */
export interface Keyring {
  /** Variables that point a process at this session bus (and its keyring's HOME). */
  env: NodeJS.ProcessEnv;
  /** Runs secret-tool against this keyring. */
  secretTool(args: string[]): { code: number | null; stdout: string; stderr: string };
  /** Locks the login collection (a Secret Service Lock call). */
  lockCollection(): void;
  stop(): void;
}

/** Starts dbus-daemon and gnome-keyring-daemon in `dir`; resolves once the Secret Service answers. */
export async function startKeyring(dir: string): Promise<Keyring> {
  const home = path.join(dir, 'keyring-home');
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  // A session bus without service activation: only our daemon may own org.freedesktop.secrets.
  const config = path.join(dir, 'bus.conf');
  fs.writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:tmpdir=${dir}</listen>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>\n`,
  );
  const bus = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address=1', '--nopidfile'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const address = await firstLine(bus, 'dbus-daemon');
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    XDG_DATA_HOME: path.join(home, 'share'),
    XDG_CONFIG_HOME: path.join(home, 'config'),
    DBUS_SESSION_BUS_ADDRESS: address,
  };
  const daemonEnv = { ...process.env, ...env, XDG_RUNTIME_DIR: path.join(home, 'run') };
  fs.mkdirSync(daemonEnv.XDG_RUNTIME_DIR!, { mode: 0o700 });
  const keyringDaemon: ChildProcess = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env: daemonEnv, stdio: ['pipe', 'ignore', 'pipe'] });
  let daemonErr = '';
  keyringDaemon.stderr!.on('data', (c: Buffer) => (daemonErr += c.toString()));
  keyringDaemon.stdin!.end('keyring-password');
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 15_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const deadline = Date.now() + 15_000;
  // The service is up once our daemon owns its name (asked without activating anything).
  for (;;) {
    const r = run('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets']);
    if (r.code === 0 && /boolean true/.test(r.stdout)) break;
    if (Date.now() > deadline || keyringDaemon.exitCode !== null) {
      bus.kill('SIGKILL');
      keyringDaemon.kill('SIGKILL');
      throw new Error(`the Secret Service did not start: ${r.stderr || 'gnome-keyring-daemon exited'} ${daemonErr}`);
    }
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return {
    env,
    secretTool: (args) => run('secret-tool', args),
    lockCollection() {
      const r = run('dbus-send', ['--session', '--dest=org.freedesktop.secrets', '--print-reply', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login']);
      if (r.code !== 0) throw new Error(`cannot lock the collection: ${r.stderr}`);
    },
    stop() {
      keyringDaemon.kill('SIGKILL');
      bus.kill('SIGKILL');
    },
  };
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve(out.slice(0, nl).trim());
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}
