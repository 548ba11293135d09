import { Args, Flags } from '@oclif/core';
import { EXPORT_FORMATS, exportAction } from '../actions/export.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Export extends GlassdomeCommand {
  static override summary = 'Print secrets in the clear (JSON or .env), only with --stdout';
  static override description = 'Every secret, or the named ones. JSON is one object {name: value} (a value that is not UTF-8 appears as {"base64": ...}); env is NAME=\'value\' lines a shell can source.';
  static override examples = ['<%= config.bin %> export --stdout > backup.json', '<%= config.bin %> export --stdout --format env DB_USER DB_PASS > .env'];
  static override strict = false;
  static override args = { names: Args.string({ description: 'secrets to export (default: all)', required: false }) };
  static override flags = {
    stdout: Flags.boolean({ description: 'required: yes, print the values on stdout' }),
    format: Flags.string({ description: 'output format', options: [...EXPORT_FORMATS], default: 'json' }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Export);
    await exportAction({ stdout: flags.stdout, format: flags.format as (typeof EXPORT_FORMATS)[number], names: argv as string[] }, this.paths);
  }
}
