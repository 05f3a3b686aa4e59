import http2 from 'node:http2'

/**
 * One HTTP/2 request on a connection of its own, with node:http2 (trusting `ca` over TLS), whose
 * header block may reach 1 MB (node:http2 sends 64 KB at most unless told): the `:status`, or
 * the error's message, and the body.
 */
export function h2Ask(origin: string, headers: http2.OutgoingHttpHeaders, o: { ca?: Buffer } = {}): Promise<{ status: unknown; body: string }> {
  return new Promise((resolve) => {
    const session = http2.connect(origin, { ...(o.ca && { ca: o.ca }), maxSendHeaderBlockLength: 1 << 20 })
    session.on('error', (err) => resolve({ status: err.message, body: '' }))
    const stream = session.request(headers)
    let status: unknown
    let body = ''
    stream.on('response', (h) => (status = h[':status']))
    stream.on('data', (d: Buffer) => (body += d.toString()))
    stream.on('error', (err) => (status = err.message))
    stream.on('close', () => {
      resolve({ status, body })
      session.close()
    })
  })
}

/** `kb` header fields of 1,000 bytes of `fill` each (`x-big-0`, …). */
export const bigHeaders = (kb: number, fill = 'a'): Record<string, string> => Object.fromEntries(Array.from({ length: kb }, (_, i) => [`x-big-${i}`, fill.repeat(1000)]))
