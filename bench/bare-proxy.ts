import { createServer } from 'node:http'
import { Pool, type Dispatcher } from 'undici'

/**
 * The floor for any gateway written in Node: an HTTP server that forwards every request to one
 * upstream through an undici keep-alive pool, as src/gateway/forward.ts does, and nothing else
 * (no routing, token, policy or header work). Postern's figures are read against it to tell the
 * gateway's own cost from Node's.
 *
 *   node dist/bench/bare-proxy.js PORT UPSTREAM_URL
 */
const [port, upstream] = process.argv.slice(2)
const pool = new Pool(upstream!, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 })

const server = createServer((req, res) => {
  pool
    .stream({ path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers: req.headers as Record<string, string> }, ({ statusCode, headers }) => {
      res.writeHead(statusCode, headers as Record<string, string>)
      return res
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('bare proxy ready\n'))

// Exit through process.exit, so that `node --cpu-prof` writes its profile.
process.once('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
