// The services' credentials, each of which can also come from `<NAME>_FILE`. Plain JavaScript
// so that `scripts/up.mjs`, which runs before anything is compiled, hands over the same list
// that config.ts reads.
export const SERVICE_CREDENTIALS = Object.freeze(['REDIS_URL', 'ALOFT_REDIS_SENTINEL_PASSWORD', 'ALOFT_DASHBOARD_ADMIN_PASSWORD', 'ALOFT_SECRETS_KEYS']);
