import { describe, expect, it } from 'vitest';
import { loadDashboardConfig } from '../src/config.js';

describe('the dashboard config', () => {
  it('gives each setting its default', () => {
    expect(loadDashboardConfig({})).toMatchObject({
      port: 8080,
      adminPassword: undefined,
      loginAttempts: 10,
      loginAccountAttempts: 30,
      trustProxy: [],
      maxJsonDepth: 32,
      maxBackfillRuns: 1000,
      podsOnStandIn: false,
    });
  });

  it('reads the proxies it trusts, and names a bad one', () => {
    expect(loadDashboardConfig({ ALOFT_DASHBOARD_TRUST_PROXY: ' 10.0.0.0/8, loopback ' }).trustProxy).toEqual(['10.0.0.0/8', 'loopback']);
    expect(() => loadDashboardConfig({ ALOFT_DASHBOARD_TRUST_PROXY: '10.0.0.0/33' })).toThrow(
      'ALOFT_DASHBOARD_TRUST_PROXY: "10.0.0.0/33" is not an address, a subnet',
    );
    expect(() => loadDashboardConfig({ ALOFT_DASHBOARD_ADMIN_PASSWORD: 'short' })).toThrow('ALOFT_DASHBOARD_ADMIN_PASSWORD: must be at least 12 characters');
  });
});
