import { readFileSync } from 'node:fs'
import { CliError } from './errors.js'

const KEY_FIELDS = ['type', 'private_key_id', 'private_key', 'client_email', 'token_uri'] as const

/** A service-account key file in Google's layout (from postern iam service-accounts keys create), checked for the fields a token needs. */
export function readKeyFile(path: string): Record<string, string> {
  let keyFile: Record<string, string>
  try {
    keyFile = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>
  } catch (err) {
    throw new CliError(`Cannot read the key file ${path}: ${(err as Error).message}`)
  }
  const missing = KEY_FIELDS.filter((f) => typeof keyFile?.[f] !== 'string')
  if (keyFile?.type !== 'service_account' || missing.length) throw new CliError(`${path} is not a service-account key file${missing.length ? ` (missing ${missing.join(', ')})` : ''}.`)
  return keyFile
}
