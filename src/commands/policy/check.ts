import { Args, Flags } from '@oclif/core';
import { policyCheckAction } from '../../actions/policy-check.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class PolicyCheck extends GlassdomeCommand {
  static override summary = 'Show what the policy in force decides for a client, and which rule decided';
  static override description = 'The client defaults to this process as the agent would see it (this node binary, your uid, this directory). Exit 0 for allow, 5 for deny.';
  static override examples = ['<%= config.bin %> policy check --exe /usr/bin/python3.11 proxmox_password read', '<%= config.bin %> policy check --uid 1000 --cwd /srv/jobs db_pass write'];
  static override args = {
    secret: Args.string({ description: 'secret name (- for admin)', required: true }),
    action: Args.string({ description: 'read, write, delete or admin', required: true }),
  };
  static override flags = {
    exe: Flags.string({ description: 'the client’s executable (as /proc/PID/exe shows it)' }),
    uid: Flags.integer({ description: 'the client’s uid', min: 0 }),
    cwd: Flags.string({ description: 'the client’s working directory' }),
    parent: Flags.string({ description: 'the executable of one of its ancestors' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(PolicyCheck);
    this.done(await policyCheckAction({ secret: args.secret, action: args.action, exe: flags.exe, uid: flags.uid, cwd: flags.cwd, parent: flags.parent }, this.paths));
  }
}
