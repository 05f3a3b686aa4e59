import { invalid } from '../core/errors.js'

/**
 * Where the next page of a list starts (Google's pageToken, AIP-158): past the last item of this
 * one, by the list's sort key (a time and an id that breaks ties). The token names its list and
 * the query it was made for, so one from another list or another filter is refused rather than
 * read as a position; it is base64url JSON, opaque to clients. Nothing in it is secret, and no
 * signature is needed: a forged position only starts the page elsewhere, and every item is still
 * checked against what the caller may see.
 */
export interface PagePosition {
  time: number
  id: string
}

/** A token longer than this was not made here. */
const MAX_TOKEN_LENGTH = 300
/** 8.64e15 ms is the last instant a JavaScript Date can hold. */
const MAX_TIME = 8.64e15

export function encodePageToken(list: string, query: string, after: PagePosition): string {
  return Buffer.from(JSON.stringify({ l: list, q: query, t: after.time, i: after.id })).toString('base64url')
}

/**
 * The position a token says, for this list and query; any other token, whatever is wrong with
 * it, is INVALID_ARGUMENT (never a 5xx), naming the fix rather than the fault.
 */
export function decodePageToken(token: string, list: string, query: string, idPattern: RegExp): PagePosition {
  const refuse = (why: string) => invalid(`pageToken is not one this API returned for this list${why}; start again without it.`)
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw refuse('')
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
  } catch {
    throw refuse('')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw refuse('')
  const { l, q, t, i } = parsed as Record<string, unknown>
  if (l !== list) throw refuse('')
  if (q !== query) throw refuse(' with these filters (it was made for other ones)')
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0 || t > MAX_TIME) throw refuse('')
  if (typeof i !== 'string' || !idPattern.test(i)) throw refuse('')
  return { time: t, id: i }
}
