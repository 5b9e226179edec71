import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import { DirectorySecretsBackend, EnvSecretsBackend, type SecretsBackend } from './backends.js';
import { SecretCipher } from './cipher.js';
import { SecretStore } from './secret-store.js';

export interface SecretsSettings {
  /** ALOFT_SECRETS_BACKENDS: the backends to ask, in order. */
  order: readonly ('env' | 'dir' | 'store')[];
  /** The service's environment, for the env backend (ALOFT_CONN_*, ALOFT_VAR_*). */
  env: Readonly<Record<string, string | undefined>>;
  /** ALOFT_SECRETS_DIR; the dir backend is left out without it. */
  dir?: string | undefined;
  /** ALOFT_SECRETS_KEYS (or its _FILE): the keyring of Aloft's own store. */
  keys?: string | undefined;
}

/** Aloft's own store of connections and variables, with the keyring the settings give. */
export function secretStore(redis: Redis, keys: Keys, s: Pick<SecretsSettings, 'keys'>): SecretStore {
  return new SecretStore(redis, keys, SecretCipher.fromSetting(s.keys));
}

/** The backends a worker asks, in the configured order. */
export function secretsBackends(redis: Redis, keys: Keys, s: SecretsSettings): SecretsBackend[] {
  return s.order.flatMap((name): SecretsBackend[] => {
    if (name === 'env') return [new EnvSecretsBackend(s.env)];
    if (name === 'dir') return s.dir ? [new DirectorySecretsBackend(s.dir)] : [];
    return [secretStore(redis, keys, s)];
  });
}
