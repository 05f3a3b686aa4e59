import { LARGE_PATH } from './nginx.js'

/** What a scenario's load goes through. */
export type Target = 'upstream' | 'nginx-proxy' | 'nginx-proxy-auto' | 'bare-proxy' | 'gateway' | 'dev-proxy' | 'nginx-plane' | 'nginx-plane-one' | 'caddy'

/** The targets whose requests the nginx data plane's Postern decides: the plane itself, and its configuration on one worker. */
export const decidedByPlane = (target: Target) => target === 'nginx-plane' || target === 'nginx-plane-one'

export interface Scenario {
  id: string
  label: string
  target: Target
  path: string
  /** The gateway's service (Host), for targets gateway and nginx-plane. */
  service?: 'bench' | 'bench-public'
  /** warm: one token; cold: a fresh file of tokens each round; denied: a token without the role. */
  token?: 'warm' | 'cold' | 'denied'
  /** Send the request another target gets (its Host, its warm token) rather than this target's own. */
  requestLike?: Target
  expect: 200 | 403
  /** The scenarios this one's throughput is divided by (same body size). */
  proxyRef: string
  directRef: string
  /** A reference row (not part of the list): shown, never judged. */
  reference?: string
}

const SMALL = { proxyRef: 'nginx-proxy', directRef: 'direct' } as const
const LARGE = { proxyRef: 'nginx-proxy-64k', directRef: 'direct-64k', path: LARGE_PATH } as const

/** The benchmark's scenarios (the gateway next to direct calls and nginx), plus the Node floor as a reference. */
export const SCENARIOS: readonly Scenario[] = [
  { id: 'direct', label: 'direct (nginx upstream, small body)', target: 'upstream', path: '/', expect: 200, ...SMALL },
  { id: 'direct-64k', label: 'direct, 64 KB body', target: 'upstream', expect: 200, ...LARGE },
  { id: 'nginx-proxy', label: 'nginx proxy (keep-alive upstream)', target: 'nginx-proxy', path: '/', expect: 200, ...SMALL },
  { id: 'nginx-proxy-64k', label: 'nginx proxy, 64 KB body', target: 'nginx-proxy', expect: 200, ...LARGE },
  {
    id: 'node-bare-proxy',
    label: 'Node bare proxy (reference)',
    target: 'bare-proxy',
    path: '/',
    expect: 200,
    reference: 'http.createServer + undici Pool.stream and nothing else: the floor for a gateway in one Node process',
    ...SMALL,
  },
  { id: 'postern-warm', label: 'postern warm (one token)', target: 'gateway', service: 'bench', token: 'warm', path: '/', expect: 200, ...SMALL },
  { id: 'postern-warm-64k', label: 'postern warm, 64 KB body', target: 'gateway', service: 'bench', token: 'warm', expect: 200, ...LARGE },
  { id: 'postern-cold', label: 'postern cold (new tokens: 1,000 users × 10)', target: 'gateway', service: 'bench', token: 'cold', path: '/', expect: 200, ...SMALL },
  { id: 'postern-public', label: 'postern public (no auth)', target: 'gateway', service: 'bench-public', path: '/', expect: 200, ...SMALL },
  { id: 'postern-denied', label: 'postern denied (403)', target: 'gateway', service: 'bench', token: 'denied', path: '/', expect: 403, ...SMALL },
  { id: 'dev-proxy', label: 'dev proxy → gateway', target: 'dev-proxy', path: '/', expect: 200, ...SMALL },
  // The nginx data plane (postern serve --data-plane nginx) runs nginx with worker_processes auto:
  // it is judged against a plain nginx proxy with as many workers, measured in the same rounds and
  // sent the very request the data plane gets (its Host, a token), as the sketch sends
  // every target: the difference is then what Postern adds, not the bytes the caller sent.
  {
    id: 'nginx-proxy-auto',
    label: 'nginx proxy, worker_processes auto (the data plane\'s request)',
    target: 'nginx-proxy-auto',
    service: 'bench',
    token: 'warm',
    requestLike: 'nginx-plane',
    path: '/',
    expect: 200,
    reference: 'the nginx data plane\'s reference: a plain nginx proxy with as many workers',
    proxyRef: 'nginx-proxy',
    directRef: 'direct',
  },
  { id: 'nginx-plane-warm', label: 'nginx data plane warm (one token; 10,001 services) ÷ nginx auto', target: 'nginx-plane', service: 'bench', token: 'warm', path: '/', expect: 200, proxyRef: 'nginx-proxy-auto', directRef: 'direct' },
  { id: 'nginx-plane-cold', label: 'nginx data plane cold (new tokens; 10,001 services) ÷ nginx auto', target: 'nginx-plane', service: 'bench', token: 'cold', path: '/', expect: 200, proxyRef: 'nginx-proxy-auto', directRef: 'direct' },
  // How the plane scales with its workers: its configuration on one worker, beside the proxy on one
  // worker sent the same request; the goal compares auto ÷ one for the two (report.ts).
  {
    id: 'nginx-proxy-one',
    label: 'nginx proxy, one worker (the data plane\'s request)',
    target: 'nginx-proxy',
    service: 'bench',
    token: 'warm',
    requestLike: 'nginx-plane',
    path: '/',
    expect: 200,
    reference: 'the one-worker reference for how the data plane scales with its workers',
    proxyRef: 'nginx-proxy',
    directRef: 'direct',
  },
  {
    id: 'nginx-plane-one',
    label: 'nginx data plane warm, one worker ÷ nginx proxy, one worker',
    target: 'nginx-plane-one',
    service: 'bench',
    token: 'warm',
    requestLike: 'nginx-plane',
    path: '/',
    expect: 200,
    reference: 'the data plane\'s own configuration on one worker: what worker_processes auto gains it',
    proxyRef: 'nginx-proxy-one',
    directRef: 'direct',
  },
  {
    id: 'caddy-proxy',
    label: 'Caddy reverse_proxy, GOMAXPROCS=1 (Go reference)',
    target: 'caddy',
    path: '/',
    expect: 200,
    reference: 'a Go reverse proxy on one core, no authentication: what oauth2-proxy-style gateways build on',
    ...SMALL,
  },
]
