import { loupeVitest } from '../../vitest.shared.js';

export default loupeVitest();
