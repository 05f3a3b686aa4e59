import { expect } from 'vitest';
import { PosternError } from '../../src/core/errors.js';
/** Asserts `fn` throws INVALID_ARGUMENT and returns its message, for the unit tests of what parses input. */
export function invalidMessage(fn) {
    try {
        fn();
    }
    catch (err) {
        expect(err).toBeInstanceOf(PosternError);
        expect(err.status).toBe('INVALID_ARGUMENT');
        return err.message;
    }
    throw new Error('expected INVALID_ARGUMENT, nothing was thrown');
}
//# sourceMappingURL=refusals.js.map