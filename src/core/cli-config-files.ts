import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The CLI's files in $POSTERN_CONFIG_DIR or ~/.config/postern (DESIGN §6): `config.json`
 * (server, project, active account) and `credentials.json` (refresh tokens, cached access and ID tokens,
 * service-account keys). Both 0600 in a 0700 directory, written atomically.
 */
export interface CliConfig {
  server?: string
  project?: string
  account?: string
}

export interface StoredAccount {
  type: 'user' | 'service_account' | 'federated'
  server: string
  refreshToken?: string
  /** Cached access token for the Postern API and its expiry in ms. */
  accessToken?: string
  accessTokenExpiry?: number
  /** Cached ID token for services (aud postern-cli) and its expiry in ms. */
  idToken?: string
  idTokenExpiry?: number
  /** Service accounts: the key file, as given to activate-service-account. */
  keyFile?: Record<string, string>
  /** Federated sign-ins: where the session came from and when it ends. */
  federation?: Record<string, unknown>
}

export interface Credentials {
  accounts: Record<string, StoredAccount>
}

export const CONFIG_KEYS = ['server', 'project', 'account'] as const

export class ConfigFiles {
  constructor(readonly dir: string) {}

  readConfig(): CliConfig {
    return readJson<CliConfig>(join(this.dir, 'config.json')) ?? {}
  }

  writeConfig(config: CliConfig): void {
    writeSecret(this.dir, 'config.json', config)
  }

  readCredentials(): Credentials {
    const c = readJson<Credentials>(join(this.dir, 'credentials.json'))
    return c && typeof c.accounts === 'object' && c.accounts ? c : { accounts: {} }
  }

  writeCredentials(credentials: Credentials): void {
    writeSecret(this.dir, 'credentials.json', credentials)
  }

  /** Serialises read-modify-write of the credentials among concurrent CLI processes (a token refresh must happen once). */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    const lock = join(this.dir, 'credentials.lock')
    const deadline = Date.now() + 30_000
    for (let attempt = 0; ; attempt++) {
      try {
        closeSync(openSync(lock, 'wx', 0o600))
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        if (Date.now() > deadline) {
          // A process that died holding the lock must not block the CLI forever.
          try {
            unlinkSync(lock)
          } catch {
            /* someone else removed it */
          }
          continue
        }
        await new Promise((r) => setTimeout(r, Math.min(200, 5 + attempt * 5) * (0.5 + Math.random())))
      }
    }
    try {
      return await fn()
    } finally {
      try {
        unlinkSync(lock)
      } catch {
        /* already gone */
      }
    }
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    if (err instanceof SyntaxError) throw new Error(`${file} is not valid JSON; fix or remove it.`)
    throw err
  }
}

function writeSecret(dir: string, name: string, value: unknown): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  const tmp = join(dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2)}`)
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, join(dir, name))
}
