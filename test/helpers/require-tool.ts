// Whether a system tool a test needs is here (openssl, chromium): without it the test skips with
// a message saying what to install; under CI=true it fails instead, so that a CI machine that
// lacks the tool cannot pass by skipping (as test/helpers/redis-server.ts does for redis-server).

/** `found` as given; warns that the tests skip, or throws under CI=true, when it is false. */
export function requireTool(name: string, found: boolean, install: string): boolean {
  if (found) return true;
  const hint = `${name} is not installed: ${install} to run these tests`;
  if (process.env['CI'] === 'true') throw new Error(`${hint} (CI=true: a missing tool fails the run)`);
  console.warn(`skipping: ${hint}`);
  return false;
}
