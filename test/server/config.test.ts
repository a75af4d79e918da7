import { describe, expect, it } from 'vitest';
import { buildConfig, ConfigError } from '../../server/config.ts';

describe('buildConfig', () => {
  it('uses the documented defaults', () => {
    expect(buildConfig({})).toMatchObject({
      host: '127.0.0.1',
      port: 8000,
      idleTimeoutSeconds: 60,
      maxLineBytes: 4096,
      maxClients: 10_000,
      maxPendingBytes: 1 << 20,
      logLevel: 'info',
    });
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
    [{ 'log-level': 'loud' }, '--log-level must be one of fatal, error, warn, info, debug, silent; got loud'],
    [{ host: ' ' }, '--host must be an address or a host name, such as 127.0.0.1 or ::; got  '],
  ])('refuses %o with a message that says what to change', (raw, message) => {
    expect(() => buildConfig(raw)).toThrow(new ConfigError(message));
  });
});
