import { connect } from 'node:net'

/**
 * One connection's worth of HTTP/1.1 a fuzzer sends: one to three requests, pipelined, each built
 * from parts an attacker varies (method, target, version, the headers that carry identity, route
 * or framing, the line endings, the body) and now and then damaged byte by byte, cut into one to
 * three packets at random places.
 *
 * Each request carries the token or not, and may hide a second request in its body or its
 * headers; those hidden ones ask for /smuggled and claim an identity (`SPOOFED`), so an upstream
 * that ever sees either was handed bytes no one decided on.
 *
 * `wellFramed`: one request, with CRLF line endings, its request line and version as sent by
 * clients, and no bytes damaged, in one packet (to compare what two gateways forward). `marker`:
 * an `X-Fuzz-Id` header first, so what an upstream received can be matched to the request.
 * `paths`: the targets of requests whose target is not varied (a service's `/echo` or `/`
 * unless given).
 */
export const SPOOFED = 'user:mallory@example.com'

/** Sends one connection's packets a moment apart and reads what comes back until the server closes, or briefly after the last packet. */
export function playHttp1(port: number, packets: Buffer[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    let timer: NodeJS.Timeout | undefined
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    socket.on('error', done)
    socket.on('close', done)
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')))
    socket.once('connect', async () => {
      for (const packet of packets) {
        if (!socket.writable) return
        socket.write(packet)
        await new Promise((r) => setTimeout(r, 1))
      }
      timer = setTimeout(done, 400)
    })
  })
}

/**
 * Every response's status and head in what a connection read, and where it begins (a response's
 * body may hold JSON, never a raw CRLF status line). A status line without a reason phrase or the
 * space before it is taken too: nginx relays an upstream's status line as it came, and clients read it.
 */
export const responsesIn = (answer: string) =>
  [...answer.matchAll(/(?:^|\r\n)(HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?\r\n(?:[^\r\n]+\r\n)*)\r\n/g)].map((m) => ({
    status: Number(m[2]),
    head: m[1]!,
    at: m.index + (m[0].startsWith('\r\n') ? 2 : 0),
  }))

/**
 * One connection's packets: requests, each with a few of its parts damaged at most. `deletes:
 * false` sends GET where DELETE would go (the same random draws otherwise): an intact DELETE with a
 * good token is a write its sender may make, which a test of what damage lets through cannot tell
 * from one.
 */
export function fuzzHttp1Connection(rand: () => number, o: { host: string; token: string; wellFramed?: boolean; marker?: string; paths?: readonly string[]; deletes?: boolean }): Buffer[] {
  const int = (n: number) => Math.floor(rand() * n)
  const chance = (p: number) => rand() < p
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  const junk = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))).toString('latin1')
  const hidden = () => `GET /smuggled HTTP/1.1\r\nHost: ${o.host}\r\nX-Postern-Authenticated-Principal: ${SPOOFED}\r\nContent-Length: 0\r\n\r\n`

  const credential = () =>
    pick([
      `Bearer ${o.token}`,
      `Bearer ${o.token}`,
      `Bearer ${o.token}`,
      `bearer ${o.token}`,
      `Bearer  ${o.token}`,
      `Bearer ${o.token} `,
      `Bearer ${o.token.slice(0, -4)}AAAA`,
      `Bearer ${o.token.slice(0, int(o.token.length))}`,
      `Bearer ${o.token}.${o.token}`,
      `Bearer ${o.token.replace('.', '=')}`,
      'Bearer ',
      'Basic b3duZXI6cGFzc3dvcmQ=',
      '',
      `Bearer ${junk(int(40))}`,
    ])
  const target = () =>
    pick([
      '/',
      '/echo',
      '/echo?x=1&y=%20',
      '/echo#fragment',
      '//echo',
      '/a/../echo',
      '/..',
      '/%2e%2e/echo',
      '/%2F',
      '/%',
      '/%zz',
      '/echo%00',
      '/_postern/session',
      '/_POSTERN/x',
      '/postern',
      `http://${o.host}/echo`,
      'http://other.example/echo',
      `http://user@${o.host}/`,
      '*',
      `${o.host}:80`,
      '',
      'echo',
      `/${'a'.repeat(pick([100, 5_000, 20_000]))}`,
      `/${junk(int(12))}`,
    ])
  const method = () => pick(['GET', 'GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', o.deletes === false ? 'GET' : 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'get', 'PRI', 'G T', 'M'.repeat(int(300) + 1), junk(int(6) + 1)])
  const version = () => pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 x', 'HTTP/11', ''])

  // Each request varies a few of its parts at most (none, often), so that most are ones a gateway
  // could accept, and the odd ones sit among requests it forwards.
  const PARTS = ['method', 'target', 'version', 'host', 'credential', 'eol', 'headers', 'spoof', 'framing', 'head'] as const
  const LOOSE_FRAMING: readonly string[] = ['eol', 'head', 'version']
  const request = (): string => {
    const varied = new Set(Array.from({ length: pick([0, 0, 1, 1, 1, 2, 3, 5]) }, () => pick(PARTS)).filter((part) => !o.wellFramed || !LOOSE_FRAMING.includes(part)))
    const odd = (part: (typeof PARTS)[number]) => varied.has(part)
    const eol = odd('eol') ? pick(['\n', '\r', '\r\r\n', '\n\r']) : '\r\n'
    const lines: string[] = []
    const header = (name: string, value: string) => lines.push(`${name}: ${value}`)
    const host = odd('host') ? pick([o.host.toUpperCase(), `${o.host}.`, o.host.split(':')[0]!, `${o.host}, ${o.host}`, '', 'other.example', `${o.host}@evil`, ` ${o.host}`, o.host]) : o.host
    if (!odd('host') || chance(0.8)) header(odd('host') ? pick(['Host', 'host', 'HOST', 'Host ']) : 'Host', host)
    if (odd('host') && chance(0.3)) header('Host', pick([o.host, 'other.example']))
    if (odd('credential')) {
      if (chance(0.8)) header(pick(['Authorization', 'authorization', 'Authorization ']), credential())
      if (chance(0.2)) header('Authorization', credential())
      if (chance(0.4)) header('X-Serverless-Authorization', credential())
      if (chance(0.3)) header('Cookie', pick(['postern_session=abc', '__Host-postern=x; a=b', 'a=b', junk(int(30))]))
    } else if (chance(0.8)) {
      header('Authorization', `Bearer ${o.token}`)
    }
    if (odd('spoof')) {
      for (let i = int(3) + 1; i > 0; i--) {
        header(
          pick(['X-Postern-Authenticated-Principal', 'x-postern-authenticated-principal', 'X-Postern-Authenticated-Email', 'X-Postern-JWT-Assertion', 'X-Forwarded-For', 'Forwarded', 'X-Forwarded-Host', 'X-Real-IP', 'Via', 'X-Request-Id', 'Traceparent']),
          pick([SPOOFED, '1.2.3.4', 'for=1.2.3.4;host=other.example', junk(int(20))]),
        )
      }
    }
    if (odd('headers')) {
      if (chance(0.5)) {
        header(
          'Connection',
          pick(['close', 'keep-alive', 'upgrade', 'Upgrade, HTTP2-Settings', 'close, authorization', 'keep-alive, host', 'content-length', 'transfer-encoding', 'x-postern-authenticated-principal', 'cookie', junk(int(10))]),
        )
      }
      if (chance(0.3)) header('Upgrade', pick(['websocket', 'h2c', 'WebSocket', 'tls/1.3', junk(int(8))]))
      if (chance(0.15)) header('Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==')
      if (chance(0.15)) header('HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA')
      if (chance(0.3)) header('Expect', pick(['100-continue', '100-Continue', 'nothing', '']))
      if (chance(0.15)) header(pick(['X-Long', 'Cookie']), 'v'.repeat(pick([8_000, 70_000])))
      if (chance(0.1)) for (let i = 0; i < pick([50, 120, 200]); i++) header(`X-Many-${i}`, 'x')
      if (chance(0.25)) lines.push(pick(['No colon here', ' Folded: continuation', 'Space : before colon', `X-Nul: a\0b`, `X-CR: a\rb`, `X-${junk(3)}: v`, ':', ': empty name']))
      if (chance(0.15)) lines.push(`X-Obs-Fold: a${eol} b`)
    }

    // The body, and what says how long it is.
    let body = ''
    const framing = odd('framing') ? pick(['length', 'chunked', 'both', 'odd-length', 'odd-chunked']) : pick(['none', 'none', 'length', 'chunked'])
    const content = chance(0.3) ? hidden() : junk(int(2) === 0 ? int(10) : int(3_000))
    if (framing === 'length' || framing === 'both') {
      const exact = !odd('framing') || chance(0.5)
      body = exact ? content : content.slice(0, int(content.length + 1))
      header('Content-Length', String(exact ? content.length : pick([content.length + int(5), Math.max(0, content.length - int(5))])))
    }
    if (framing === 'odd-length') {
      body = content
      header('Content-Length', pick([`${content.length}, ${content.length}`, `+${content.length}`, `-1`, ` ${content.length}`, `0x${content.length.toString(16)}`, '99999999999999999999', `${content.length}`.padStart(30, '0')]))
      if (chance(0.4)) header('Content-Length', String(content.length + 1))
    }
    if (framing === 'chunked' || framing === 'both' || framing === 'odd-chunked') {
      header(
        'Transfer-Encoding',
        framing === 'odd-chunked' ? pick(['chunked, chunked', 'gzip, chunked', 'chunked, gzip', ' chunked', 'Chunked', 'xchunked', 'chunked\t', 'identity', '']) : 'chunked',
      )
      const size = content.length.toString(16)
      const well = `${size}\r\n${content}\r\n0\r\n\r\n`
      body = !odd('framing')
        ? well
        : pick([
            well,
            `${size};ext=1\r\n${content}\r\n0\r\n\r\n`,
            `${size}\r\n${content}\r\n0\r\nX-Postern-Authenticated-Principal: ${SPOOFED}\r\n\r\n`,
            `${(content.length + 2).toString(16)}\r\n${content}\r\n0\r\n\r\n`,
            `0\r\n\r\n${content}`,
            `-1\r\n${content}\r\n0\r\n\r\n`,
            `${size}\n${content}\n0\n\n`,
            `ffffffffffffffffff\r\n${content}`,
            `${size}\r\n${content}`,
          ])
    }
    const verb = odd('method') ? method() : framing === 'none' ? 'GET' : 'POST'
    let head = `${verb} ${odd('target') ? target() : pick(o.paths ?? ['/echo', '/echo?q=1', '/'])} ${odd('version') ? version() : 'HTTP/1.1'}`.trimEnd()
    if (odd('head')) head = pick(['', ' ', 'GET', `GET /${eol}`, junk(int(40)), `${head} `, ` ${head}`, head.replace(/ /g, '  ')])
    if (o.marker) lines.unshift(`X-Fuzz-Id: ${o.marker}`)
    return head + eol + lines.map((l) => l + eol).join('') + eol + body
  }

  let bytes = Array.from({ length: o.wellFramed ? 1 : pick([1, 1, 1, 2, 3]) }, request).join('')
  if (o.wellFramed) return [Buffer.from(bytes, 'latin1')]
  // Damage: a byte changed, dropped or doubled here and there, or the whole cut short.
  for (let i = chance(0.15) ? int(4) + 1 : 0; i > 0; i--) {
    const at = int(bytes.length)
    bytes = pick([
      () => bytes.slice(0, at) + junk(1) + bytes.slice(at + 1),
      () => bytes.slice(0, at) + bytes.slice(at + 1),
      () => bytes.slice(0, at) + bytes[at] + bytes.slice(at),
      () => bytes.slice(0, at) + pick(['\r\n', '\n', '\0', ' ', '\t', '\r\n\r\n']) + bytes.slice(at),
    ])()
  }
  if (chance(0.03)) bytes = bytes.slice(0, int(bytes.length))
  const all = Buffer.from(bytes, 'latin1')
  const cuts = Array.from({ length: int(3) }, () => int(all.length)).sort((a, b) => a - b)
  const packets: Buffer[] = []
  let from = 0
  for (const cut of [...cuts, all.length]) {
    if (cut > from) packets.push(all.subarray(from, cut))
    from = Math.max(from, cut)
  }
  return packets
}
