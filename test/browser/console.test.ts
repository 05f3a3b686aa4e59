import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext } from 'playwright-core'
import { startPostern, type PosternProcess } from '../support/server.js'
import { launchChromium, screenshot, signIn, watchedPage } from './console-harness.js'

/**
 * The console against a real `postern serve` in headless Chromium (issue 5): the Permissions
 * panel flow of the "authenticate developers" guide, what a Run Viewer may do, and escaping.
 */
const PROJECT = 'my-project'
const OWNER = 'owner@example.com'
const VIEWER = 'viewer@example.com'
const VIEWER_PASSWORD = 'viewer-password-1234'
const XSS = '<img src=x onerror=alert(1)>'

interface Policy {
  bindings?: { role: string; members: string[] }[]
  etag?: string
}

interface ApiErrorBody {
  error: { code: number; status: string; message: string }
}

let server: PosternProcess
let browser: Browser
let ownerToken: string

const api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => server.api<T>(method, path, body, ownerToken)
const servicePath = (s: string) => `/v2/projects/${PROJECT}/services/${s}`
const membersOf = (policy: Policy, role: string) => policy.bindings?.find((b) => b.role === role)?.members ?? []

async function grant(resource: string, role: string, member: string): Promise<void> {
  const { body: policy } = await api<Policy>('POST', `${resource}:getIamPolicy`)
  const bindings = [...(policy.bindings ?? []), { role, members: [member] }]
  const res = await api('POST', `${resource}:setIamPolicy`, { policy: { bindings, etag: policy.etag } })
  expect(res.status).toBe(200)
}

beforeAll(async () => {
  server = await startPostern({ args: ['--demo'] })
  ownerToken = await server.ownerToken()
  browser = await launchChromium()
  // A Run Viewer on the project, with a password to sign in with.
  expect((await api('POST', '/v1/users', { email: VIEWER, password: VIEWER_PASSWORD })).status).toBe(200)
  await grant(`/v1/projects/${PROJECT}`, 'roles/run.viewer', `user:${VIEWER}`)
  // Hostile strings where users put text: a service description and a group's name.
  expect((await api('POST', `/v2/projects/${PROJECT}/services?serviceId=billing`, { upstream: 'http://127.0.0.1:9', description: XSS })).status).toBe(200)
  expect((await api('POST', '/v1/groups', { email: 'xss-team@example.com', displayName: XSS })).status).toBe(200)
  await grant(servicePath('billing'), 'roles/run.invoker', 'group:xss-team@example.com')
  await grant(servicePath('hello'), 'roles/run.invoker', 'user:dev@example.com')
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

describe('console', () => {
  let context: BrowserContext

  it('owner grants Run Invoker through the Permissions panel, and removes it again', async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!)
    await expect.poll(() => page.url()).toContain(`/console/projects/${PROJECT}/services`)
    await page.getByRole('link', { name: 'hello', exact: true }).waitFor()
    await screenshot(page, 'console-services')

    // Select the service by its checkbox, without opening it.
    const servicesUrl = page.url()
    await page.getByRole('checkbox', { name: 'Select service hello' }).check()
    expect(page.url()).toBe(servicesUrl)
    await page.getByRole('button', { name: 'Show info panel' }).click()
    const panel = page.getByRole('complementary', { name: 'Info panel' })
    await panel.getByRole('tab', { name: 'Permissions' }).click()
    await panel.getByRole('button', { name: 'Add principal' }).click()

    const dialog = page.getByRole('dialog', { name: /Grant access/ })
    await dialog.getByLabel('New principals').fill('test-user@gmail.com')
    await dialog.getByLabel('Select a role').selectOption({ label: 'Run Invoker' })
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.waitFor({ state: 'detached' })

    const invokers = panel.getByRole('region', { name: 'Run Invoker' })
    await invokers.getByText('test-user@gmail.com', { exact: true }).waitFor()
    await expect.poll(async () => membersOf((await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body, 'roles/run.invoker')).toContain('user:test-user@gmail.com')
    // The owner's own role comes from the organization: shown, marked inherited, not removable here.
    await panel.getByText('Inherited from the organization').first().waitFor()
    expect(await panel.getByRole('button', { name: `Remove user:${OWNER} from Owner` }).count()).toBe(0)
    await screenshot(page, 'console-permissions', 'console-permissions.png')

    await panel.getByRole('button', { name: 'Remove user:test-user@gmail.com from Run Invoker' }).click()
    const confirm = page.getByRole('dialog', { name: 'Remove principal?' })
    await confirm.getByText('will lose the Run Invoker role').waitFor()
    await confirm.getByRole('button', { name: 'Remove' }).click()
    await confirm.waitFor({ state: 'detached' })
    await invokers.getByText('test-user@gmail.com', { exact: true }).waitFor({ state: 'detached' })
    const after = (await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body
    expect(membersOf(after, 'roles/run.invoker')).not.toContain('user:test-user@gmail.com')
    expect(membersOf(after, 'roles/run.invoker')).toContain('user:dev@example.com')

    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('a Run Viewer sees the policy but no way to change it, and a mutation without the CSRF token is refused', async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, VIEWER, VIEWER_PASSWORD, `/console/projects/${PROJECT}/services`)
    await page.getByRole('checkbox', { name: 'Select service hello' }).check()
    await page.getByRole('button', { name: 'Show info panel' }).click()
    const panel = page.getByRole('complementary', { name: 'Info panel' })
    await panel.getByRole('tab', { name: 'Permissions' }).click()
    await panel.getByRole('region', { name: 'Run Invoker' }).getByText('dev@example.com', { exact: true }).waitFor()
    await panel.getByText('You can view these permissions but not change them.').waitFor()
    expect(await page.getByRole('button', { name: 'Add principal' }).count()).toBe(0)
    expect(await page.getByRole('button', { name: /^Remove / }).count()).toBe(0)
    expect(await page.getByRole('button', { name: 'Create service' }).count()).toBe(0)
    expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0)

    const before = (await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body
    const forged = { policy: { bindings: [{ role: 'roles/run.admin', members: [`user:${VIEWER}`] }] } }
    // From the page itself, with the session cookie but without X-CSRF-Token…
    const fromPage = await page.evaluate(async ([path, body]) => {
      const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: res.status, body: (await res.json()) as ApiErrorBody }
    }, [`${servicePath('hello')}:setIamPolicy`, forged] as const)
    expect(fromPage.status).toBe(403)
    expect(fromPage.body.error.message).toMatch(/CSRF/)
    // …and through the context's request API, which shares the cookie jar.
    const fromRequest = await page.request.post(`${server.controlUrl}${servicePath('hello')}:setIamPolicy`, { data: forged })
    expect(fromRequest.status()).toBe(403)
    // Even what the viewer may do (change their own password) needs the token.
    const ownPassword = await page.request.post(`${server.controlUrl}/v1/users/${VIEWER}:setPassword`, { data: { password: 'changed-by-a-forged-request' } })
    expect(ownPassword.status()).toBe(403)
    expect((await ownPassword.json()).error.message).toMatch(/CSRF/)
    // With the token the request is authenticated, and IAM refuses it.
    const withToken = await page.evaluate(async ([path, body]) => {
      const { csrfToken } = (await (await fetch('/v1/session')).json()) as { csrfToken: string }
      const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify(body) })
      return { status: res.status, body: (await res.json()) as ApiErrorBody }
    }, [`${servicePath('hello')}:setIamPolicy`, forged] as const)
    expect(withToken.status).toBe(403)
    expect(withToken.body.error.status).toBe('PERMISSION_DENIED')
    expect(withToken.body.error.message).toMatch(/run\.services\.setIamPolicy/)

    const after = (await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body
    expect(after.etag).toBe(before.etag)
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('renders a hostile service description and group name as text, and no script runs', async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!)
    await page.getByRole('cell', { name: XSS, exact: true }).waitFor()
    await page.getByRole('checkbox', { name: 'Select service billing' }).check()
    await page.getByRole('button', { name: /info panel/ }).click()
    const panel = page.getByRole('complementary', { name: 'Info panel' })
    await panel.getByRole('tab', { name: 'Permissions' }).click()
    await panel.getByText(XSS, { exact: true }).waitFor()
    await panel.getByRole('tab', { name: 'Details' }).click()
    await panel.getByText(XSS, { exact: true }).waitFor()
    await page.getByRole('link', { name: 'Audit log' }).click()
    await page.getByRole('cell', { name: 'groups.create' }).first().waitFor()
    await page.waitForTimeout(300)
    expect(await page.locator('img').count()).toBe(0)
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)
})
