// Forwarding audit lines to the local syslog socket (/dev/log by default), so a copy leaves the
// user's own files: rsyslog or journald keep it where the user cannot edit it. Best effort: a
// missing socket or a full queue is reported once, never blocks, never withholds secrets.

import fs from 'node:fs';
import { connectDatagram, sendDatagram } from '../os/libc.js';
import type { SyslogConfig } from '../policy/policy.js';

const SEVERITY_INFO = 6;

/** A function that forwards one audit line; `report` hears about failures (once each). */
export function syslogForwarder(config: SyslogConfig, report: (message: string) => void): (line: string) => void {
  let fd: number | undefined;
  let failing = false;
  const tag = `<${config.facility * 8 + SEVERITY_INFO}>glassdome[${process.pid}]: `;
  return (line: string) => {
    try {
      fd ??= connectDatagram(config.socket);
      if (!sendDatagram(fd, Buffer.from(tag + line, 'utf8'))) throw new Error('the syslog socket did not take the message');
      failing = false;
    } catch (err) {
      if (fd !== undefined) closeQuietly(fd); // the next line connects again: never one descriptor per failed line
      fd = undefined;
      if (!failing) report(`cannot forward audit lines to syslog at ${config.socket}: ${(err as Error).message}`);
      failing = true;
    }
  };
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}
