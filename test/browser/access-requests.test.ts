import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { runCli } from '../support/cli.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { launchChromium, screenshot, signIn, watchedPage } from './console-harness.js'

/**
 * The console's Requests page in headless Chromium (DESIGN §9): the header counts the pending
 * requests the signed-in person may decide; Approve (with a duration) and Deny work and the count
 * follows; the requester's reason is shown as text, never run.
 */
const XSS = '<img src=x onerror=alert(1)>'

interface AccessRequest {
  id: string
  state: string
  grantedDuration?: string
  denialReason?: string
}

let server: PosternProcess
let browser: Browser
let dev: string

const file = async (reason: string, duration: string, role: string): Promise<string> => {
  const r = await runCli(['services', 'request-access', 'hello', `--for=${duration}`, `--reason=${reason}`, `--role=${role}`, '--format=json'], { configDir: dev })
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as AccessRequest).id
}
const request = async (id: string) => (await server.api<AccessRequest>('GET', `/v1/accessRequests/${id}`)).body

beforeAll(async () => {
  server = await startPostern({ args: ['--demo'] })
  browser = await launchChromium()
  await createUser(server, 'dev@example.com', 'correct horse battery staple')
  dev = (await signInUser(server, 'dev@example.com', 'correct horse battery staple')).configDir
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

describe('console Requests page', () => {
  it('shows the pending count in the header; approving with a shorter duration and denying update it', async () => {
    const first = await file(XSS, '2h', 'roles/run.invoker')
    const second = await file('look at the logs', '30m', 'roles/run.viewer')
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, 'owner@example.com', server.ownerPassword!)

    const link = page.getByRole('link', { name: /^Requests/ })
    await expect.poll(() => link.textContent()).toBe('Requests2')
    expect(await link.getByLabel('2 pending').count()).toBe(1)
    await link.click()
    await page.getByRole('heading', { name: 'Access requests', level: 1 }).waitFor()
    const pending = page.getByRole('table', { name: 'Pending access requests' })
    await pending.getByRole('cell', { name: XSS, exact: true }).waitFor()
    await screenshot(page, 'console-requests')

    await pending.getByRole('button', { name: `Approve request ${first} from user:dev@example.com` }).click()
    const approve = page.getByRole('dialog', { name: 'Approve access request' })
    const duration = approve.getByLabel('Duration')
    expect(await duration.inputValue()).toBe('2h')
    await duration.fill('two hours')
    await approve.getByRole('button', { name: 'Approve' }).click()
    await approve.getByRole('alert').getByText('is not a duration').waitFor()
    await duration.fill('9h')
    await approve.getByRole('button', { name: 'Approve' }).click()
    await approve.getByRole('alert').getByText(/exceeds the maximum of 8h/).waitFor()
    await duration.fill('45m')
    await approve.getByRole('button', { name: 'Approve' }).click()
    await approve.waitFor({ state: 'detached' })
    await page.getByRole('status').getByText(/^Approved: user:dev@example.com holds Run Invoker on hello until/).waitFor()
    await expect.poll(() => link.textContent()).toBe('Requests1')
    expect(await request(first)).toMatchObject({ state: 'APPROVED', grantedDuration: '2700s' })

    await pending.getByRole('button', { name: `Deny request ${second} from user:dev@example.com` }).click()
    const deny = page.getByRole('dialog', { name: 'Deny access request' })
    await deny.getByLabel('Reason (optional)').fill('use the staging copy')
    await deny.getByRole('button', { name: 'Deny' }).click()
    await deny.waitFor({ state: 'detached' })
    await expect.poll(() => link.textContent()).toBe('Requests')
    expect(await request(second)).toMatchObject({ state: 'DENIED', denialReason: 'use the staging copy' })
    await pending.getByText('No pending requests.').waitFor()
    const decided = page.getByRole('table', { name: 'Decided access requests' })
    await decided.getByText('Approved').waitFor()
    await decided.getByText('Denied').waitFor()
    await screenshot(page, 'console-requests-decided')

    expect(await page.locator('img').count()).toBe(0)
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('shows the requester their own request without Approve or Deny', async () => {
    const id = await file('my own', '1h', 'roles/run.developer')
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signIn(page, server, 'dev@example.com', 'correct horse battery staple', '/console/projects/my-project/requests')
    const pending = page.getByRole('table', { name: 'Pending access requests' })
    await pending.getByRole('cell', { name: 'my own' }).waitFor()
    await pending.getByText('Your request: waiting for an approver').waitFor()
    expect(await pending.getByRole('button', { name: new RegExp(`Approve request ${id}`) }).count()).toBe(0)
    expect(await page.getByRole('link', { name: /^Requests/ }).textContent()).toBe('Requests')
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('says when there are more requests than it shows, and Show more shows them', async () => {
    // 106 requests filed and denied through the API, one per role that can be granted on a service
    // at a time (the requester already holds run.invoker and waits on run.developer from the tests above).
    const token = (await runCli(['auth', 'print-access-token'], { configDir: dev })).stdout.trim()
    const owner = await server.ownerToken()
    const roles = ['run.viewer', 'run.admin']
    for (let round = 0; round < 53; round++) {
      await Promise.all(roles.map(async (role) => {
        const filed = await server.api<AccessRequest>('POST', '/v1/accessRequests', { resource: 'projects/my-project/services/hello', role: `roles/${role}`, duration: '600s', reason: `bulk ${round}` }, token)
        expect(filed.status, JSON.stringify(filed.body)).toBe(200)
        expect((await server.api('POST', `/v1/accessRequests/${filed.body.id}:deny`, {}, owner)).status).toBe(200)
      }))
    }
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signIn(page, server, 'owner@example.com', server.ownerPassword!, '/console/projects/my-project/requests')
    const note = page.getByRole('note').filter({ hasText: 'Showing the newest 100 requests; there are older ones' })
    await note.waitFor()
    // The newest 100 are all decided: the one still pending is older, so Pending looks empty.
    const rows = page.getByRole('table', { name: 'Decided access requests' }).locator('tbody tr')
    expect(await rows.count()).toBe(100)
    await note.getByRole('button', { name: 'Show more' }).click()
    await note.waitFor({ state: 'detached' })
    await page.getByRole('table', { name: 'Pending access requests' }).getByRole('cell', { name: 'my own' }).waitFor()
    expect(await rows.count()).toBe(108)
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)
})
