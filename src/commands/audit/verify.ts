import { auditVerifyAction } from '../../actions/audit.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class AuditVerify extends GlassdomeCommand {
  static override summary = 'Check the audit log’s hash chain';
  static override description = 'Exits 0 when every line is intact and in order, 6 at the first edited, removed or reordered line, naming it.';

  async run(): Promise<void> {
    await this.parse(AuditVerify);
    auditVerifyAction(this.paths);
  }
}
