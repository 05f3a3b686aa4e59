import { createServer, type Server } from 'node:net'
import { seeded } from './h2-fuzz.js'

/**
 * What a hostile or broken HTTP/1.1 upstream writes back to the gateway: an answer built from
 * parts an upstream varies (interim answers first, the status line, the framing, Postern's
 * cookies, hop-by-hop headers, header lines no parser should take) and now and then damaged byte
 * by byte, cut short, or sent in pieces.
 *
 * Each answer is drawn from its own seed (the run's and the request's `X-Fuzz-Id`), so it does
 * not depend on the order in which requests arrive, and a failure names the request that found it.
 */
export interface FuzzedAnswer {
  packets: Buffer[]
  /** Close the connection after the last packet (else keep it for the next request). */
  close: boolean
}

/** A header an answer names in its Connection header: it must never reach the caller. */
export const NOMINATED = 'X-Hop-Secret'
/** The statuses a fuzzed upstream sends itself: never 502–504, so those are the gateway's own. */
const STATUSES = [200, 200, 200, 201, 204, 206, 301, 304, 400, 404, 418, 500, 501, 599]

export function fuzzHttp1Answer(rand: () => number): FuzzedAnswer {
  const int = (n: number) => Math.floor(rand() * n)
  const chance = (p: number) => rand() < p
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  const junk = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))).toString('latin1')
  // Bodies of letters: a body never holds what reads as another answer's head.
  const letters = (n: number) => 'abcdefghij'.repeat(Math.ceil(n / 10)).slice(0, n)

  const PARTS = ['interim', 'status', 'eol', 'framing', 'cookies', 'hop', 'lines', 'huge'] as const
  const varied = new Set(Array.from({ length: pick([0, 1, 1, 1, 2, 3, 4]) }, () => pick(PARTS)))
  const odd = (part: (typeof PARTS)[number]) => varied.has(part)
  const eol = odd('eol') ? pick(['\n', '\r', '\r\r\n', '\n\r', '\r\n']) : '\r\n'

  let head = ''
  if (odd('interim')) {
    for (let i = int(3) + 1; i > 0; i--) head += pick(['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n', 'HTTP/1.1 102 Processing\r\n\r\n', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 'HTTP/1.1 199 Odd\r\n\r\n'])
  }
  const status = pick(STATUSES)
  const statusLine = odd('status')
    ? pick([`HTTP/1.0 ${status} X`, `HTTP/1.1 ${status}`, `HTTP/1.1 ${status} `, `HTTP/1.1 ${status} ${junk(int(8))}`, `HTTP/1.1 ${String(status).slice(0, 2)} X`, `HTTP/1.1 ${status}0 X`, 'HTTP/1.1 099 Low', 'HTTP/2 200', 'HTTP/1.1  200 OK', 'http/1.1 200 OK', 'ICY 200 OK', 'SSH-2.0-OpenSSH_9.2', '', junk(int(30))])
    : `HTTP/1.1 ${status} Fuzzed`

  const lines: string[] = []
  const header = (name: string, value: string) => lines.push(`${name}: ${value}`)
  header('Content-Type', pick(['text/plain', 'application/json', 'text/html; charset=utf-8']))
  if (odd('cookies')) {
    for (let i = int(3) + 1; i > 0; i--) {
      header(
        pick(['Set-Cookie', 'set-cookie', 'SET-COOKIE']),
        pick(['app=1; Path=/', '__Host-postern_session=planted; Path=/; Secure', 'postern_service_session=; Max-Age=0', '__Secure-postern_signin=x', '=postern_session=planted', ' =__Host-postern_state_abc=1', 'theme=dark', 'POSTERN_SESSION=x']),
      )
    }
  }
  if (odd('hop')) {
    header('Connection', pick([`${NOMINATED}`, `keep-alive, ${NOMINATED}`, `close, ${NOMINATED.toLowerCase()}`, `${NOMINATED}, Content-Type`]))
    header(NOMINATED, 'only for the hop')
    if (chance(0.5)) header('Proxy-Authenticate', 'Basic realm="upstream"')
    if (chance(0.5)) header('Proxy-Connection', 'keep-alive')
    if (chance(0.5)) header('Keep-Alive', pick(['timeout=5', 'timeout=0', junk(int(10))]))
    if (chance(0.3)) header('Upgrade', 'h2c')
    if (chance(0.3)) header('Trailer', 'X-Checksum')
  }
  if (odd('lines')) {
    for (let i = int(3) + 1; i > 0; i--) {
      lines.push(pick(['No colon here', ' Folded: continuation', 'Space : before colon', 'X-Nul: a\0b', 'X-CR: a\rb', `X-${junk(3)}: v`, ':', ': empty name', `X-Obs-Fold: a${eol} b`, 'X-Postern-Authenticated-Principal: user:mallory@example.com', `X-Utf8: ${'\u00e9'.repeat(3)}`]))
    }
  }
  if (odd('huge')) {
    if (chance(0.5)) header('X-Long', 'v'.repeat(pick([4_000, 9_000, 70_000])))
    else for (let i = 0; i < pick([60, 120, 300]); i++) header(`X-Many-${i}`, 'x')
  }

  // The body, and what says how long it is.
  const length = pick([0, 2, 20, 700, 20_000])
  const content = letters(length)
  let body: string
  const framing = odd('framing') ? pick(['both', 'short', 'long', 'two-lengths', 'odd-length', 'odd-chunked', 'bad-chunks', 'until-close', 'extra']) : pick(['length', 'length', 'chunked', 'until-close'])
  if (['length', 'both', 'extra'].includes(framing)) header('Content-Length', String(length))
  if (framing === 'short' || framing === 'long') header('Content-Length', String(framing === 'short' ? Math.max(0, length - int(5) - 1) : length + int(50) + 1))
  if (framing === 'two-lengths') {
    header('Content-Length', String(length))
    header('Content-Length', String(length + pick([0, 1])))
  }
  if (framing === 'odd-length') header('Content-Length', pick([`${length}, ${length}`, `+${length}`, '-1', ` ${length}`, `0x${length.toString(16)}`, '99999999999999999999', `${length}`.padStart(30, '0'), 'abc']))
  if (['chunked', 'both', 'odd-chunked', 'bad-chunks'].includes(framing)) {
    header('Transfer-Encoding', framing === 'odd-chunked' ? pick(['chunked, chunked', 'gzip, chunked', 'chunked, gzip', ' chunked', 'Chunked', 'xchunked', 'identity', '']) : 'chunked')
  }
  const well = `${length.toString(16)}\r\n${content}\r\n0\r\n\r\n`
  if (['chunked', 'both', 'odd-chunked'].includes(framing)) body = length ? well : '0\r\n\r\n'
  else if (framing === 'bad-chunks') {
    body = pick([
      `${length.toString(16)};ext=1\r\n${content}\r\n0\r\n\r\n`,
      `${length.toString(16)}\r\n${content}\r\n0\r\nSet-Cookie: __Host-postern_session=planted\r\nX-Trailer: 1\r\n\r\n`,
      `${(length + 2).toString(16)}\r\n${content}\r\n0\r\n\r\n`,
      `-1\r\n${content}\r\n0\r\n\r\n`,
      `${length.toString(16)}\n${content}\n0\n\n`,
      `ffffffffffffffffff\r\n${content}`,
      `${length.toString(16)}\r\n${content}`,
      `zz\r\n${content}\r\n0\r\n\r\n`,
    ])
  } else body = content // the exact length, one too short or long for it, or the close
  if (framing === 'extra') body += pick(['garbage after the body', `HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`, junk(int(20))])

  let bytes = head + statusLine + eol + lines.map((l) => l + eol).join('') + eol + body
  // Damage: a byte changed, dropped or doubled here and there, or the whole cut short.
  for (let i = chance(0.1) ? int(3) + 1 : 0; i > 0; i--) {
    const at = int(bytes.length)
    bytes = pick([
      () => bytes.slice(0, at) + junk(1) + bytes.slice(at + 1),
      () => bytes.slice(0, at) + bytes.slice(at + 1),
      () => bytes.slice(0, at) + pick(['\r\n', '\n', '\0', ' ', '\r\n\r\n']) + bytes.slice(at),
    ])()
  }
  if (chance(0.04)) bytes = bytes.slice(0, int(bytes.length))
  const all = Buffer.from(bytes, 'latin1')
  const cuts = Array.from({ length: pick([0, 0, 1, 2]) }, () => int(all.length)).sort((a, b) => a - b)
  const packets: Buffer[] = []
  let from = 0
  for (const cut of [...cuts, all.length]) {
    if (cut > from) packets.push(all.subarray(from, cut))
    from = Math.max(from, cut)
  }
  return { packets, close: framing === 'until-close' || chance(0.3) }
}

/**
 * An answer to a request that asks for an upgrade (a WebSocket): half the time a `101` in one of
 * its shapes — as it should be, without its Upgrade header, naming another protocol, with a body
 * length — followed by bytes of the new protocol (or what reads as another HTTP answer) and the
 * close; else any answer fuzzHttp1Answer makes. The connection is closed after it either way.
 */
export function fuzzUpgradeAnswer(rand: () => number): FuzzedAnswer {
  const int = (n: number) => Math.floor(rand() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  if (rand() < 0.5) return { ...fuzzHttp1Answer(rand), close: true }
  const head = pick([
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 5\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSet-Cookie: __Host-postern_session=planted; Path=/\r\n\r\n',
    'HTTP/1.1 101\r\nUpgrade: websocket\r\n\r\n',
  ])
  const after = pick(['', '\x81\x05hello', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', Buffer.from(Array.from({ length: int(200) }, () => int(256))).toString('latin1')])
  const all = Buffer.from(head + after, 'latin1')
  const cut = int(all.length)
  return { packets: rand() < 0.3 && cut > 0 ? [all.subarray(0, cut), all.subarray(cut)] : [all], close: true }
}

/** The answer startHostileUpstream gives request `id` (its X-Fuzz-Id) of a run seeded `seed`. */
export function fuzzedAnswerFor(seed: number, id: number, upgrade: boolean): FuzzedAnswer {
  return (upgrade ? fuzzUpgradeAnswer : fuzzHttp1Answer)(seeded(seed * 7_919 + id))
}

/**
 * Whether an answer's bytes name NOMINATED in a Connection header, as a token of its own: a byte
 * the fuzzer damaged ("keep-alive,\xb7X-Hop-Secret", "X -Hop-Secret") names another header.
 */
export function nominates(answer: FuzzedAnswer): boolean {
  const lines = Buffer.concat(answer.packets).toString('latin1').split(/\r?\n/)
  return lines.some((line) => /^connection:/i.test(line) && line.slice(11).split(',').some((t) => t.trim().toLowerCase() === NOMINATED.toLowerCase()))
}

/**
 * An upstream that answers every request with fuzzHttp1Answer (fuzzUpgradeAnswer for one that asks for an upgrade), seeded by `seed` and the request's
 * `X-Fuzz-Id` (0 when it has none). A request is read up to its blank line; the fuzzer's requests
 * have no body.
 */
export async function startHostileUpstream(seed: number): Promise<{ server: Server; url: string }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined)
    let pending = ''
    let answering = Promise.resolve()
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1')
      let end: number
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        const head = pending.slice(0, end)
        pending = pending.slice(end + 4)
        const id = Number(/\r\nx-fuzz-id: *(\d+)/i.exec(head)?.[1] ?? 0)
        const answer = fuzzedAnswerFor(seed, id, /\r\nupgrade:/i.test(head))
        answering = answering.then(async () => {
          for (const packet of answer.packets) {
            if (!socket.writable) return
            socket.write(packet)
            if (answer.packets.length > 1) await new Promise((r) => setTimeout(r, 2))
          }
          if (answer.close) socket.end()
        })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return { server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` }
}
