// oclif hook: an unknown command gets the CLI's one-line error style and exit 2.

import type { Hook } from '@oclif/core';
import { GlassdomeError } from '../errors.js';
import { renderError } from '../cli/render.js';

const hook: Hook<'command_not_found'> = async function (options) {
  process.exitCode = await renderError(new GlassdomeError('usage', `${JSON.stringify(options.id)} is not a glassdome command`, 'see the commands: glassdome --help'), false);
  this.exit(process.exitCode);
};

export default hook;
