// `npm run bench:micro`: runs every micro bench in sequence, each in a process of its own so no
// bench inherits another's JIT state, heap or sockets. Prints figures; exits non-zero only if a
// bench itself failed.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const BENCHES = ['line-reader.bench.ts', 'encode.bench.ts', 'fan-out.bench.ts'] as const;

const started = performance.now();
let failed = 0;
for (const file of BENCHES) {
  const result = spawnSync(process.execPath, [join(import.meta.dirname, file)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.error(`${file} failed: ${result.error?.message ?? `exit ${result.status ?? result.signal ?? '?'}`}`);
  }
}
console.log(`\n${BENCHES.length} micro benches in ${((performance.now() - started) / 1000).toFixed(1)} s (node ${process.version})`);
if (failed > 0) process.exitCode = 1;
