import { Flags } from '@oclif/core';
import { rotateAction } from '../actions/rotate.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Rotate extends GlassdomeCommand {
  static override summary = 'Replace the master key with a new random one';
  static override description =
    'Re-seals every secret under a new master key, and the new key under the same password, as one crash-safe step. A running unlocked agent and an open keyring session move to the new key. See docs/OPERATIONS.md.';
  static override examples = ['<%= config.bin %> rotate', 'printf %s "$PW" | <%= config.bin %> rotate --password-stdin'];
  static override flags = { 'password-stdin': Flags.boolean({ description: 'read the password from stdin (one trailing newline stripped)' }) };

  async run(): Promise<void> {
    const { flags } = await this.parse(Rotate);
    await rotateAction({ passwordStdin: flags['password-stdin'] }, this.paths);
  }
}
