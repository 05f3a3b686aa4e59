import { createServer, connect, type Server, type Socket } from 'node:net'
import { freePort } from './ports.js'

/** A TCP relay the test can cut and restore: a network partition between a process and its database. */
export async function startTcpProxy(targetPort: number): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | undefined
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(targetPort, '127.0.0.1')
        sockets.add(client).add(upstream)
        const end = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on('error', end).on('close', end)
        upstream.on('error', end).on('close', end)
        client.pipe(upstream).pipe(client)
      })
      server.listen(port, '127.0.0.1', resolve)
    })
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      sockets.clear()
      if (!server) return resolve()
      server.close(() => resolve())
      server = undefined
    })
  await listen()
  return { port, cut, restore: listen, close: cut }
}
