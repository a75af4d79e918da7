// Reads another process's resident memory from /proc, for the fuzz and soak runs (Linux only).

import { readFileSync } from 'node:fs';

/** VmRSS of process `pid` in MiB: what it holds in RAM now, all its threads included. */
export function readRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`/proc/${pid}/status has no VmRSS line (has the process exited?)`);
  return Number(match[1]) / 1024;
}

/** True while a process with this PID exists (signal 0 checks without sending anything). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: no such process
  }
}
