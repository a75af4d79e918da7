// --tls-cert and --tls-key as chatd reads them at start and on SIGHUP: each way a pair can be
// unusable is one ConfigError naming the file. Certificates are made by openssl in the test.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasOpenssl, makeSelfSignedCert, type SelfSignedCert } from '../../bench/processes/self-signed-cert.ts';
import { readTlsIdentity } from '../../server/config-inputs.ts';
import { ConfigError } from '../../server/config.ts';
import { requireTool } from '../helpers/require-tool.ts';

const available = requireTool('openssl', hasOpenssl(), 'apt-get install openssl');
const certs: SelfSignedCert[] = [];
afterAll(() => {
  for (const cert of certs) cert.remove();
});
const read = (path: string): string => readFileSync(path, 'utf8');

describe.runIf(available)('readTlsIdentity', () => {
  const one = makeSelfSignedCert('one.test');
  const two = makeSelfSignedCert('two.test');
  certs.push(one, two);

  it('reads a certificate and its key, with the subject and the end of validity', () => {
    const identity = readTlsIdentity({ tlsCertFile: one.certFile, tlsKeyFile: one.keyFile }, read);
    expect(identity?.subject).toBe('CN=one.test');
    expect(identity!.validTo.getTime()).toBeGreaterThan(Date.now());
    expect(readTlsIdentity({ tlsCertFile: null, tlsKeyFile: null }, read)).toBeNull();
  });

  it('refuses a key that is not the certificate’s', () => {
    expect(() => readTlsIdentity({ tlsCertFile: one.certFile, tlsKeyFile: two.keyFile }, read)).toThrow(
      new ConfigError(`--tls-key ${two.keyFile} is not the key of the certificate in --tls-cert ${one.certFile}; give the key the certificate was made for`),
    );
  });

  it('refuses a file it cannot read, and one that holds no PEM', () => {
    const missing = join(one.directory, 'missing.pem');
    expect(() => readTlsIdentity({ tlsCertFile: missing, tlsKeyFile: one.keyFile }, read)).toThrow(
      new ConfigError(`cannot read --tls-cert ${missing}: ENOENT: no such file or directory, open '${missing}'`),
    );
    const garbage = join(one.directory, 'garbage.pem');
    writeFileSync(garbage, 'this is not a certificate\n');
    expect(() => readTlsIdentity({ tlsCertFile: garbage, tlsKeyFile: one.keyFile }, read)).toThrow(
      new ConfigError(`--tls-cert ${garbage} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block)`),
    );
    expect(() => readTlsIdentity({ tlsCertFile: one.certFile, tlsKeyFile: garbage }, read)).toThrow(
      new ConfigError(`--tls-key ${garbage} holds no PEM private key (a "-----BEGIN PRIVATE KEY-----" block)`),
    );
  });

  it('refuses a certificate block that does not parse', () => {
    const broken = join(one.directory, 'broken.pem');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(() => readTlsIdentity({ tlsCertFile: broken, tlsKeyFile: one.keyFile }, read)).toThrow(/^--tls-cert .*broken\.pem is not a certificate chatd can read: /);
  });
});
