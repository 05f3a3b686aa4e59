import type { IncomingMessage } from 'node:http'
import { finished } from 'node:stream'
import { PosternError, invalid } from '../core/errors.js'
import { firstRefusedKey } from './json-key-check.js'
import { discardRestOfBody } from './linger.js'

export const MAX_BODY_BYTES = 1024 * 1024

/**
 * Reads the whole body, refusing more than `limit` bytes (413) without buffering the rest. The
 * rest of a body refused for its size is read and dropped as it comes, for at most LINGER_MS, so
 * the refusal reaches the client and the connection carries its next request; destroyed at once,
 * the request's connection was reset under the answer (one streamed upload in twenty read no 413).
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) return Promise.reject(refuseTooLarge(req, limit))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= limit) return void chunks.push(chunk)
      req.off('data', onData)
      reject(refuseTooLarge(req, limit))
    }
    req.on('data', onData)
    // The client closed the connection before the body was whole (Node's "aborted"): its
    // mistake, answered (to no one) as such, not an internal error logged with its stack.
    finished(req, (err) => (err ? reject(new PosternError('INVALID_ARGUMENT', 'The request body was cut short: the connection closed before it was whole.', { cause: err })) : resolve(Buffer.concat(chunks))))
  })
}

function refuseTooLarge(req: IncomingMessage, limit: number): PosternError {
  discardRestOfBody(req, req.socket)
  return new PosternError('PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes.`)
}

/** Parses a JSON object body; an empty body is `{}`. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type']
  const body = await readBody(req)
  if (body.length === 0) return {}
  if (type && !/^application\/(.+\+)?json\s*(;|$)/i.test(type)) {
    throw new PosternError('UNSUPPORTED_MEDIA_TYPE', `Expected Content-Type application/json, got '${type.slice(0, 100)}'.`)
  }
  const text = body.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw invalid(`The request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('The request body must be a JSON object.')
  const refused = firstRefusedKey(text)
  if (refused?.why === 'twice') throw invalid(`The request body holds the key '${refused.key.slice(0, 100)}' twice in one object; each key may appear once.`)
  if (refused?.why === 'prototype') throw invalid("The request body holds the key '__proto__', which is never a field, label or attribute name here.")
  return value as Record<string, unknown>
}

/**
 * Parses an application/x-www-form-urlencoded body (OAuth endpoints, sign-in forms) by RFC 6749
 * §3.1's rules: a repeated parameter is refused, and one sent without a value is as if omitted
 * (`client_id=` means the default client, not a client named '').
 */
export async function readForm(req: IncomingMessage): Promise<Map<string, string>> {
  const type = req.headers['content-type'] ?? ''
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw new PosternError('UNSUPPORTED_MEDIA_TYPE', 'Expected Content-Type application/x-www-form-urlencoded.')
  }
  const params = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'))
  const seen = new Set<string>()
  const out = new Map<string, string>()
  for (const [k, v] of params) {
    if (seen.has(k)) throw invalid(`Parameter '${k.slice(0, 50)}' is repeated.`)
    seen.add(k)
    if (v !== '') out.set(k, v)
  }
  return out
}
