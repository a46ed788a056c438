// Empties dist/ before a build, so that a file whose source is gone (or that the build now
// leaves out, such as a test harness) does not linger there and end up in the package.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

rmSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'dist'), { recursive: true, force: true });
