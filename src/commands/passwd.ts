import { Flags } from '@oclif/core';
import { passwdAction } from '../actions/passwd.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Passwd extends GlassdomeCommand {
  static override summary = 'Change the master password';
  static override description = 'Re-seals the master key only; secrets and open sessions are untouched. With --password-stdin, stdin holds the old password on its first line and the new one on the second.';
  static override examples = ['<%= config.bin %> passwd', 'printf "%s\\n%s\\n" "$OLD" "$NEW" | <%= config.bin %> passwd --password-stdin'];
  static override flags = { 'password-stdin': Flags.boolean({ description: 'read old and new password from two lines of stdin' }) };

  async run(): Promise<void> {
    const { flags } = await this.parse(Passwd);
    await passwdAction({ passwordStdin: flags['password-stdin'] }, this.paths);
  }
}
