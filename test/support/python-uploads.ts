import { spawn } from 'node:child_process'

/**
 * Python's `requests` (Debian's python3-requests, over urllib3) as an uploading client: one
 * Session POSTs `tries` bodies of `bytes` bytes, each in one `sendall` after its head, and reads
 * each answer. urllib3 reads the answer after a write refused with EPIPE (so, unlike undici, it
 * reads a refusal even from a server that closes at once), but not after a reset (ECONNRESET).
 * With `paceMs`, each body goes chunked, 64 KiB every `paceMs`, as over a slow link; requests
 * then reads no answer after any refused write.
 * Resolves to how many uploads ended each way: "STATUS body" (a JSON error by its status) or the
 * exception's class name and message.
 */
const CLIENT = `
import json, sys, time, requests
url, host, token, tries, size, pace = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
headers = {'Host': host, 'Content-Type': 'application/octet-stream'}
if token:
    headers['Authorization'] = 'Bearer ' + token
body = b'u' * size

def paced():
    for start in range(0, size, 65536):
        time.sleep(pace)
        yield body[start:start + 65536]

def summary(r):
    # A JSON error by its status, as the tests' other tallies name one; any other body by its start.
    try:
        return '%d %s' % (r.status_code, r.json()['error']['status'])
    except Exception:
        return '%d %s' % (r.status_code, r.text[:40])

outcomes = {}
with requests.Session() as session:
    for _ in range(tries):
        try:
            r = session.post(url, data=paced() if pace else body, headers=headers, timeout=10)
            outcome = summary(r)
        except requests.RequestException as err:
            outcome = type(err).__name__ + ': ' + str(err)[:120]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
print(json.dumps(outcomes))
`

export function pythonUploads(o: { url: string; host: string; token?: string; tries: number; bytes: number; paceMs?: number }): Promise<Record<string, number>> {
  const child = spawn('/usr/bin/python3', ['-c', CLIENT, o.url, o.host, o.token ?? '', String(o.tries), String(o.bytes), String((o.paceMs ?? 0) / 1000)], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d))
  child.stderr.on('data', (d: Buffer) => (err += d))
  return new Promise((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, number>) : reject(new Error(`python3 requests exited ${code}: ${err}`)))),
  )
}
