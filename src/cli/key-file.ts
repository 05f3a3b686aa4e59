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
  // A Google Cloud key by habit: its assertion would go to Google's token endpoint, out of reach.
  if (/\.googleapis\.com$/.test(hostOf(keyFile.token_uri!)) || keyFile.client_email!.endsWith('.iam.gserviceaccount.com')) {
    throw new CliError(`${path} is a Google Cloud key (${keyFile.client_email}), not one of this Postern's: make one with postern iam service-accounts keys create FILE --iam-account=NAME@PROJECT.iam.postern.internal`)
  }
  return keyFile
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname
  } catch {
    return ''
  }
}
