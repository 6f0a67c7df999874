import { loupeVitest } from '../vitest.shared.js';

export default loupeVitest({ include: ['**/*.test.ts'], testTimeout: 120_000 });
