import { Flags } from '@oclif/core';
import { storeMigrateAction } from '../../actions/store-migrate.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class StoreMigrate extends GlassdomeCommand {
  static override summary = 'Move the vault of $GLASSDOME_HOME into an etcd store, or back';
  static override description = 'The master password opens the source; the same master key seals the copy, which is read back and compared byte for byte. A target that already holds a vault is refused unless --force. The source is left as it was. docs/ETCD.md describes the store.';
  static override examples = [
    'printf %s "$PW" | <%= config.bin %> store migrate --to etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379/glassdome --password-stdin',
    'printf %s "$PW" | <%= config.bin %> store migrate --from etcd://10.0.0.1:2379/glassdome --password-stdin',
  ];
  static override enableJsonFlag = true;
  static override flags = {
    to: Flags.string({ description: 'etcd://HOST:PORT[,HOST:PORT...][/PREFIX] to copy the file vault into', exclusive: ['from'] }),
    from: Flags.string({ description: 'etcd://HOST:PORT[,HOST:PORT...][/PREFIX] to copy into the file vault', exclusive: ['to'] }),
    force: Flags.boolean({ description: 'replace a vault the target already holds (what it holds is lost)' }),
    'password-stdin': Flags.boolean({ description: 'read the master password from stdin (one trailing newline stripped)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(StoreMigrate);
    await storeMigrateAction({ to: flags.to, from: flags.from, force: flags.force, passwordStdin: flags['password-stdin'], json: flags.json === true }, this.paths);
  }
}
