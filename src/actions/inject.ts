// `glassdome inject [-i TEMPLATE] [-o FILE]`: renders the `{{glassdome:NAME}}` references of a
// template (a file, or stdin) to stdout, or to FILE written 0600 by temp file + rename, so a
// reader sees the old file or the whole new one. Nothing is written when a secret is missing.

import fs from 'node:fs';
import { readStdin } from '../cli/password.js';
import { openStore } from '../cli/session.js';
import { fail } from '../errors.js';
import { MAX_TEMPLATE_BYTES, readTemplate, renderFromStore } from '../exec/template-file.js';
import type { VaultPaths } from '../store/paths.js';
import { writePrivateAtomic } from '../store/secure-file.js';

/** What `inject` was asked. */
export interface InjectOptions {
  input?: string;
  output?: string;
}

/** Renders the template to stdout or to the output file. */
export async function injectAction(options: InjectOptions, paths: VaultPaths): Promise<void> {
  let template: Buffer;
  if (options.input !== undefined) {
    template = readTemplate(options.input);
  } else {
    if (process.stdin.isTTY) fail('usage', 'no template: stdin is a terminal', 'glassdome inject -i TEMPLATE, or pipe the template in');
    template = readStdin(MAX_TEMPLATE_BYTES, 'the template');
  }
  const session = await openStore(paths);
  let rendered: Buffer | undefined;
  try {
    rendered = await renderFromStore(template, session.store);
    if (options.output !== undefined) writePrivateAtomic(options.output, rendered);
    else writeAllStdout(rendered);
  } finally {
    session.close();
    rendered?.fill(0);
  }
}

function writeAllStdout(data: Uint8Array): void {
  let written = 0;
  while (written < data.length) {
    try {
      written += fs.writeSync(1, data, written, data.length - written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}
