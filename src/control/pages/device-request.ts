import { CLI_CLIENT_ID } from '../../api/clients.js'

/**
 * What /device tells whoever is about to approve a code about the device that asked for it: when,
 * from which address and as which program (RFC 8628 §5.4: an attacker can start a device flow
 * and send its code to a victim, whose approval signs the attacker in). Pure; the page escapes.
 */

/** "2 minutes ago", and the moment in UTC; "unknown" for codes stored before the time was kept. */
export function describeRequestTime(requestTime: number | null, now: number): { ago: string; at: string | undefined } {
  if (requestTime === null) return { ago: 'unknown', at: undefined }
  const at = `${new Date(requestTime).toISOString().slice(0, 16).replace('T', ' ')} UTC`
  // Below a minute, and a moment ahead (another process's clock), alike.
  const minutes = Math.floor((now - requestTime) / 60_000)
  if (minutes < 1) return { ago: 'less than a minute ago', at }
  if (minutes < 120) return { ago: plural(minutes, 'minute'), at }
  const hours = Math.floor(minutes / 60)
  return { ago: hours < 48 ? plural(hours, 'hour') : plural(Math.floor(hours / 24), 'day'), at }
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'} ago`

/**
 * The device's address, and how it compares with the approver's own: the same address is what a
 * user signing in their own laptop usually sees; another one is worth a second look.
 */
export function describeRequestAddress(requestAddress: string | null, approverAddress: string): { address: string; comparison: string | undefined } {
  if (requestAddress === null || requestAddress === 'unknown') return { address: 'unknown', comparison: undefined }
  if (requestAddress === approverAddress) return { address: requestAddress, comparison: 'the address you are using now' }
  return { address: requestAddress, comparison: `not the address you are using now (${approverAddress})` }
}

/** The program by its client id: the one Postern registers is named; any other shows as its id. */
export function describeClient(clientId: string): string {
  return clientId === CLI_CLIENT_ID ? 'the Postern CLI (postern auth login)' : clientId
}
