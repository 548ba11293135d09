// oclif hook: an unknown command gets the CLI's one-line error style, a "did you mean" when a
// command is near, and exit 2. oclif joins the words it could not match with ":"; the message
// shows only the first word, as typed.

import type { Hook } from '@oclif/core';
import { GlassdomeError } from '../errors.js';
import { renderError } from '../cli/render.js';
import { suggestCommand } from '../cli/suggest.js';

const hook: Hook<'command_not_found'> = async function (options) {
  const words = options.id.split(':');
  const guess = suggestCommand(words.join(' '), options.config.commandIDs);
  const typed = guess ? words.slice(0, guess.split(' ').length) : words.slice(0, 1);
  const rest = words.slice(typed.length);
  const hint = guess ? `did you mean: glassdome ${[guess, ...rest].join(' ')}` : 'see the commands: glassdome help';
  process.exitCode = await renderError(new GlassdomeError('usage', `${JSON.stringify(typed.join(' '))} is not a glassdome command`, hint), false);
  this.exit(process.exitCode);
};

export default hook;
