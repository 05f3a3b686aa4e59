/**
 * What the SQL store needs from a database: three ways to run a statement and a transaction.
 * Statements use `?` placeholders; the PostgreSQL driver numbers them.
 */
export interface Sql {
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>
  get<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T | undefined>
  run(sql: string, params?: readonly unknown[]): Promise<number>
}

export type Dialect = 'sqlite' | 'postgres'

export interface Driver {
  readonly dialect: Dialect
  readonly sql: Sql
  transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T>
  listen(channel: string, onNotify: () => void): Promise<void>
  /** What readiness asks beyond a query answered, if anything (sqlite.ts: the file is still the one opened). */
  check?(): Promise<void>
  close(): Promise<void>
}
