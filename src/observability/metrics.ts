/**
 * Prometheus metrics (text exposition 0.0.4), kept by hand rather than with prom-client: the
 * gateway bumps a counter and a histogram on every request, and a Map lookup by a precomputed key
 * is all that should cost. Gauges are read at scrape time.
 */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** `sign_in`: one of Postern's own paths on a service's host (the browser's callback, sign-in, sign-out). */
export type Verdict = 'allowed' | 'public' | 'unauthenticated' | 'denied' | 'not_found' | 'bad_request' | 'unavailable' | 'error' | 'sign_in'

class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0)
  sum = 0
  observe(seconds: number): void {
    let i = 0
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++
    this.counts[i]!++
    this.sum += seconds
  }
}

export class Metrics {
  private readonly requests = new Map<string, number>()
  private readonly latency = new Map<Verdict, Histogram>()
  private readonly gauges = new Map<string, { help: string; read: () => number }>()
  private readonly counters = new Map<string, { help: string; label: string; values: Map<string, number> }>()

  /** One gateway request: its service (or '' when none matched), verdict and duration. */
  request(service: string, verdict: Verdict, seconds: number): void {
    const key = `${service}\u0000${verdict}`
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1)
    let h = this.latency.get(verdict)
    if (!h) this.latency.set(verdict, (h = new Histogram()))
    h.observe(seconds)
  }

  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read })
  }

  /** A counter with one label: the function returned adds one to the series of a label value. */
  counter(name: string, help: string, label: string): (value: string) => void {
    const values = new Map<string, number>()
    this.counters.set(name, { help, label, values })
    return (value) => values.set(value, (values.get(value) ?? 0) + 1)
  }

  render(): string {
    const lines: string[] = []
    lines.push('# HELP postern_gateway_requests_total Gateway requests by service and verdict.', '# TYPE postern_gateway_requests_total counter')
    for (const [key, n] of this.requests) {
      const [service, verdict] = key.split('\u0000')
      lines.push(`postern_gateway_requests_total{service="${label(service!)}",verdict="${verdict}"} ${n}`)
    }
    lines.push('# HELP postern_gateway_request_duration_seconds Time from request to response end.', '# TYPE postern_gateway_request_duration_seconds histogram')
    for (const [verdict, h] of this.latency) {
      let cumulative = 0
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += h.counts[i]!
        lines.push(`postern_gateway_request_duration_seconds_bucket{verdict="${verdict}",le="${le}"} ${cumulative}`)
      })
      cumulative += h.counts[LATENCY_BUCKETS.length]!
      lines.push(`postern_gateway_request_duration_seconds_bucket{verdict="${verdict}",le="+Inf"} ${cumulative}`)
      lines.push(`postern_gateway_request_duration_seconds_sum{verdict="${verdict}"} ${h.sum}`)
      lines.push(`postern_gateway_request_duration_seconds_count{verdict="${verdict}"} ${cumulative}`)
    }
    for (const [name, c] of this.counters) {
      lines.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`)
      for (const [value, n] of c.values) lines.push(`${name}{${c.label}="${label(value)}"} ${n}`)
    }
    for (const [name, g] of this.gauges) lines.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.read()}`)
    return lines.join('\n') + '\n'
  }
}

const label = (value: string) => value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))
