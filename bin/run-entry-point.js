// Runs a TypeScript entry point of chatd on a Node that can: this one if it strips types and has
// reusePort (22.18+), else the Node 24 from the project's node_modules, else one clear error.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
const isNodeRecentEnough = major > 22 || (major === 22 && minor >= 18);

/**
 * @param {string} command the name users type
 * @param {string} entry the .ts file, relative to this folder
 */
export function runEntryPoint(command, entry) {
  const entryUrl = new URL(entry, import.meta.url);
  if (isNodeRecentEnough) {
    import(entryUrl.href);
    return;
  }
  const bundledNode = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(bundledNode)) {
    process.stderr.write(
      `${command}: needs Node 22.18 or newer (24 LTS recommended); this is ${process.version}. ` +
        'Run npm install in the chatd folder (it installs Node 24 there), or install Node 24.\n',
    );
    process.exit(1);
  }
  const child = spawn(bundledNode, [fileURLToPath(entryUrl), ...process.argv.slice(2)], { stdio: 'inherit' });
  // The child is the real server: pass on the signals that stop or reload it, and its exit status.
  const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of forwarded) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    for (const name of forwarded) process.removeAllListeners(name);
    process.kill(process.pid, signal); // die of the same signal, as a shell expects
  });
}
