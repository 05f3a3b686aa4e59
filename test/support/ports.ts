import { createServer } from 'node:net'

// Ports are picked below Linux's ephemeral range (32768–60999): a port bound to 0 comes from
// that range, and between our closing it and the server binding it, any outgoing connection
// (nginx to an upstream, a client to a test server) may take it as its local port. That race
// made `postern serve` fail with "the port is in use" under a full parallel run.
//
// Each Vitest worker slot (VITEST_POOL_ID, 1..maxWorkers, one file at a time) picks from its own
// slice of that range: two files running side by side once drew the same port between one's
// check and its server's bind, and CI failed on "the port is in use" (2026-12-07).
const LOW = 20_000
const HIGH = 32_767
const SLICES = 8
const SLICE = Math.floor((HIGH - LOW + 1) / SLICES)
const slot = (Number(process.env.VITEST_POOL_ID) || 1) - 1
const FIRST = LOW + (slot % SLICES) * SLICE
const handedOut = new Set<number>()

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/** A port that was free a moment ago and that no outgoing connection or other test file will take meanwhile. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = FIRST + Math.floor(Math.random() * SLICE)
    if (handedOut.has(port)) continue
    if (await canBind(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port between ${FIRST} and ${FIRST + SLICE - 1} after 200 tries`)
}
