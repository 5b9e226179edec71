import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DirectorySecretsBackend, EnvSecretsBackend, parseConnection, SecretCipher, SecretMasker, SecretResolver } from '../src/secrets/index.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

describe('connections from text', () => {
  it.each([
    {
      text: 'postgres://etl:p%40ss%2Fw0rd@db.internal:5432/warehouse?sslmode=require',
      want: { type: 'postgres', host: 'db.internal', port: 5432, login: 'etl', password: 'p@ss/w0rd', schema: 'warehouse', extra: { sslmode: 'require' } },
    },
    {
      text: 'google-cloud-platform://?__extra__=%7B%22project%22%3A%22p1%22%2C%22scopes%22%3A%5B%22a%22%5D%7D',
      want: { type: 'google_cloud_platform', extra: { project: 'p1', scopes: ['a'] } },
    },
    { text: 'http://api.example.com', want: { type: 'http', host: 'api.example.com', extra: {} } },
    { text: 'http://:tok3n@api.example.com:8443', want: { type: 'http', host: 'api.example.com', port: 8443, password: 'tok3n', extra: {} } },
    {
      text: '{"type":"redis","host":"r","port":"6379","password":"pw-json","extra":"{\\"db\\":2}"}',
      want: { type: 'redis', host: 'r', port: 6379, password: 'pw-json', extra: { db: 2 } },
    },
    {
      text: '{"conn_type":"aws","login":"AKIA","password":"s3cr3t","extra":{"region_name":"eu-west-1"}}',
      want: { type: 'aws', login: 'AKIA', password: 's3cr3t', extra: { region_name: 'eu-west-1' } },
    },
  ])('$text', ({ text, want }) => {
    const c = parseConnection('c', text, 'ALOFT_CONN_C');
    expect(c).toEqual({ id: 'c', ...want, uri: expect.any(String) });
    // The URI form reads back as the same connection.
    const again = parseConnection('c', c.uri, 'uri');
    expect({ ...again, uri: '' }).toEqual({ ...c, uri: '' });
  });

  it.each([
    ['not a uri at all hunter2', 'ALOFT_CONN_X: not a connection URI'],
    ['{"type":"pg","password":"hunter2","bogus":1}', 'ALOFT_CONN_X: value: Unrecognized key'],
    ['{"host":"h","password":"hunter2"}', 'ALOFT_CONN_X: "type" is required'],
    ['pg://u:hunter2@h:99999', 'ALOFT_CONN_X: port 99999 is above 65535'],
    ['pg://u:hunter2%zz@h', 'ALOFT_CONN_X: password has a malformed %-escape'],
    ['{"type":"pg","password":"hunter2",', 'ALOFT_CONN_X: not a connection URI nor valid JSON'],
  ])('%s is an error naming the source and field, never the password', (text, msg) => {
    let err: Error | undefined;
    try {
      parseConnection('x', text, 'ALOFT_CONN_X');
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toContain(msg);
    expect(err?.message).not.toContain('hunter2');
  });
});

describe('SecretCipher', () => {
  it('opens what it sealed, only under the same name, and after rotation with the old key still held', () => {
    const a = SecretCipher.fromSetting(`a:${KEY_A}`)!;
    const sealed = a.seal('hunter2', 'aloft:connection:db');
    expect(sealed).toMatch(/^v1\.a\./);
    expect(sealed).not.toContain('hunter2');
    expect(a.seal('hunter2', 'aloft:connection:db')).not.toBe(sealed);
    expect(a.open(sealed, 'aloft:connection:db')).toBe('hunter2');
    expect(() => a.open(sealed, 'aloft:connection:other')).toThrow(/does not open with key "a"/);
    const rotated = SecretCipher.fromSetting(`b:${KEY_B},a:${KEY_A}`)!;
    expect(rotated.currentKeyId).toBe('b');
    expect(rotated.open(sealed, 'aloft:connection:db')).toBe('hunter2');
    expect(() => SecretCipher.fromSetting(`b:${KEY_B}`)!.open(sealed, 'aloft:connection:db')).toThrow(/key "a", which ALOFT_SECRETS_KEYS no longer holds/);
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'B' : 'A') + sealed.slice(-1);
    expect(() => a.open(tampered, 'aloft:connection:db')).toThrow(/altered/);
  });

  it('refuses a key that is not 32 bytes, without repeating it', () => {
    expect(() => SecretCipher.fromSetting('k:c2hvcnQ=')).toThrow(
      'ALOFT_SECRETS_KEYS: key 1 ("k") must be 32 bytes in base64 (openssl rand -base64 32); it is 5 bytes',
    );
    expect(SecretCipher.fromSetting(' ')).toBeUndefined();
  });
});

describe('SecretMasker', () => {
  const m = new SecretMasker().add('hunter2').add('p@ss w/rd+1').add('-----BEGIN KEY-----\nMIIEabcdef\n-----END KEY-----').add('ab');
  it.each([
    ['password=hunter2;', 'password=***;'],
    ['xxhunter2hunter2yy', 'xx******yy'],
    ['postgres://u:p%40ss%20w%2Frd%2B1@h/db', 'postgres://u:***@h/db'],
    ['form: p%40ss+w%2Frd%2B1', 'form: ***'],
    ['{"pw":"p@ss w/rd+1"}', '{"pw":"***"}'],
    ['key line MIIEabcdef seen', 'key line *** seen'],
    ['ab is too short to mask', 'ab is too short to mask'],
  ])('%s', (text, want) => {
    expect(m.mask(text)).toBe(want);
  });

  it('masks every string in a value, keys too', () => {
    expect(m.maskDeep({ a: ['x hunter2 y', 3, null], hunter2: { deep: 'hunter2' } })).toEqual({ a: ['x *** y', 3, null], '***': { deep: '***' } });
  });
});

describe('backends and the resolver', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aloft-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'connections'));
  mkdirSync(join(dir, 'variables'));
  writeFileSync(join(dir, 'connections', 'warehouse'), 'postgres://dir:dirpw@dir-host/w\n');
  writeFileSync(join(dir, 'connections', 'api'), '{"type":"http","host":"api","password":"dir-token"}');
  writeFileSync(join(dir, 'variables', 'region'), 'eu-west-1\n');
  writeFileSync(join(dir, 'variables', 'api_token'), 'tok-from-dir');
  const env = { ALOFT_CONN_WAREHOUSE: 'postgres://env:envpw@env-host/w', ALOFT_VAR_REGION: 'us-east-1', ALOFT_VAR_LIMITS: '{"max":3}' };

  it('asks the backends in order and the first that has a name wins', async () => {
    const masker = new SecretMasker();
    const r = new SecretResolver([new EnvSecretsBackend(env), new DirectorySecretsBackend(dir)], masker);
    expect((await r.connection('warehouse')).host).toBe('env-host');
    expect((await r.connection('api')).password).toBe('dir-token');
    expect(await r.variable('region')).toBe('us-east-1');
    expect(await r.variable('api_token')).toBe('tok-from-dir');
    expect(await r.variable('missing', 'fallback')).toBe('fallback');
    // Passwords and secret variables are masked from then on; a region is not a secret.
    expect(masker.mask('envpw dir-token tok-from-dir us-east-1')).toBe('*** *** *** us-east-1');
    const dirFirst = new SecretResolver([new DirectorySecretsBackend(dir), new EnvSecretsBackend(env)]);
    expect((await dirFirst.connection('warehouse')).host).toBe('dir-host');
    expect(await dirFirst.variable('region')).toBe('eu-west-1');
  });

  it('names every backend tried when none has the name, and refuses ids that would leave the folder', async () => {
    const r = new SecretResolver([new EnvSecretsBackend(env), new DirectorySecretsBackend(dir)]);
    await expect(r.connection('nope')).rejects.toThrow(`connection "nope" not found; tried env ALOFT_CONN_NOPE, dir ${join(dir, 'connections', 'nope')}`);
    await expect(r.variable('nope.x')).rejects.toThrow(`variable "nope.x" not found; tried env ALOFT_VAR_NOPE_X, dir ${join(dir, 'variables', 'nope.x')}`);
    await expect(r.connection('../variables/region')).rejects.toThrow(/connection id "..\/variables\/region" must be/);
    await expect(new SecretResolver([]).variable('x')).rejects.toThrow('tried no backends (ALOFT_SECRETS_BACKENDS is empty)');
  });
});
