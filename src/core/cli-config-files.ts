import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { parseCredentials, type Credentials } from './cli-credentials.js'
import { withFileLock } from './file-lock.js'

/**
 * The CLI's files in $POSTERN_CONFIG_DIR or ~/.config/postern (DESIGN §6): `config.json`
 * (server, project, active account) and `credentials.json` (refresh tokens, cached access and ID tokens,
 * service-account keys; one sign-in per server and account, cli-credentials.ts). Both 0600 in a
 * 0700 directory, written atomically.
 *
 * Named configurations, as gcloud's (`config configurations`): each is a set of those properties,
 * to switch between servers or projects at once; the credentials are shared by all, and each
 * configuration uses the sign-in of its own server and account. `default` is `config.json` itself, so a CLI set up before configurations existed is
 * unchanged; another is `configurations/NAME.json`; the active one is named in `active_config`.
 */
export interface CliConfig {
  server?: string
  project?: string
  account?: string
  /** gcloud's auth/impersonate_service_account: every API call made as this service account. */
  impersonate_service_account?: string
}

export const CONFIG_KEYS = ['server', 'project', 'account', 'impersonate_service_account'] as const

export const DEFAULT_CONFIGURATION = 'default'
/** gcloud's rule for a configuration's name, which also keeps it a safe file name. */
export const CONFIGURATION_NAME = /^[a-z][-a-z0-9]{0,63}$/

export class ConfigFiles {
  /** `chosen`: the configuration this process uses instead of the active one (--configuration, POSTERN_ACTIVE_CONFIG_NAME). */
  constructor(
    readonly dir: string,
    private chosen?: string,
  ) {}

  /** The configuration this process reads and writes: the one chosen for it, else the active one. */
  configuration(): string {
    return this.chosen ?? this.activeConfiguration()
  }

  /** For this process only, as gcloud's --configuration. */
  useConfiguration(name: string): void {
    this.chosen = name
  }

  /** The configuration `config configurations activate` made active (`default` until then). */
  activeConfiguration(): string {
    try {
      const name = readFileSync(join(this.dir, 'active_config'), 'utf8').trim()
      return CONFIGURATION_NAME.test(name) ? name : DEFAULT_CONFIGURATION
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_CONFIGURATION
      throw err
    }
  }

  activateConfiguration(name: string): void {
    writeSecret(this.dir, 'active_config', name, (v) => `${v as string}\n`)
  }

  /** Every configuration's name, `default` first: it always exists, if only as no properties. */
  configurations(): string[] {
    let files: string[] = []
    try {
      files = readdirSync(join(this.dir, CONFIGURATIONS_DIR))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const named = files.flatMap((f) => (f.endsWith('.json') && CONFIGURATION_NAME.test(f.slice(0, -5)) ? [f.slice(0, -5)] : []))
    return [DEFAULT_CONFIGURATION, ...named.filter((n) => n !== DEFAULT_CONFIGURATION).sort()]
  }

  configurationExists(name: string): boolean {
    return name === DEFAULT_CONFIGURATION || existsSync(join(this.dir, configurationFile(name)))
  }

  /** The properties of this process's configuration (or of `name`); an error when it does not exist. */
  readConfig(name = this.configuration()): CliConfig {
    const file = join(this.dir, configurationFile(name))
    const config = readJson<unknown>(file)
    if (config === undefined && name !== DEFAULT_CONFIGURATION) throw new MissingConfiguration(name)
    if (config === undefined) return {}
    // Edited by hand, it may hold anything: each property is a string or absent.
    const wrong = typeof config !== 'object' || config === null || Array.isArray(config) ? 'it' : CONFIG_KEYS.find((k) => (config as Record<string, unknown>)[k] !== undefined && typeof (config as Record<string, unknown>)[k] !== 'string')
    if (wrong) throw new Error(`${file}: ${wrong === 'it' ? 'it must be a JSON object' : `${wrong} must be a string`}; fix or remove it.`)
    return config as CliConfig
  }

  writeConfig(config: CliConfig, name = this.configuration()): void {
    if (!this.configurationExists(name)) throw new MissingConfiguration(name)
    writeSecret(this.dir, configurationFile(name), config)
  }

  /** A new configuration, with no properties (or `config`); false when it exists already. */
  createConfiguration(name: string, config: CliConfig = {}): boolean {
    if (this.configurationExists(name)) return false
    writeSecret(this.dir, configurationFile(name), config)
    return true
  }

  deleteConfiguration(name: string): void {
    unlinkSync(join(this.dir, configurationFile(name)))
  }

  /** Renames a configuration other than `default`; the active one stays active under its new name. */
  renameConfiguration(from: string, to: string): void {
    const wasActive = this.activeConfiguration() === from
    renameSync(join(this.dir, configurationFile(from)), join(this.dir, configurationFile(to)))
    if (wasActive) this.activateConfiguration(to)
  }

  /** The sign-ins, from a file of this version or of the previous one (cli-credentials.ts migrates it). */
  readCredentials(): Credentials {
    return parseCredentials(readJson<unknown>(join(this.dir, 'credentials.json')))
  }

  writeCredentials(credentials: Credentials): void {
    writeSecret(this.dir, 'credentials.json', credentials)
  }

  /** Serialises read-modify-write of the credentials among concurrent CLI processes (a token refresh must happen once; file-lock.ts). */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    return withFileLock(join(this.dir, 'credentials.lock'), fn)
  }
}

const CONFIGURATIONS_DIR = 'configurations'

function configurationFile(name: string): string {
  if (!CONFIGURATION_NAME.test(name)) throw new Error(`not a configuration name: ${JSON.stringify(name)}`)
  return name === DEFAULT_CONFIGURATION ? 'config.json' : join(CONFIGURATIONS_DIR, `${name}.json`)
}

/** The configuration named by --configuration, POSTERN_ACTIVE_CONFIG_NAME or active_config is not there. */
export class MissingConfiguration extends Error {
  constructor(readonly configuration: string) {
    super(`The configuration [${configuration}] does not exist: create it (postern config configurations create ${configuration}), or see those that do (postern config configurations list).`)
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

/** `name` may be in a subdirectory (configurations/NAME.json), made 0700 as the directory is. */
function writeSecret(dir: string, name: string, value: unknown, serialize = (v: unknown) => JSON.stringify(v, null, 2) + '\n'): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  const target = join(dir, name)
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 })
  const tmp = join(dirname(target), `.${basename(name)}.${process.pid}.${Math.random().toString(36).slice(2)}`)
  writeFileSync(tmp, serialize(value), { mode: 0o600 })
  renameSync(tmp, target)
}
