/** @loupe/sdk — placeholder; its issue builds it out. */
export const VERSION = '0.1.0';
