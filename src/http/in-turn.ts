import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

type Handover = (req: IncomingMessage, socket: Duplex, head: Buffer, asPlain?: () => boolean) => void

/**
 * Runs `then` once every answer to a request pipelined before this one is written. Node hands a
 * socket over (an Upgrade, a CONNECT) as soon as its request is parsed, while the answers before
 * it may still wait on an upstream or a signature check: answered at once, the handed-over
 * request's answer came first (a pipelining client reads it as its GET's) and the answers still
 * to come were lost. Node gives each queued answer the socket in turn as the one before it
 * finishes; `_httpMessage` is the one it is writing.
 */
export function whenAnswered(socket: Duplex, then: () => void): void {
  const underway = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
  if (!underway) return then()
  underway.once('close', () => whenAnswered(socket, then))
}

/**
 * An 'upgrade' or 'connect' listener that handles its request in turn (whenAnswered), and not at
 * all once an answer before it has ended the connection (`Connection: close`, a refusal). Node
 * stops listening for a handed-over socket's errors: one while it waits would end the process.
 */
export function inTurn(handover: Handover): Handover {
  return (req, socket, head, asPlain) => {
    socket.on('error', () => socket.destroy())
    whenAnswered(socket, () => (socket.writable ? handover(req, socket, head, asPlain) : socket.destroy()))
  }
}
