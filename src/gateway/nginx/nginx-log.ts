import type { Level } from '../../core/log.js'

/**
 * What a client did wrong, in nginx's words (`*94 client sent invalid chunked body, client: …`):
 * nginx writes some of these at its own `error` level, one line for each connection, from anyone.
 */
const CLIENT_CAUSED = /^\S+ \S+ \[\w+\] \d+#\d+: \*\d+ client (sent|intended to send|prematurely closed|closed|timed out)\b/

/**
 * The level at which Postern logs a line of nginx's error log: a client's mistake is `info` (as
 * nginx itself logs most of them, and as the Node gateway answers them without a line), so that
 * no caller can fill the warnings of whoever runs Postern; anything else nginx says is a warning.
 */
export function nginxLineLevel(line: string): Level {
  return CLIENT_CAUSED.test(line) ? 'info' : 'warn'
}

/**
 * Whole lines from a stream read in chunks that may end mid-line: `push` returns the lines a
 * chunk completes, and keeps what follows the last newline (at most `maxLine` characters) for
 * the next.
 */
export function lineSplitter(maxLine = 8192): { push(chunk: string): string[] } {
  let partial = ''
  return {
    push(chunk) {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop()!.slice(-maxLine)
      return lines
    },
  }
}
