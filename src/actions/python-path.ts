// Where the Python client ships: clients/python beside dist/ in the installed package.

import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';

/** The directory holding glassdome.py (absolute, symlinks resolved). */
export function pythonClientDir(): string {
  const dir = path.resolve(__dirname, '../../clients/python');
  if (!fs.existsSync(path.join(dir, 'glassdome.py'))) fail('io', `the python client is missing from ${dir}`, 'reinstall glassdome');
  return fs.realpathSync(dir);
}
