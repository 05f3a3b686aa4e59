import { spawn } from 'node:child_process'

/**
 * A real WSGI upstream: Python's own `wsgiref` server, which (like CGI, most WSGI servers and
 * Rack) turns every header name into `HTTP_NAME` with `-` and `_` alike, joining the values of
 * names that collide. It answers every request with the JSON of its HTTP_* environ, but
 * `/stream`: 16 MiB of "postern " with no length, ended by its close, and `/early`: a 413 that
 * reads none of the request's body.
 */
const APP = `
import json, sys
from wsgiref.simple_server import make_server, WSGIRequestHandler

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

def app(environ, start_response):
    if environ['PATH_INFO'] == '/stream':
        # 16 MiB with no length: wsgiref answers HTTP/1.0, and its close ends the body.
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return (b'postern ' * 8192 for _ in range(256))
    if environ['PATH_INFO'] == '/early':
        # An answer that reads none of the body: wsgiref then closes with the body unread.
        start_response('413 Request Entity Too Large', [('Content-Type', 'text/plain'), ('Content-Length', '7')])
        return [b'too big']
    body = json.dumps({k: v for k, v in environ.items() if k.startswith('HTTP_') or k == 'PATH_INFO'}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]

server = make_server('127.0.0.1', 0, app, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
`

export async function startWsgiUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn('/usr/bin/python3', ['-c', APP], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`python3 wsgiref exited with ${code}`)))
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
  })
  child.removeAllListeners('exit')
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
