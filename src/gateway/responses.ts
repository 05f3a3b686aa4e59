import type { ServerResponse } from 'node:http'
import type { ErrorStatus } from '../core/errors.js'
import { bearerChallenge } from '../http/challenge.js'
import { errorAnswer, sendAnswer } from './answer.js'

/** Gateway errors in the one shape (DESIGN §4), sent on a response (answer.ts builds them). */
export function sendGatewayError(res: ServerResponse, accept: string | undefined, status: ErrorStatus, message: string, headers: Record<string, string> = {}): void {
  sendAnswer(res, errorAnswer(status, message, accept, headers))
}

/** DESIGN §4 step 3: no token. */
export const CHALLENGE = bearerChallenge()

/** DESIGN §4 step 3: a token that was refused, and why. */
export function invalidTokenChallenge(description: string): string {
  return bearerChallenge({ error: 'invalid_token', description })
}

/** RFC 6750 §3.1: a request that is malformed as a bearer request (a token header repeated) is `invalid_request`, 400. */
export function invalidRequestChallenge(description: string): string {
  return bearerChallenge({ error: 'invalid_request', description })
}
