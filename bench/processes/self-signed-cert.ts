// A throwaway TLS certificate for the bench and the tests: a self-signed one for localhost and
// 127.0.0.1, made by Debian's openssl (as docs/OPERATIONS.md shows an operator making one) in a
// temporary directory of its own. Runs in the bench's main thread or a vitest worker.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCert {
  /** PEM files, for chatd's --tls-cert and --tls-key. */
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate's PEM text, for a client's `ca` (it is its own authority). */
  readonly certPem: string;
  readonly directory: string;
  /** Removes the directory and both files. */
  remove(): void;
}

/** Whether openssl is on PATH; a caller without it skips, or fails under CI=true. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A P-256 key and a certificate valid for one day, for CN=localhost with the subject names
 * localhost and 127.0.0.1. `commonName` tells two certificates apart (a reload test).
 */
export function makeSelfSignedCert(commonName = 'localhost'): SelfSignedCert {
  const directory = mkdtempSync(join(tmpdir(), 'chatd-cert-'));
  const certFile = join(directory, 'cert.pem');
  const keyFile = join(directory, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${commonName}`,
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return {
    certFile,
    keyFile,
    certPem: readFileSync(certFile, 'utf8'),
    directory,
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}
