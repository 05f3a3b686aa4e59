import { Agent, type Dispatcher } from 'undici'

/**
 * `n` callers, each on one kept-alive connection of its own, calling `call` (which answers a
 * status) one request after another until stopped: what a reload of the gateway's workers would
 * do to callers it closes connections under. `stop` says what failed (statuses other than 200,
 * and errors) and how many were answered 200.
 */
export function keptAliveCallers(n: number, call: (dispatcher: Dispatcher) => Promise<number>): { stop: () => Promise<{ failures: string[]; answered: number }> } {
  const agent = new Agent({ connections: n, pipelining: 1 })
  let stopped = false
  const failures: string[] = []
  let answered = 0
  const caller = async () => {
    while (!stopped) {
      try {
        const status = await call(agent)
        if (status === 200) answered++
        else failures.push(String(status))
      } catch (err) {
        failures.push(String((err as Error).message))
      }
    }
  }
  const callers = Array.from({ length: n }, caller)
  return {
    async stop() {
      stopped = true
      await Promise.all(callers)
      await agent.close()
      return { failures, answered }
    },
  }
}
