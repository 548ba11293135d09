import { Args, Flags } from '@oclif/core';
import { IMPORT_FORMATS, type ImportFormat } from '../actions/import-formats.js';
import { importAction } from '../actions/import.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Import extends GlassdomeCommand {
  static override summary = 'Import a .env file, a Bitwarden JSON export or a pass store, all or nothing';
  static override description = [
    'Everything is read and checked first (names, sizes, names that exist already), then stored in one vault write. Run with --dry-run first to see the plan.',
    'env: KEY=VALUE lines. bitwarden: an unencrypted JSON export; item NAME becomes NAME (password), NAME/username, NAME/totp, NAME/notes, NAME/FIELD. pass: a password store directory; each NAME.gpg is decrypted with your gpg.',
  ].join('\n\n');
  static override examples = [
    '<%= config.bin %> import env .env --dry-run',
    '<%= config.bin %> import bitwarden bitwarden_export.json',
    '<%= config.bin %> import pass ~/.password-store --force',
  ];
  static override args = {
    format: Args.string({ description: 'what SOURCE is', required: true, options: [...IMPORT_FORMATS] }),
    source: Args.string({ description: 'the file (env, bitwarden) or directory (pass)', required: true }),
  };
  static override flags = {
    'dry-run': Flags.boolean({ description: 'show what would be stored (names only) and store nothing' }),
    force: Flags.boolean({ description: 'replace secrets that exist already' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Import);
    await importAction({ format: args.format as ImportFormat, source: args.source, dryRun: flags['dry-run'], force: flags.force }, this.paths);
  }
}
