import { Flags } from '@oclif/core';
import { auditShowAction } from '../../actions/audit.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class Audit extends GlassdomeCommand {
  static override summary = 'Show the audit log';
  static override description = 'Every event of the agent and of the fallback, hash-chained. Check the chain with: glassdome audit verify';
  static override examples = ['<%= config.bin %> audit --since 1h', '<%= config.bin %> audit --follow', '<%= config.bin %> audit --json | jq .'];
  static override enableJsonFlag = true;
  static override flags = {
    since: Flags.string({ description: 'only events since this time (ISO 8601) or for this long (30m, 2h, 1d)' }),
    follow: Flags.boolean({ char: 'f', description: 'keep printing events as they are written' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Audit);
    await auditShowAction({ json: this.jsonEnabled(), since: flags.since, follow: flags.follow }, this.paths);
  }
}
