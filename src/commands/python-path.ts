import { pythonClientDir } from '../actions/python-path.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class PythonPath extends GlassdomeCommand {
  static override summary = 'Print the directory of the Python client (glassdome.py), for PYTHONPATH';
  static override description = 'The client is one standard-library file: import glassdome; glassdome.secrets() under exec, or glassdome.get(NAME) through the agent.';
  static override examples = ['PYTHONPATH="$(<%= config.bin %> python-path)" python3 -c "import glassdome"', 'PYTHONPATH="$(<%= config.bin %> python-path)" <%= config.bin %> exec -- python3 app.py'];

  async run(): Promise<void> {
    await this.parse(PythonPath);
    this.log(pythonClientDir());
  }
}
