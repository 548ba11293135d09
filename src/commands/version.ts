import { GlassdomeCommand } from '../cli/base.js';

export default class Version extends GlassdomeCommand {
  static override summary = 'Print the version (as -v and --version do)';
  static override examples = ['<%= config.bin %> version'];

  async run(): Promise<void> {
    await this.parse(Version);
    this.log(this.config.userAgent);
  }
}
