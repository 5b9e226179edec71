export * from './connection.js';
export * from './cipher.js';
export * from './masker.js';
export * from './backends.js';
export * from './secret-store.js';
export * from './template-refs.js';
export * from './configure.js';
export * from './pod-secrets.js';
