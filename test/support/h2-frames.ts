import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'

/** HTTP/2 frames written by hand (RFC 9113 §4, §6), for attacks a well-behaved client library refuses to send. */
export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const
export const ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(streamId & 0x7fffffff, 5)
  return Buffer.concat([head, payload])
}

/** RFC 7541 §5.1 integer with an N-bit prefix. */
function hpackInt(value: number, prefixBits: number, firstByte = 0): Buffer {
  const max = (1 << prefixBits) - 1
  if (value < max) return Buffer.from([firstByte | value])
  const out = [firstByte | max]
  let rest = value - max
  while (rest >= 128) {
    out.push((rest % 128) + 128)
    rest = Math.floor(rest / 128)
  }
  out.push(rest)
  return Buffer.from(out)
}

const hpackString = (s: string) => Buffer.concat([hpackInt(Buffer.byteLength(s), 7), Buffer.from(s)])

/** A header block of literal fields without indexing (RFC 7541 §6.2.2): no compression state involved. */
export function headerBlock(headers: [string, string][]): Buffer {
  return Buffer.concat(headers.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]))
}

export const rstStream = (streamId: number, code: number) => {
  const p = Buffer.alloc(4)
  p.writeUInt32BE(code)
  return frame(FRAME.RST_STREAM, 0, streamId, p)
}

export interface Received {
  type: number
  flags: number
  streamId: number
  payload: Buffer
}

/** A raw HTTP/2 connection: the preface and an empty SETTINGS are sent; every frame received is parsed and kept; SETTINGS are acknowledged (after `settingsAckDelayMs`). */
export async function rawH2(port: number, o: { settingsAckDelayMs?: number; ca?: Buffer } = {}): Promise<{ socket: Socket; frames: Received[]; closed: Promise<void>; send(b: Buffer): boolean }> {
  // Over TLS (h2 by ALPN) when given the CA certificate to trust, else h2c with prior knowledge.
  const socket = o.ca ? tlsConnect({ port, host: '127.0.0.1', ca: o.ca, ALPNProtocols: ['h2'] }) : connect(port, '127.0.0.1')
  await new Promise((resolve, reject) => socket.once(o.ca ? 'secureConnect' : 'connect', resolve).once('error', reject))
  socket.on('error', () => undefined)
  const frames: Received[] = []
  let buffered = Buffer.alloc(0)
  socket.on('data', (d: Buffer) => {
    buffered = Buffer.concat([buffered, d])
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3)
      if (buffered.length < 9 + length) break
      const f = { type: buffered[3]!, flags: buffered[4]!, streamId: buffered.readUInt32BE(5) & 0x7fffffff, payload: buffered.subarray(9, 9 + length) }
      frames.push(f)
      // Settings are acknowledged, as a client must, so the server does not end the session for that.
      if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK)) {
        const ack = () => socket.writable && socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0))
        if (o.settingsAckDelayMs) setTimeout(ack, o.settingsAckDelayMs)
        else ack()
      }
      buffered = buffered.subarray(9 + length)
    }
  })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.write(Buffer.concat([CONNECTION_PREFACE, frame(FRAME.SETTINGS, 0, 0)]))
  return { socket, frames, closed, send: (b) => socket.writable && socket.write(b) }
}

export const goaway = (frames: Received[]) => frames.find((f) => f.type === FRAME.GOAWAY)
export const goawayCode = (frames: Received[]) => goaway(frames)?.payload.readUInt32BE(4)
export const rstCodes = (frames: Received[]) => frames.filter((f) => f.type === FRAME.RST_STREAM).map((f) => f.payload.readUInt32BE(0))
/** The `:status` of response HEADERS frames, read from HPACK's static table only (8: 200, 13: 404, …) or a literal. */
export const responseStreams = (frames: Received[]) => frames.filter((f) => f.type === FRAME.HEADERS).map((f) => f.streamId)

/**
 * A raw HTTP/2 upstream (h2c, prior knowledge): it sends an empty SETTINGS, acknowledges the
 * client's, and hands each stream the client opens (its HEADERS) to `answer`, which returns the
 * bytes to write back, all at once.
 */
export async function rawH2Upstream(answer: (streamId: number) => Buffer): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket.once('close', () => sockets.delete(socket)))
    socket.on('error', () => undefined)
    socket.write(frame(FRAME.SETTINGS, 0, 0))
    let buffered = Buffer.alloc(0)
    let prefaceRead = false
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d])
      if (!prefaceRead) {
        if (buffered.length < CONNECTION_PREFACE.length) return
        buffered = buffered.subarray(CONNECTION_PREFACE.length)
        prefaceRead = true
      }
      while (buffered.length >= 9 && buffered.length >= 9 + buffered.readUIntBE(0, 3)) {
        const [type, flags, streamId] = [buffered[3]!, buffered[4]!, buffered.readUInt32BE(5) & 0x7fffffff]
        buffered = buffered.subarray(9 + buffered.readUIntBE(0, 3))
        if (type === FRAME.SETTINGS && !(flags & FLAG.ACK)) socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0))
        if (type === FRAME.HEADERS) socket.write(answer(streamId))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const socket of sockets) socket.destroy()
    }),
  }
}
