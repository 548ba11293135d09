import { Args, Flags } from '@oclif/core';
import { policyApplyAction } from '../../actions/policy-apply.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class PolicyApply extends GlassdomeCommand {
  static override summary = 'Seal a policy into the vault (the only way to change the one in force)';
  static override description = 'Validates FILE (default: policy.yaml in the vault directory) and seals it into the vault. Through a running, unlocked agent this is an admin action under the policy in force; with --password-stdin (or a prompt when no agent runs) the master password authorizes it. policy.yaml itself is never enforced: editing or deleting it changes nothing until it is applied.';
  static override examples = ['<%= config.bin %> policy apply', 'printf %s "$PW" | <%= config.bin %> policy apply ./policy.yaml --password-stdin'];
  static override args = { file: Args.string({ description: 'the policy file (default: $GLASSDOME_HOME/policy.yaml)', ignoreStdin: true }) }; // stdin holds the password
  static override flags = { 'password-stdin': Flags.boolean({ description: 'authorize with the master password, read from stdin' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(PolicyApply);
    await policyApplyAction({ file: args.file, passwordStdin: flags['password-stdin'] }, this.paths);
  }
}
