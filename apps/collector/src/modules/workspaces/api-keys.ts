import { createHash, randomBytes } from 'node:crypto';

/** Keys look like `lp_<40 base62 chars>`; the prefix makes a leaked key recognisable. */
export const API_KEY_PREFIX = 'lp_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function generateApiKey(): string {
  const bytes = randomBytes(40);
  let out = API_KEY_PREFIX;
  // 256 % 62 bias is negligible for 40 chars of a 238-bit secret; documented, not hidden.
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** API keys are high-entropy secrets, so a fast unsalted hash is the right tool (no password KDF needed). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** What listings show of a key: enough to recognise it, never enough to use it. */
export function displayPrefix(key: string): string {
  return key.slice(0, Math.min(10, Math.max(4, key.length - 8)));
}
