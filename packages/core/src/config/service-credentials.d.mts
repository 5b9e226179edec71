/** Types of service-credentials.mjs (plain JavaScript, shared with scripts/up.mjs). */
export declare const SERVICE_CREDENTIALS: readonly ['REDIS_URL', 'ALOFT_REDIS_SENTINEL_PASSWORD', 'ALOFT_DASHBOARD_ADMIN_PASSWORD', 'ALOFT_SECRETS_KEYS'];
