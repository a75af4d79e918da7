// `npm run bench:regression`: checks out the reference chatd in a temporary git worktree, runs
// the regression comparison against this checkout, prints the figures, and exits 1 on a
// regression. The reference is CHATD_BENCH_REFERENCE (any git revision) if set, else the newest
// tag before HEAD, else HEAD~1. See docs/BENCHMARKS.md.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { THIS_CHECKOUT as ROOT } from './processes/chatd.ts';
import {
  benchRunner,
  CI_WORKLOAD,
  compare,
  DEFAULT_THRESHOLDS,
  IDLE_RTT_THRESHOLDS,
  IDLE_RTT_WORKLOAD,
  type RunFigures,
  type Thresholds,
  type Workload,
} from './regression.ts';

const PAIRS = Number(process.env['CHATD_BENCH_PAIRS'] ?? 5);

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function tryGit(...args: string[]): string | undefined {
  try {
    return git(...args);
  } catch {
    return undefined;
  }
}

function chooseReference(): string | undefined {
  const asked = process.env['CHATD_BENCH_REFERENCE'];
  if (asked !== undefined && asked !== '') return asked;
  return tryGit('describe', '--tags', '--abbrev=0', 'HEAD~1') ?? tryGit('rev-parse', '--verify', '--quiet', 'HEAD~1');
}

async function main(): Promise<void> {
  const reference = chooseReference();
  if (reference === undefined) {
    console.log('bench:regression: no earlier commit to compare with; nothing to check.');
    return;
  }
  const referenceCommit = git('rev-parse', '--short', reference);
  const worktree = mkdtempSync(join(tmpdir(), 'chatd-reference-'));
  try {
    git('worktree', 'add', '--detach', '--force', worktree, reference);
    if (!existsSync(join(worktree, 'cli/chatd.ts'))) {
      console.log(`bench:regression: ${reference} (${referenceCommit}) has no cli/chatd.ts; nothing to compare with.`);
      return;
    }
    provideDependencies(worktree);
    console.log(`bench:regression: reference ${reference} (${referenceCommit}) against this checkout, ${PAIRS} alternating pairs of each workload`);
    const regressions: string[] = [];
    for (const check of CHECKS) regressions.push(...(await runCheck(check, worktree)));
    if (regressions.length > 0) {
      console.log(`bench:regression: FAILED: ${regressions.join('; ')}`);
      process.exitCode = 1;
    } else {
      console.log('bench:regression: passed: no regression beyond the thresholds');
    }
  } finally {
    tryGit('worktree', 'remove', '--force', worktree);
    rmSync(worktree, { recursive: true, force: true });
  }
}

interface Check {
  readonly name: string;
  readonly workload: Workload;
  readonly thresholds: Thresholds;
}

/** The loaded workload (CPU per delivery is its sharp test), then the idle round trip (its latency). */
const CHECKS: readonly Check[] = [
  { name: 'loaded', workload: CI_WORKLOAD, thresholds: DEFAULT_THRESHOLDS },
  { name: 'idle round trip', workload: IDLE_RTT_WORKLOAD, thresholds: IDLE_RTT_THRESHOLDS },
];

const show = (figures: RunFigures): string =>
  `cpu ${figures.cpuPerDeliveryUs.toFixed(2)} µs/delivery  p50 ${figures.p50Ms.toFixed(2)} ms  p99 ${figures.p99Ms.toFixed(2)} ms  ` +
  `${Math.round(figures.deliveriesPerSecond)} deliveries/s${figures.isClean ? '' : '  (integrity broken)'}`;

/** Runs one workload's alternating pairs and prints them; returns its regressions, each named after the check. */
async function runCheck(check: Check, worktree: string): Promise<string[]> {
  const { workload } = check;
  console.log(`${check.name}: ${workload.clients} clients, ${workload.senders} senders × ${workload.rate}/s, ${workload.duration} s a run`);
  const comparison = await compare(benchRunner(workload), worktree, ROOT, PAIRS, check.thresholds, (which, pair, figures) => {
    console.log(`  pair ${pair + 1} ${which.padEnd(9)}  ${show(figures)}`);
  });
  const { medianRatios: r } = comparison;
  console.log(
    `  median ratios (this / reference): cpu per delivery ${r.cpuPerDelivery.toFixed(2)}, p50 ${r.p50.toFixed(2)}, ` +
      `p99 ${r.p99.toFixed(2)}, deliveries/s ${r.deliveriesPerSecond.toFixed(2)}`,
  );
  return comparison.regressions.map((regression) => `${check.name}: ${regression}`);
}

/** The reference runs on this checkout's node_modules when its lockfile is the same, else its own. */
function provideDependencies(worktree: string): void {
  const sameLock =
    existsSync(join(worktree, 'package-lock.json')) &&
    readFileSync(join(worktree, 'package-lock.json'), 'utf8') === readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
  if (sameLock) {
    symlinkSync(join(ROOT, 'node_modules'), join(worktree, 'node_modules'), 'dir');
  } else {
    execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: worktree, stdio: 'inherit' });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:regression: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
