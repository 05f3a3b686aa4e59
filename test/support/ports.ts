import { createServer } from 'node:net'

// Ports are picked below Linux's ephemeral range (32768–60999): a port bound to 0 comes from
// that range, and between our closing it and the server binding it, any outgoing connection
// (nginx to an upstream, a client to a test server) may take it as its local port. That race
// made `postern serve` fail with "the port is in use" under a full parallel run.
const LOW = 20_000
const HIGH = 32_767
const handedOut = new Set<number>()

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/** A port that was free a moment ago and that no outgoing connection will take meanwhile. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1))
    if (handedOut.has(port)) continue
    if (await canBind(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} after 200 tries`)
}
