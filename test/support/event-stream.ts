import { curl } from './curl.js'

/**
 * An event stream fetched with curl (an SSE client opens on the headers): its body, the HTTP
 * version and status as `2 200`, and when its headers and its end came, in seconds.
 */
export async function curlEventStream(args: string[]) {
  const r = await curl([...args, '-w', '\n%{http_version} %{http_code} %{time_starttransfer} %{time_total}'])
  const timings = r.stdout.slice(r.stdout.lastIndexOf('\n') + 1)
  const [version, status, headersAt, total] = timings.split(' ')
  return { body: r.stdout.slice(0, -timings.length - 1), answer: `${version} ${status}`, headersAt: Number(headersAt), total: Number(total), stderr: r.stderr }
}
