import { describe, expect, it } from 'vitest';
import { readAdminToken } from '../../server/config-inputs.ts';
import { buildConfig, ConfigError, resolveConfig } from '../../server/config.ts';

describe('buildConfig', () => {
  it('uses the documented defaults', () => {
    expect(buildConfig({})).toMatchObject({
      host: '127.0.0.1',
      port: 8000,
      idleTimeoutSeconds: 60,
      maxLineBytes: 4096,
      maxClients: 10_000,
      maxPendingBytes: 1 << 20,
      httpPort: null,
      adminTokenFile: null,
      redisUrl: null,
      logLevel: 'info',
    });
  });

  it('takes a redis:// or rediss:// URL for --redis', () => {
    expect(buildConfig({ redis: 'redis://10.0.0.5:6379' }).redisUrl).toBe('redis://10.0.0.5:6379');
    expect(buildConfig({ redis: 'rediss://:secret@cache.example:6380/2' }).redisUrl).toBe('rediss://:secret@cache.example:6380/2');
  });

  it('turns the HTTP endpoints on only when --http-port is given, 0 included', () => {
    expect(buildConfig({}).httpPort).toBeNull();
    expect(buildConfig({ 'http-port': '0' }).httpPort).toBe(0);
    expect(buildConfig({ 'http-port': 9100 }).httpPort).toBe(9100);
  });

  it('turns the web port and the TLS port on only when given, and checks the certificate flags go together', () => {
    expect(buildConfig({})).toMatchObject({ webPort: null, tlsPort: null, tlsCertFile: null, tlsKeyFile: null, webOrigins: [], webKeepaliveSeconds: 20 });
    expect(buildConfig({ 'web-port': '0' }).webPort).toBe(0);
    expect(buildConfig({ 'tls-port': '8443', 'tls-cert': '/c.pem', 'tls-key': '/k.pem' })).toMatchObject({ tlsPort: 8443, tlsCertFile: '/c.pem', tlsKeyFile: '/k.pem' });
    expect(buildConfig({ 'web-port': '8080', 'web-origin': 'https://App.example.com, http://localhost:3000' }).webOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
    ]);
  });

  it('reads values typed as strings', () => {
    expect(buildConfig({ port: '0', 'idle-timeout': '5', workers: '3' })).toMatchObject({ port: 0, idleTimeoutSeconds: 5, workers: 3 });
  });

  it.each([
    [{ port: '70000' }, '--port must be a whole number from 0 to 65535; got 70000'],
    [{ port: 'http' }, '--port must be a whole number from 0 to 65535; got http'],
    [{ workers: '0' }, '--workers must be a whole number from 1 to 256; got 0'],
    [{ 'idle-timeout': '1.5' }, '--idle-timeout must be a whole number from 1 to 86400; got 1.5'],
    [{ 'max-line': '' }, '--max-line must be a whole number from 16 to 1048576; got '],
    [{ port: '0x4650' }, '--port must be a whole number from 0 to 65535; got 0x4650'],
    [{ port: '1e3' }, '--port must be a whole number from 0 to 65535; got 1e3'],
    [{ 'rate-limit': ' ' }, '--rate-limit must be a number from 0 to 1000000; got  '],
    [{ port: '9000', 'http-port': '9000' }, '--http-port must differ from --port (both are 9000); choose another port for the HTTP endpoints'],
    [{ 'log-level': 'loud' }, '--log-level must be one of fatal, error, warn, info, debug, silent; got loud'],
    [{ host: ' ' }, '--host must be an address or a host name, such as 127.0.0.1 or ::; got  '],
    [{ 'http-port': '65536' }, '--http-port must be a whole number from 0 to 65535; got 65536'],
    [{ 'http-port': '' }, '--http-port must be a whole number from 0 to 65535; got '],
    [{ 'admin-token-file': ' ' }, '--admin-token-file must be the path of a file that holds the token; got  '],
    [{ 'tls-port': '8443' }, '--tls-port needs --tls-cert and --tls-key (docs/OPERATIONS.md shows how to make a certificate for local use)'],
    [{ 'tls-cert': '/c.pem' }, '--tls-cert needs --tls-key: give both, or neither'],
    [{ 'tls-key': '/k.pem' }, '--tls-key needs --tls-cert: give both, or neither'],
    [{ port: '9000', 'web-port': '9000' }, '--web-port must differ from --port (both are 9000); choose another port for the web client'],
    [
      { 'web-port': '8080', 'tls-port': '8080', 'tls-cert': '/c', 'tls-key': '/k' },
      '--tls-port must differ from --web-port (both are 8080); choose another port for the line protocol over TLS',
    ],
    [{ 'web-origin': 'https://a.example' }, '--web-origin applies to the web port only; give --web-port too, or leave --web-origin out'],
    [{ 'history-size': '10', 'history-on-join': '11' }, '--history-on-join (11) must be at most --history-size (10)'],
    [{ 'history-size': '0', 'data-dir': '/var/lib/chatd' }, '--data-dir keeps the history, but --history-size is 0; give a size, or leave --data-dir out'],
    [
      { redis: 'redis://127.0.0.1:6379', 'data-dir': '/var/lib/chatd' },
      "--data-dir keeps one server's history; with --redis the history is the cluster's, kept in Redis (docs/CLUSTER.md): leave --data-dir out",
    ],
    [{ 'data-dir': ' ' }, '--data-dir must be the path of a directory where chatd keeps its history; got  '],
    [{ 'resume-window': '-1' }, '--resume-window must be a whole number from 0 to 86400; got -1'],
    [
      { 'web-port': '8080', 'web-origin': 'https://a.example/chat' },
      '--web-origin must be origins such as https://chat.example.com or http://localhost:8080, comma separated, without a path; got https://a.example/chat',
    ],
    [
      { 'web-port': '8080', 'web-origin': '*' },
      '--web-origin must be origins such as https://chat.example.com or http://localhost:8080, comma separated, without a path; got *',
    ],
    [{ 'web-keepalive': '0' }, '--web-keepalive must be a whole number from 1 to 3600; got 0'],
    [
      { redis: '127.0.0.1:6379' },
      '--redis must be a URL such as redis://127.0.0.1:6379 (rediss:// for TLS; redis://:PASSWORD@host:6379 with a password); got 127.0.0.1:6379',
    ],
  ])('refuses %o with a message that says what to change', (raw, message) => {
    expect(() => buildConfig(raw)).toThrow(new ConfigError(message));
  });
});

describe('resolveConfig', () => {
  const files: Record<string, string> = {
    '/etc/chatd.json': '{"port": 9000, "idle-timeout": 30, "max-per-ip": 4}',
    '/etc/bad.json': '{"port": 9000, "idle_timeout": 30}',
    '/etc/broken.json': '{"port": ',
    '/etc/null.json': '{"port": null}',
    '/etc/array.json': '{"port": [18013]}',
    '/etc/object.json': '{"host": {"ip": "::"}}',
    '/etc/admin.json': '{"http-port": 9100, "admin-token-file": "/etc/chatd.token"}',
  };
  const readFile = (path: string): string => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  };

  it('lets flags win over CHATD_* variables, and those over the config file', () => {
    const config = resolveConfig({ config: '/etc/chatd.json', port: '7000' }, { CHATD_IDLE_TIMEOUT: '15', CHATD_PORT: '8000' }, readFile);
    expect(config).toMatchObject({ port: 7000, idleTimeoutSeconds: 15, maxPerIp: 4 });
  });

  it('reads the config file named by CHATD_CONFIG', () => {
    expect(resolveConfig({}, { CHATD_CONFIG: '/etc/chatd.json' }, readFile)).toMatchObject({ port: 9000 });
  });

  it.each([
    [{ config: '/etc/bad.json' }, {}, '--config /etc/bad.json: unknown key "idle_timeout"; known keys: host, port, workers, idle-timeout, max-line, max-clients, max-pending, rate-limit, rate-burst, max-per-ip, web-keepalive, history-size, history-on-join, resume-window, http-port, web-port, tls-port, admin-token-file, redis, motd, log-level, tls-cert, tls-key, web-origin, data-dir'],
    [{ config: '/etc/broken.json' }, {}, '--config /etc/broken.json is not valid JSON'],
    [{ config: '/etc/null.json' }, {}, '--config /etc/null.json: "port" is null; give it a value, or leave the key out for the default'],
    [{ config: '/etc/array.json' }, {}, '--config /etc/array.json: "port" must be one value, such as 8000; got [18013]'],
    [{ config: '/etc/object.json' }, {}, '--config /etc/object.json: "host" must be one value, such as "127.0.0.1"; got {"ip":"::"}'],
    [{ config: '/etc/none.json' }, {}, "cannot read --config /etc/none.json: ENOENT: no such file or directory, open '/etc/none.json'"],
    [{}, { CHATD_PROT: '1' }, 'unknown environment variable CHATD_PROT'],
    [{}, { CHATD_RATE_LIMIT: 'fast' }, 'CHATD_RATE_LIMIT must be a number from 0 to 1000000; got fast'],
    [{}, { CHATD_HTTP_PORT: '-1' }, 'CHATD_HTTP_PORT must be a whole number from 0 to 65535; got -1'],
    [{ config: '/etc/chatd.json' }, { CHATD_MAX_PER_IP: '-1' }, 'CHATD_MAX_PER_IP must be a whole number from 0 to 1000000; got -1'],
  ])('refuses %o with env %o, saying where the bad setting came from', (flags, env, message) => {
    expect(() => resolveConfig(flags, env, readFile)).toThrow(message);
  });

  it('ignores CHATD_ADMIN_TOKEN, a secret read where it is used', () => {
    expect(() => resolveConfig({}, { CHATD_ADMIN_TOKEN: 'x' }, readFile)).not.toThrow();
  });

  it('reads http-port and admin-token-file from the config file and from CHATD_HTTP_PORT, CHATD_ADMIN_TOKEN_FILE', () => {
    expect(resolveConfig({ config: '/etc/admin.json' }, {}, readFile)).toMatchObject({ httpPort: 9100, adminTokenFile: '/etc/chatd.token' });
    expect(resolveConfig({}, { CHATD_HTTP_PORT: '0', CHATD_ADMIN_TOKEN_FILE: '/run/token' }, readFile)).toMatchObject({
      httpPort: 0,
      adminTokenFile: '/run/token',
    });
  });
});

describe('readAdminToken', () => {
  const files: Record<string, string> = { '/etc/chatd.token': '  s3cret\n', '/etc/empty.token': ' \n' };
  const readFile = (path: string): string => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  };

  it('is null when neither the file nor CHATD_ADMIN_TOKEN is set: /announce is off', () => {
    expect(readAdminToken({ adminTokenFile: null }, {}, readFile)).toBeNull();
  });

  it('reads the file and trims it', () => {
    expect(readAdminToken({ adminTokenFile: '/etc/chatd.token' }, {}, readFile)).toBe('s3cret');
  });

  it('reads CHATD_ADMIN_TOKEN and trims it', () => {
    expect(readAdminToken({ adminTokenFile: null }, { CHATD_ADMIN_TOKEN: ' tok \n' }, readFile)).toBe('tok');
  });

  it.each([
    [{ adminTokenFile: '/etc/none.token' }, {}, "cannot read --admin-token-file /etc/none.token: ENOENT: no such file or directory, open '/etc/none.token'"],
    [{ adminTokenFile: '/etc/empty.token' }, {}, '--admin-token-file /etc/empty.token is empty; write the token into it'],
    [{ adminTokenFile: null }, { CHATD_ADMIN_TOKEN: '  ' }, 'CHATD_ADMIN_TOKEN is empty; set it to the token, or unset it to turn /announce off'],
    [
      { adminTokenFile: '/etc/chatd.token' },
      { CHATD_ADMIN_TOKEN: 'other' },
      'the admin token is set twice, by --admin-token-file /etc/chatd.token and by CHATD_ADMIN_TOKEN; keep one',
    ],
  ])('refuses %o with env %o, saying what to change', (config, env, message) => {
    expect(() => readAdminToken(config, env, readFile)).toThrow(new ConfigError(message));
  });
});
