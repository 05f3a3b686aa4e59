import { connect } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { CONNECTION_PREFACE, FLAG, FRAME, frame, headerBlock } from './h2-frames.js'

/** A small seeded generator (mulberry32), so a run that finds something can be run again. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const PRIORITY = 2
const PUSH_PROMISE = 5

/**
 * One connection's worth of HTTP/2 frames a fuzzer sends, as the packets (writes) that carry them:
 * mostly well-formed frames in unusual orders, and now and then one of the wrong length, on the
 * wrong stream, of an unknown type, or plain garbage. Frames are grouped several to a packet,
 * since how nghttp2 reacts depends on what arrives in one read. Requests carry the token or not,
 * at random; `authorized` says which streams did.
 */
export function fuzzConnection(rand: () => number, o: { authority: string; token: string }): { packets: Buffer[]; authorized: Set<number> } {
  const int = (n: number) => Math.floor(rand() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)))
  const wrongLength = (right: number) => pick([0, right - 1, right + 1, int(20)].filter((n) => n !== right && n >= 0))
  const u32 = (value: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(value >>> 0)
    return b
  }
  const authorized = new Set<number>()
  let nextStream = 1
  const stream = () => pick([nextStream, nextStream - 2, 0, 2, int(2 ** 31)].filter((id) => id >= 0))

  const request = () => {
    const id = rand() < 0.8 ? nextStream : stream()
    if (id === nextStream) nextStream += 2
    const withToken = rand() < 0.5
    if (withToken) authorized.add(id)
    const headers: [string, string][] = [[':method', pick(['GET', 'POST', 'HEAD', 'CONNECT'])], [':scheme', 'http'], [':authority', o.authority], [':path', pick(['/echo', '/', '/slow?ms=50'])]]
    if (withToken) headers.push(['authorization', `Bearer ${o.token}`])
    if (rand() < 0.2) headers.push(pick([['connection', 'close'], ['te', 'gzip'], [':path', '/again'], ['Upper', 'x'], ['content-length', '3']] as [string, string][]))
    const flags = (rand() < 0.8 ? FLAG.END_HEADERS : 0) | (rand() < 0.6 ? FLAG.END_STREAM : 0) | (rand() < 0.1 ? 0x8 /* PADDED */ : 0)
    return frame(FRAME.HEADERS, flags, id, headerBlock(headers))
  }
  // A client's GOAWAY changes what nghttp2 and Node do with every frame after it in the same read.
  const goaway = () => frame(FRAME.GOAWAY, 0, rand() < 0.9 ? 0 : 1, rand() < 0.8 ? Buffer.concat([u32(int(8)), u32(rand() < 0.6 ? 0 : int(14))]) : bytes(int(8)))
  const makers: (() => Buffer)[] = [
    request,
    request,
    () => frame(FRAME.DATA, pick([0, FLAG.END_STREAM]), stream(), bytes(int(40))),
    () => frame(FRAME.SETTINGS, 0, 0, rand() < 0.8 ? Buffer.concat([Buffer.from([0, pick([1, 2, 3, 4, 5, 6, 9])]), u32(int(2 ** 31))]) : bytes(wrongLength(6))),
    () => frame(FRAME.SETTINGS, FLAG.ACK, 0, rand() < 0.8 ? Buffer.alloc(0) : bytes(6)),
    () => frame(FRAME.PING, pick([0, FLAG.ACK]), rand() < 0.9 ? 0 : 1, bytes(rand() < 0.6 ? 8 : wrongLength(8))),
    goaway,
    goaway,
    () => frame(FRAME.RST_STREAM, 0, stream(), rand() < 0.6 ? u32(int(14)) : bytes(wrongLength(4))),
    () => frame(FRAME.WINDOW_UPDATE, 0, rand() < 0.5 ? 0 : stream(), rand() < 0.6 ? u32(int(2 ** 31)) : bytes(wrongLength(4))),
    () => frame(PRIORITY, 0, stream(), bytes(rand() < 0.6 ? 5 : wrongLength(5))),
    () => frame(FRAME.CONTINUATION, pick([0, FLAG.END_HEADERS]), stream(), headerBlock([['x', 'y']])),
    () => frame(PUSH_PROMISE, FLAG.END_HEADERS, stream(), Buffer.concat([u32(2), headerBlock([[':path', '/']])])),
    () => frame(10 + int(240), int(256), stream(), bytes(int(30))),
    () => bytes(1 + int(12)),
  ]
  const frames = Array.from({ length: 1 + int(10) }, () => pick(makers)())
  const packets: Buffer[] = [Buffer.concat([CONNECTION_PREFACE, rand() < 0.9 ? frame(FRAME.SETTINGS, 0, 0) : Buffer.alloc(0)])]
  for (const f of frames) {
    if (rand() < 0.2 || packets.length === 1) packets.push(f)
    else packets[packets.length - 1] = Buffer.concat([packets.at(-1)!, f])
  }
  // Most often the preface goes out with the frames after it, as a client in a hurry sends it.
  if (rand() < 0.5) packets.splice(0, 2, Buffer.concat([packets[0]!, packets[1]!]))
  return { packets, authorized }
}

/**
 * Sends one connection's packets (fuzzConnection) a moment apart, then waits briefly for the
 * server to answer or close. With `tls`, over TLS offering only h2 by ALPN (any certificate).
 */
export function playH2(port: number, packets: Buffer[], o: { tls?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    const socket = o.tls ? connectTls({ port, host: '127.0.0.1', ALPNProtocols: ['h2'], rejectUnauthorized: false }) : connect(port, '127.0.0.1')
    const done = () => {
      socket.destroy()
      resolve()
    }
    socket.on('error', done)
    socket.on('close', done)
    socket.on('data', () => undefined)
    socket.once(o.tls ? 'secureConnect' : 'connect', async () => {
      for (const packet of packets) {
        if (!socket.writable) return
        socket.write(packet)
        await new Promise((r) => setTimeout(r, 1))
      }
      setTimeout(done, 30)
    })
  })
}

/**
 * What a hostile HTTP/2 upstream answers on one connection, as packets: a SETTINGS, then response
 * HEADERS (complete or not) on the streams a client opens, DATA, GOAWAYs, resets, pushes and
 * frames of the wrong length, grouped several to a packet.
 */
export function fuzzUpstreamAnswer(rand: () => number): Buffer[] {
  const int = (n: number) => Math.floor(rand() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)))
  const u32 = (value: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(value >>> 0)
    return b
  }
  const stream = () => pick([1, 1, 1, 3, 3, 5, 0, 2])
  // :status from HPACK's static table (200, 204, 404, 500), now and then followed by junk.
  const status = () => Buffer.concat([Buffer.from([pick([0x88, 0x89, 0x8d, 0x8e])]), rand() < 0.2 ? bytes(int(6)) : Buffer.alloc(0)])
  const goaway = () => frame(FRAME.GOAWAY, 0, 0, rand() < 0.8 ? Buffer.concat([u32(int(4)), u32(rand() < 0.6 ? 0 : int(14))]) : bytes(int(9)))
  const makers: (() => Buffer)[] = [
    () => frame(FRAME.HEADERS, pick([FLAG.END_HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 0, FLAG.END_STREAM]), stream(), status()),
    () => frame(FRAME.HEADERS, pick([FLAG.END_HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM]), stream(), status()),
    () => frame(FRAME.DATA, pick([0, FLAG.END_STREAM]), stream(), bytes(int(30))),
    () => frame(FRAME.SETTINGS, 0, 0, rand() < 0.8 ? Buffer.concat([Buffer.from([0, pick([1, 3, 4, 5, 6])]), u32(int(2 ** 31))]) : bytes(pick([1, 5, 7]))),
    () => frame(FRAME.SETTINGS, FLAG.ACK, 0, rand() < 0.8 ? Buffer.alloc(0) : bytes(6)),
    () => frame(FRAME.PING, pick([0, FLAG.ACK]), 0, bytes(rand() < 0.6 ? 8 : pick([0, 7, 9]))),
    goaway,
    goaway,
    () => frame(FRAME.RST_STREAM, 0, stream(), rand() < 0.6 ? u32(int(14)) : bytes(pick([3, 5]))),
    () => frame(FRAME.WINDOW_UPDATE, 0, pick([0, stream()]), rand() < 0.6 ? u32(int(2 ** 31)) : bytes(pick([3, 5]))),
    () => frame(PUSH_PROMISE, FLAG.END_HEADERS, stream(), Buffer.concat([u32(2), Buffer.from([0x82, 0x86, 0x84])])),
    () => frame(FRAME.CONTINUATION, pick([0, FLAG.END_HEADERS]), stream(), bytes(3)),
    () => frame(PRIORITY, 0, stream(), bytes(pick([4, 5]))),
    () => bytes(1 + int(10)),
  ]
  const packets: Buffer[] = [frame(FRAME.SETTINGS, 0, 0)]
  for (let i = 1 + int(10); i > 0; i--) {
    const f = pick(makers)()
    if (rand() < 0.25) packets.push(f)
    else packets[packets.length - 1] = Buffer.concat([packets.at(-1)!, f])
  }
  return packets
}
