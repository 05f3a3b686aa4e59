import { expect } from 'vitest'
import { gatewayStatus } from './gateway-status.js'
import type { PosternProcess } from './server.js'

/** The host of the service closedServiceAndRobot creates. */
export const CLOSED_SERVICE_HOST = 'api.my-project.localhost'

/** What closedServiceAndRobot made: the owner's access token and the robot's ID token. */
export interface ClosedServiceAndRobot {
  owner: string
  /** The service account robot-0 (its email). */
  email: string
  /** Its ID token (aud postern-cli), for the gateway. */
  token: string
}

/**
 * The start of the database tests: on a fresh installation, the service `api`
 * (CLOSED_SERVICE_HOST) whose upstream is closed, so a request the gateway lets through answers
 * 502, and the service account robot-0 with an ID token; granted roles/run.invoker on the service
 * with `invoker`, else no binding yet.
 */
export async function closedServiceAndRobot(server: PosternProcess, o: { invoker?: boolean } = {}): Promise<ClosedServiceAndRobot> {
  expect((await server.cli(['services', 'create', 'api', '--upstream', 'http://127.0.0.1:9'])).code).toBe(0)
  const owner = await server.ownerToken()
  const sa = await server.api<{ email: string }>('POST', '/v1/projects/my-project/serviceAccounts', { accountId: 'robot-0' }, owner)
  expect(sa.status).toBe(200)
  const minted = await server.api<{ token: string }>('POST', `/v1/projects/-/serviceAccounts/${sa.body.email}:generateIdToken`, { audience: 'postern-cli' }, owner)
  expect(minted.status).toBe(200)
  if (o.invoker) {
    const bound = await server.cli(['services', 'add-iam-policy-binding', 'api', `--member=serviceAccount:${sa.body.email}`, '--role=roles/run.invoker', '--quiet'])
    expect(bound.code).toBe(0)
  }
  return { owner, email: sa.body.email, token: minted.body.token }
}

/** The gateway's verdict on that service for this token: 'allowed' (its closed upstream's 502), 'denied' (403), else the status. */
export async function closedServiceVerdict(gatewayPort: number, token: string): Promise<string> {
  const status = await gatewayStatus(gatewayPort, CLOSED_SERVICE_HOST, token)
  return status === 502 ? 'allowed' : status === 403 ? 'denied' : String(status)
}
