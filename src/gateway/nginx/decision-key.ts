import type { IncomingMessage } from 'node:http'
import { secretsEqual } from '../../core/ids.js'
import { masterSubkey } from '../../identity/master-key.js'
import { DECISION_KEY_HEADER } from './decision-protocol.js'

/**
 * What the nginx data plane shows on each question it asks Postern (a decision, a bulk renewal,
 * an upstream error's wording): without it, those paths are not there (404). They answer on the
 * Node gateway's port, for an nginx run with `postern nginx-config`, and that port is callers'
 * too: a decision names a service's upstream address, and a renewal judges two thousand
 * credentials in one request. Derived from the master key, as the session cookies' key is, so
 * `postern nginx-config` and every `postern serve` sharing that key agree without storing it.
 */
export function decisionKey(master: Buffer): string {
  return masterSubkey(master, 'postern nginx decisions v1').toString('base64url')
}

/** Whether a request carries the decision key, compared in constant time. */
export function showsDecisionKey(key: string): (req: IncomingMessage) => boolean {
  return (req) => {
    const presented = req.headers[DECISION_KEY_HEADER]
    return typeof presented === 'string' && secretsEqual(presented, key)
  }
}
