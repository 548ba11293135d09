import { Flags } from '@oclif/core';
import { auditVerifyAction } from '../../actions/audit.js';
import { GlassdomeCommand } from '../../cli/base.js';
import { storeFlag } from '../../cli/store-flag.js';

export default class AuditVerify extends GlassdomeCommand {
  static override summary = 'Check the audit log’s chain, MACs and anchor';
  static override description = 'Exits 0 when every line is intact and in order, 6 at the first edited, removed, reordered or rebuilt line, or when the log no longer reaches the line the vault anchored (a cut tail, a deleted log, a dropped head), naming it. The MACs and the anchor need the key: through the unlocked agent, the keyring session, or the master password (--password-stdin); without it only the hash chain is checked, and the output says so.';
  static override examples = ['<%= config.bin %> audit verify', 'printf %s "$PW" | <%= config.bin %> audit verify --password-stdin', 'printf %s "$PW" | <%= config.bin %> audit verify --password-stdin --store etcd://10.0.0.1:2379 --replica-id serve-a'];
  static override flags = {
    'password-stdin': Flags.boolean({ description: 'check MACs and the anchor with the master password, read from stdin' }),
    store: storeFlag,
    'replica-id': Flags.string({ description: 'with --store: the serve replica whose log this is, whose head in etcd the log is checked against (default: the id serve derives from the host name and $GLASSDOME_HOME)' }),
    'reset-anchor': Flags.boolean({ description: 'accept the log as it is now (after a deliberate deletion, or once the evidence is kept): seal its last line as the new anchor; needs the master password' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AuditVerify);
    await auditVerifyAction({ passwordStdin: flags['password-stdin'], resetAnchor: flags['reset-anchor'], store: flags.store, replicaId: flags['replica-id'] }, this.paths);
  }
}
