/**
 * Structured JSON logs, one object per line on stderr. Never pass secrets (tokens, passwords,
 * keys) as fields; the request id ties a log line to the upstream's.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error'

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export function createLogger(write: (line: string) => void, min: Level = 'info', base: Record<string, unknown> = {}): Logger {
  return {
    log(level, msg, fields) {
      if (ORDER[level] < ORDER[min]) return
      write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }) + '\n')
    },
  }
}
