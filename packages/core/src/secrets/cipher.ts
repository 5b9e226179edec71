import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption (AES-256-GCM, node:crypto) of the values in Aloft's own secret
 * store, with keys the operator provides in ALOFT_SECRETS_KEYS: `id:base64key,…`, each key 32
 * random bytes (`openssl rand -base64 32`), the first one current. A sealed value is
 * `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url), bound to `aad` (what the value is: the
 * connection or variable it belongs to), so a value moved to another name does not open.
 * Rotation: put the new key first, keep the old ones until `aloft secrets rotate` has
 * re-sealed every value with the new one.
 */
export class SecretCipher {
  readonly currentKeyId: string;
  readonly #keys: Map<string, Buffer>;

  private constructor(keys: Map<string, Buffer>) {
    this.#keys = keys;
    this.currentKeyId = keys.keys().next().value!;
  }

  /** The keyring from the setting's text, or undefined when it is empty; a bad key is an error naming its place, never its value. */
  static fromSetting(text: string | undefined, name = 'ALOFT_SECRETS_KEYS'): SecretCipher | undefined {
    const entries = (text ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    if (entries.length === 0) return undefined;
    const keys = new Map<string, Buffer>();
    entries.forEach((e, i) => {
      const colon = e.indexOf(':');
      const id = colon > 0 ? e.slice(0, colon) : `k${entries.length - i}`;
      const key = Buffer.from(colon > 0 ? e.slice(colon + 1) : e, 'base64');
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new Error(`${name}: key ${i + 1}'s id must be 1–32 letters, digits, "_" or "-"`);
      if (key.length !== 32) throw new Error(`${name}: key ${i + 1} ("${id}") must be 32 bytes in base64 (openssl rand -base64 32); it is ${key.length} bytes`);
      if (keys.has(id)) throw new Error(`${name}: key id "${id}" appears twice`);
      keys.set(id, key);
    });
    return new SecretCipher(keys);
  }

  seal(plain: string, aad: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#keys.get(this.currentKeyId)!, iv);
    c.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return ['v1', this.currentKeyId, iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string, aad: string): string {
    const [v, id, iv, tag, ct] = sealed.split('.');
    if (v !== 'v1' || id === undefined || iv === undefined || tag === undefined || ct === undefined) throw new Error(`${aad}: not a sealed value`);
    const key = this.#keys.get(id);
    if (!key) throw new Error(`${aad}: sealed with key "${id}", which ALOFT_SECRETS_KEYS no longer holds`);
    try {
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
    } catch {
      throw new Error(`${aad}: the sealed value does not open with key "${id}" (changed key, or altered in Redis)`);
    }
  }

  /** The key id a sealed value was sealed with. */
  static keyIdOf(sealed: string): string | undefined {
    return sealed.split('.')[1];
  }
}
