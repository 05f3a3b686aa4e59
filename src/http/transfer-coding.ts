/**
 * Why an upstream's answer with a transfer coding other than chunked is not relayed (both data
 * planes say it in their 502). RFC 9112 §6.3: such an answer (`Transfer-Encoding: gzip`, or
 * `gzip, chunked`) carries its content coded by the sender, and one whose final coding is not
 * chunked ends only when the connection closes. Neither plane decodes transfer codings, and the
 * header is hop-by-hop: relayed without it (de-chunked or read until the close), the caller would
 * take the coded bytes for the content. llhttp read `chunked, gzip` until the close and passed its
 * chunk framing on as content; nginx 1.22 de-chunks any value that holds "chunked".
 */
export const UNRELAYABLE_TRANSFER_CODING = 'its answer has a transfer coding other than chunked, which the gateway does not decode'

/**
 * Why an upstream's answer with both a Transfer-Encoding and a Content-Length is not relayed: RFC
 * 9112 §6.2 forbids a sender both, and §6.3 has a recipient not trust the length. These are
 * llhttp's words, as the Node gateway says them (forward.ts); the nginx data plane says the same.
 */
export const CODING_BESIDE_LENGTH = "its answer broke HTTP/1.1: content-length can't be present with transfer-encoding"

/**
 * Whether a flat [name, value, …] header list carries a Transfer-Encoding other than chunked
 * alone (its fields read as one list, RFC 9110 §5.3). The common answers (a length, or chunked)
 * cost one comparison of each name's length.
 */
export function hasUnrelayableTransferCoding(headers: readonly string[]): boolean {
  let codings: string | undefined
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!
    if (name.length !== 17 || name.toLowerCase() !== 'transfer-encoding') continue
    codings = codings === undefined ? headers[i + 1]! : `${codings},${headers[i + 1]!}`
  }
  return codings !== undefined && !CHUNKED_ALONE.test(codings)
}

/**
 * "chunked" as llhttp frames it: spaces or tabs before it, spaces after it. (Not String.trim():
 * llhttp takes `chunked<TAB>` for another coding and reads the body until the close, so that
 * answer would reach the caller with its chunk framing for content.)
 */
const CHUNKED_ALONE = /^[ \t]*chunked *$/i
