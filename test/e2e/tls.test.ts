// TLS on a real chatd, with certificates made by openssl in the test: the line protocol over
// --tls-port (Node's TLS client and openssl s_client) and WSS on the web port in one chat with a
// plain TCP client; TLS 1.1 refused; a bad certificate or key is one line and exit 1; SIGHUP
// loads a new certificate without dropping the client connected through the old one.

import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hasOpenssl, makeSelfSignedCert, type SelfSignedCert } from '../../bench/processes/self-signed-cert.ts';
import { connectAs, connectTls as connectTlsClient, disconnectAll, lineFrom, silentConnectionLifetime } from '../helpers/chat-client.ts';
import { requireTool } from '../helpers/require-tool.ts';
import { runChatdToExit, startChatd, stopAllChatd, type ChatdProcess } from '../helpers/start-server.ts';

const available = requireTool('openssl', hasOpenssl(), 'apt-get install openssl');
const certs: SelfSignedCert[] = [];
afterAll(async () => {
  await disconnectAll();
  await stopAllChatd();
  for (const cert of certs.splice(0)) cert.remove();
});

function newCert(commonName?: string): SelfSignedCert {
  const cert = makeSelfSignedCert(commonName);
  certs.push(cert);
  return cert;
}

function tlsArgs(cert: SelfSignedCert, extra: readonly string[] = []): string[] {
  return ['--tls-port', '0', '--web-port', '0', '--http-port', '0', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, ...extra];
}

/** The sum of a counter's series over the workers, from GET /metrics. */
async function metricTotal(server: ChatdProcess, name: string): Promise<number> {
  const record = await server.waitForLog((line) => line['event'] === 'http-listening');
  const text = await (await fetch(`http://127.0.0.1:${String(record['port'])}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

/** The subject CN of the certificate a fresh TLS handshake to `port` is shown. */
function peerCommonName(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connectTls({ host: '127.0.0.1', port, ca: [ca], servername: 'localhost', rejectUnauthorized: false }, () => {
      const name = socket.getPeerCertificate().subject.CN;
      socket.destroy();
      resolve(String(name));
    });
    socket.once('error', reject);
  });
}

describe.runIf(available)('chatd --tls-port and an HTTPS --web-port', () => {
  let server: ChatdProcess;
  let cert: SelfSignedCert;

  it('puts a TLS line client, a WSS client and a TCP client in one chat', async () => {
    cert = newCert();
    server = await startChatd(tlsArgs(cert));
    const tcp = await connectAs(server.port, 'alice');
    const secure = await connectTlsClient(server.tlsPort!, cert.certPem);
    await secure.expectLines(lineFrom(secure, 'login'), lineFrom(secure, 'I am here'));
    await tcp.expectLine(lineFrom(secure, 'login'));
    const wss = new WebSocket(`wss://localhost:${server.webPort}/ws`, { ca: cert.certPem });
    const wssLines: string[] = [];
    wss.on('message', (data: Buffer) => wssLines.push(...data.toString().split('\r\n').filter((line) => line !== '')));
    await expect.poll(() => wssLines.length).toBeGreaterThanOrEqual(2);
    const wssAddr = /^\[([^\]]+)\]/.exec(wssLines[0]!)![1]!;
    await tcp.expectLine(`[${wssAddr}]${wssAddr}:login`);
    await secure.expectLine(`[${wssAddr}]${wssAddr}:login`);
    await secure.send('over tls');
    await tcp.expectLine(lineFrom(secure, 'over tls'));
    await secure.expectLine(lineFrom(secure, 'over tls'));
    await expect.poll(() => wssLines).toContain(lineFrom(secure, 'over tls'));
    wss.send('over wss');
    for (const client of [tcp, secure]) await client.expectLine(`[${wssAddr}]${wssAddr}:over wss`);
    const page = await fetch(`https://localhost:${server.webPort}/`).catch((error: unknown) => error);
    expect(page).toBeInstanceOf(Error); // a self-signed certificate: fetch refuses it, as a browser would warn
    wss.terminate();
    await tcp.expectLine(`[${wssAddr}]${wssAddr}:login out`);
  });

  it('speaks the line protocol to openssl s_client', async () => {
    const client = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${server.tlsPort}`, '-quiet', '-verify_quiet'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let output = '';
    client.stdout.setEncoding('utf8');
    client.stdout.on('data', (text: string) => {
      output += text;
    });
    try {
      await expect.poll(() => output, { timeout: 5000 }).toMatch(/:I am here\r\n/);
      client.stdin.write('who\n');
      await expect.poll(() => output, { timeout: 5000 }).toMatch(/user list:\r\n/);
    } finally {
      client.kill();
    }
  });

  it('refuses TLS 1.1, and counts the failed handshake', async () => {
    const refused = await new Promise<Error | null>((resolve) => {
      // SECLEVEL=0 lets this client offer TLS 1.1 at all; the refusal must be the server's.
      const socket = connectTls({ host: '127.0.0.1', port: server.tlsPort!, ca: [cert.certPem], servername: 'localhost', minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, () => {
        socket.destroy();
        resolve(null);
      });
      socket.once('error', resolve);
    });
    expect(refused?.message).toMatch(/alert protocol version/i); // the server's alert, not the client refusing
    await expect.poll(() => metricTotal(server, 'chatd_tls_handshake_failures_total')).toBeGreaterThanOrEqual(1);
    const secure = await connectTlsClient(server.tlsPort!, cert.certPem);
    await secure.nextLine();
    expect(await peerCommonName(server.tlsPort!, cert.certPem)).toBe('localhost');
  });

  it('closes a connection that never starts its handshake, on both TLS listeners, after the 10 s handshake bound', async () => {
    const [linePort, webPort] = await Promise.all([silentConnectionLifetime(server.tlsPort!), silentConnectionLifetime(server.webPort!)]);
    for (const lifetime of [linePort, webPort]) {
      expect(lifetime).toBeGreaterThanOrEqual(9_000);
      expect(lifetime).toBeLessThan(15_000);
    }
  }, 20_000);

  it('loads a new certificate on SIGHUP; the client connected through the old one stays', async () => {
    const tcp = await connectAs(server.port, 'bob');
    const before = await connectTlsClient(server.tlsPort!, cert.certPem);
    await before.expectLines(lineFrom(before, 'login'), lineFrom(before, 'I am here'));
    await tcp.expectLine(lineFrom(before, 'login'));
    const renewed = newCert('renewed.test');
    copyFileSync(renewed.certFile, cert.certFile);
    copyFileSync(renewed.keyFile, cert.keyFile);
    const logsBefore = server.logs.length;
    process.kill(server.pid, 'SIGHUP');
    const reload = await server.waitForLog((record, index) => index >= logsBefore && record['event'] === 'tls-reload');
    expect(reload['subject']).toBe('CN=renewed.test');
    await expect.poll(() => peerCommonName(server.tlsPort!, renewed.certPem)).toBe('renewed.test');
    await expect.poll(() => peerCommonName(server.webPort!, renewed.certPem)).toBe('renewed.test');
    await before.send('still here');
    await tcp.expectLine(lineFrom(before, 'still here'));
  });
});

describe.runIf(available)('chatd with a certificate it cannot use', () => {
  it('says so in one line and exits 1: a key that is not the certificate’s, a missing file', async () => {
    const one = newCert('one.test');
    const two = newCert('two.test');
    const mismatched = await runChatdToExit(['--port', '0', '--tls-port', '0', '--tls-cert', one.certFile, '--tls-key', two.keyFile]);
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr).toBe(`chatd: --tls-key ${two.keyFile} is not the key of the certificate in --tls-cert ${one.certFile}; give the key the certificate was made for\n`);
    const missing = `${one.directory}/nope.pem`;
    const unreadable = await runChatdToExit(['--port', '0', '--web-port', '0', '--tls-cert', missing, '--tls-key', one.keyFile]);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr.trim().split('\n')).toEqual([`chatd: cannot read --tls-cert ${missing}: ENOENT: no such file or directory, open '${missing}'`]);
  });
});
