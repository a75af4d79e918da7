// The HTTP admin side's pure parts: which endpoint a request is for, and the bearer-token check.

import { describe, expect, it } from 'vitest';
import { checkBearer, digest, resolveRoute } from '../../server/admin-http.ts';

describe('resolveRoute', () => {
  it.each([
    ['GET', '/healthz', 'healthz'],
    ['HEAD', '/healthz', 'healthz'],
    ['GET', '/metrics', 'metrics'],
    ['GET', '/metrics?name[]=chatd_lines_in_total', 'metrics'],
    ['GET', '/who', 'who'],
    ['POST', '/announce', 'announce'],
  ])('sends %s %s to %s', (method, url, endpoint) => {
    expect(resolveRoute(method, url)).toEqual({ kind: 'found', endpoint });
  });

  it.each([
    ['POST', '/healthz', 'GET, HEAD'],
    ['DELETE', '/who', 'GET, HEAD'],
    ['GET', '/announce', 'POST'],
    ['PUT', '/announce', 'POST'],
  ])('refuses %s %s with the methods it allows: %s', (method, url, allow) => {
    expect(resolveRoute(method, url)).toEqual({ kind: 'method-not-allowed', allow });
  });

  it.each([['/'], ['/healthz/'], ['/Healthz'], ['/metrics/x'], ['//who'], ['']])('knows no endpoint at %j', (url) => {
    expect(resolveRoute('GET', url)).toEqual({ kind: 'not-found' });
  });
});

describe('checkBearer', () => {
  const token = digest('s3cret-token');

  it('accepts the token after Bearer, the scheme in any case', () => {
    expect(checkBearer('Bearer s3cret-token', token)).toBe('ok');
    expect(checkBearer('bearer s3cret-token', token)).toBe('ok');
    expect(checkBearer('BEARER  s3cret-token ', token)).toBe('ok');
  });

  it.each([['Bearer s3cret-tokeN'], ['Bearer s3cret'], ['Bearer s3cret-token-and-more'], ['Bearer x']])(
    'calls %j a wrong token',
    (header) => {
      expect(checkBearer(header, token)).toBe('wrong');
    },
  );

  it.each([[undefined], [''], ['s3cret-token'], ['Basic czNjcmV0LXRva2Vu'], ['Bearer'], ['Bearer '], ['Bearer a b']])(
    'calls %j a missing token',
    (header) => {
      expect(checkBearer(header, token)).toBe('missing');
    },
  );
});
