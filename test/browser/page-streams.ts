import type { Page } from 'playwright-core'

// Strings, not functions, are evaluated in the page: the tests are compiled without the DOM library.

/** An EventSource opened by the page on `path`: when it opened and when its first event came (ms from the start), and that event's data. */
export async function pageEventStream(page: Page, path: string): Promise<{ opened: number; message: number; data: string }> {
  return (await page.evaluate(`new Promise((resolve, reject) => {
    const start = performance.now()
    const source = new EventSource(${JSON.stringify(path)})
    let opened
    source.onopen = () => (opened = performance.now() - start)
    source.onmessage = (e) => {
      source.close()
      resolve({ opened, message: performance.now() - start, data: e.data })
    }
    source.onerror = () => {
      source.close()
      reject(new Error('the event stream failed'))
    }
  })`)) as { opened: number; message: number; data: string }
}

/**
 * A WebSocket opened by the page on `url`, sent 'ping': what came back. The socket stays open;
 * `globalThis.closed` in the page resolves to the time (Date.now()) it is closed.
 */
export async function pageWebSocketEcho(page: Page, url: string): Promise<unknown> {
  return page.evaluate(`new Promise((resolve, reject) => {
    const ws = new WebSocket(${JSON.stringify(url)})
    globalThis.closed = new Promise((r) => ws.addEventListener('close', () => r(Date.now())))
    ws.onopen = () => ws.send('ping')
    ws.onmessage = (e) => resolve(e.data)
    ws.onerror = () => reject(new Error('websocket failed'))
  })`)
}
