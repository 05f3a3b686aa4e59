/**
 * Whether a string may be an ID token's `aud`: at most 2,048 characters, no whitespace or control
 * character (an audience is compared whole, and one with a line break or a NUL would be written
 * into logs and headers). Every way of asking for a token keeps to it: the token endpoint's
 * `audience`, jwt-bearer's `target_audience`, and the IAM Credentials API's generateIdToken.
 */
export function isAudience(value: string): boolean {
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  return value.length > 0 && value.length <= 2048 && !/[\s\x00-\x1f\x7f]/.test(value)
}
