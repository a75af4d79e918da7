// What chatd reads from files and the environment rather than from flags (ServerInputs): the
// message of the day, the admin token, which would end up in a log or `ps` as a flag, and the
// TLS certificate and key. Read at start and again on SIGHUP; each failure is a ConfigError that
// names the file to fix.

import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { DEFAULT_MOTD, sanitizeText } from '../protocol/index.ts';
import { ConfigError, type ServerConfig } from './config.ts';

/** A message of the day longer than this is a mistake (a log file named by accident), not a welcome. */
export const MAX_MOTD_LINES = 50;

/**
 * The message of the day (--motd): the file's lines, sanitized as a client line is (PROTOCOL.md
 * §2.3), blank lines at either end dropped; chatd's own line without --motd, none for `--motd ''`.
 * Read at start and again on SIGHUP.
 */
export function readMotd(config: Pick<ServerConfig, 'motdFile' | 'maxLineBytes'>, readFile: (path: string) => string): readonly string[] {
  const path = config.motdFile;
  if (path === null) return DEFAULT_MOTD;
  if (path === '') return [];
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read --motd ${path}: ${(error as Error).message}`);
  }
  const lines = text.split(/\r?\n/).map((line) => sanitizeText(line).trimEnd());
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > MAX_MOTD_LINES) throw new ConfigError(`--motd ${path} has ${lines.length} lines; keep it to ${MAX_MOTD_LINES} at most`);
  const long = lines.findIndex((line) => Buffer.byteLength(line) > config.maxLineBytes);
  if (long !== -1) throw new ConfigError(`--motd ${path}: line ${long + 1} is over --max-line (${config.maxLineBytes} bytes); shorten it`);
  return lines;
}

/** The environment variable that may hold the admin token itself (never a flag: see readAdminToken). */
export const ADMIN_TOKEN_VARIABLE = 'CHATD_ADMIN_TOKEN';

/**
 * The bearer token POST /announce requires, or null when none is set (then /announce answers 403).
 * It comes from the file named by --admin-token-file (its contents, trimmed) or from
 * CHATD_ADMIN_TOKEN, never from a flag: a command line is visible to every user of the machine
 * (ps, /proc/PID/cmdline). Both at once is an error, so that rotating one never leaves the other
 * silently in force.
 */
export function readAdminToken(
  config: Pick<ServerConfig, 'adminTokenFile'>,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
): string | null {
  const fromEnv = env[ADMIN_TOKEN_VARIABLE];
  const path = config.adminTokenFile;
  if (path !== null && fromEnv !== undefined) {
    throw new ConfigError(`the admin token is set twice, by --admin-token-file ${path} and by ${ADMIN_TOKEN_VARIABLE}; keep one`);
  }
  if (path !== null) {
    let text: string;
    try {
      text = readFile(path);
    } catch (error) {
      throw new ConfigError(`cannot read --admin-token-file ${path}: ${(error as Error).message}`);
    }
    const token = text.trim();
    if (token === '') throw new ConfigError(`--admin-token-file ${path} is empty; write the token into it`);
    return token;
  }
  if (fromEnv === undefined) return null;
  const token = fromEnv.trim();
  if (token === '') throw new ConfigError(`${ADMIN_TOKEN_VARIABLE} is empty; set it to the token, or unset it to turn /announce off`);
  return token;
}

/** The certificate and key chatd serves TLS with, as PEM text; checked to belong together. */
export interface TlsIdentity {
  readonly cert: string;
  readonly key: string;
  /** The leaf certificate's subject and end of validity, for the log line at start and at reload. */
  readonly subject: string;
  readonly validTo: Date;
}

/**
 * --tls-cert and --tls-key, read and tried: a file that cannot be read, that holds no PEM, or a
 * key that is not the certificate's is a ConfigError naming the file, never a half-working
 * listener. null without them. Read at start and again on SIGHUP (a renewed certificate).
 */
export function readTlsIdentity(
  config: Pick<ServerConfig, 'tlsCertFile' | 'tlsKeyFile'>,
  readFile: (path: string) => string,
): TlsIdentity | null {
  const { tlsCertFile: certFile, tlsKeyFile: keyFile } = config;
  if (certFile === null || keyFile === null) return null;
  const read = (flag: string, path: string, marker: RegExp, what: string): string => {
    let text: string;
    try {
      text = readFile(path);
    } catch (error) {
      throw new ConfigError(`cannot read ${flag} ${path}: ${(error as Error).message}`);
    }
    if (!marker.test(text)) throw new ConfigError(`${flag} ${path} holds no PEM ${what} (a "-----BEGIN ${what.toUpperCase()}-----" block)`);
    return text;
  };
  const cert = read('--tls-cert', certFile, /-----BEGIN CERTIFICATE-----/, 'certificate');
  const key = read('--tls-key', keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError(`--tls-cert ${certFile} is not a certificate chatd can read: ${(error as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const cause = error as NodeJS.ErrnoException;
    if (cause.code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' || /key values mismatch/i.test(cause.message)) {
      throw new ConfigError(`--tls-key ${keyFile} is not the key of the certificate in --tls-cert ${certFile}; give the key the certificate was made for`);
    }
    throw new ConfigError(`--tls-cert ${certFile} and --tls-key ${keyFile} cannot be used: ${cause.message}`);
  }
  return { cert, key, subject: leaf.subject.replaceAll('\n', ', '), validTo: new Date(leaf.validTo) };
}
