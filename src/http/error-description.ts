/**
 * An `error_description` as OAuth lets it be written: RFC 6749 §5.2 (token and authorization
 * answers) and RFC 6750 §3 (`WWW-Authenticate`) allow only %x20-21 / %x23-5B / %x5D-7E, and some
 * clients print or parse it as ASCII. Postern's messages use typographic apostrophes and an
 * ellipsis, which become their ASCII spellings; quotes, backslashes and line breaks become `'`
 * (part of a description can come from the caller, and inside a header nothing may end the
 * quoted string); anything else outside ASCII becomes `?`.
 */
export function errorDescription(text: string): string {
  return text
    .replace(/[‘’]/g, "'")
    .replace(/…/g, '...')
    .replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, (c) => (c === '"' || c === '\\' || c < ' ' || c === '\x7f' ? "'" : '?'))
}
