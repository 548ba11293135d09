import { Args, Flags } from '@oclif/core';
import { setAction } from '../actions/set.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Set extends GlassdomeCommand {
  static override summary = 'Store a secret';
  static override description = [
    'The value comes from --file, from stdin when it is not a terminal, or from a hidden prompt asked twice. Values are bytes, at most 1 MiB.',
    'From stdin, a single-line value loses its one trailing newline (so echo "$PW" | glassdome set x stores the password); a value of several lines (a private key, a certificate, a my.cnf) is stored byte for byte. --file and --raw always store the bytes exactly.',
    'On a terminal, replacing an existing secret asks first; --force does not ask. Scripts (stdin not a terminal) are never asked.',
  ].join('\n\n');
  static override examples = [
    "printf %s 'hunter2' | <%= config.bin %> set proxmox_password",
    '<%= config.bin %> set deploy_key < ~/.ssh/id_ed25519     # multi-line: stored exactly',
    '<%= config.bin %> set tls_cert --file cert.pem --force',
    '<%= config.bin %> set blob --raw < token.bin              # every byte, trailing newline included',
    '<%= config.bin %> set api_token   # prompts',
  ];
  static override args = { name: Args.string({ description: 'secret name', required: true }) };
  static override flags = {
    file: Flags.string({ description: 'read the value from this file, byte for byte', exclusive: ['raw'] }),
    raw: Flags.boolean({ description: 'store stdin byte for byte (no newline stripped)', exclusive: ['file'] }),
    force: Flags.boolean({ description: 'on a terminal, replace an existing secret without asking' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Set);
    await setAction({ name: args.name, file: flags.file, raw: flags.raw, force: flags.force }, this.paths);
  }
}
