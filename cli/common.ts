// What the command-line entry points share: the Node version check, one-line failures, the version.

export { packageVersion } from '../server/version.ts';

/** reusePort on server.listen arrived in Node 22.12; type stripping needs 22.18 or 23.6+. */
const MINIMUM_NODE = [22, 18] as const;

export function checkNodeVersion(command: string): void {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major < MINIMUM_NODE[0] || (major === MINIMUM_NODE[0] && minor < MINIMUM_NODE[1])) {
    fail(
      command,
      `needs Node ${MINIMUM_NODE.join('.')} or newer (24 LTS recommended); this is ${process.version}. ` +
        'Run it through npm (npm start), which uses the Node 24 that npm install put in node_modules.',
      1,
    );
  }
}

/** Prints one line on stderr and exits. */
export function fail(command: string, message: string, exitCode: number): never {
  process.stderr.write(`${command}: ${message}\n`);
  process.exit(exitCode);
}

