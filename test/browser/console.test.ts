import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Locator } from 'playwright-core'
import { startPostern, type PosternProcess } from '../support/server.js'
import { launchChromium, screenshot, signIn, signInAt, watchedPage } from './console-harness.js'

/**
 * The console against a real `postern serve` in headless Chromium: the Permissions
 * panel flow of the "authenticate developers" guide, what a Run Viewer may do, and escaping.
 */
const PROJECT = 'my-project'
const OWNER = 'owner@example.com'
const VIEWER = 'viewer@example.com'
const VIEWER_PASSWORD = 'viewer-password-1234'
/** An admin of service hello only: run.admin on its policy, nothing on the project or the organization. */
const ADMIN2 = 'admin2@example.com'
const ADMIN2_PASSWORD = 'admin2-password-1234'
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
/** Runs in the page: the text of the focused element (typed loosely: the tests compile without the DOM library). */
const focusedText = () => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent
/** Runs in the page: the accessible label of the focused element, if it has one. */
const focusedLabel = () => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } | null } }).document.activeElement?.getAttribute('aria-label')
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
  // The people granted below and in the dialog have accounts: grants to unknown accounts are refused.
  for (const email of ['dev@example.com', 'test-user@gmail.com', 'kb-user@example.com']) expect((await api('POST', '/v1/users', { email })).status).toBe(200)
  await grant(servicePath('hello'), 'roles/run.invoker', 'user:dev@example.com')
  expect((await api('POST', '/v1/users', { email: ADMIN2, password: ADMIN2_PASSWORD })).status).toBe(200)
  await grant(servicePath('hello'), 'roles/run.admin', `user:${ADMIN2}`)
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
    const principals = dialog.getByLabel('New principals')
    // What is not an email is caught at once; a look-alike (Cyrillic 'а') only the API refuses,
    // and its refusal is shown at the field that holds it too.
    await principals.fill('test-user@gmail.com, not-an-email')
    // Only roles that mean something on a service are offered (the basic roles apply to projects).
    const offered = await dialog.getByLabel('Select a role').locator('option').allTextContents()
    expect(offered.join('|')).toContain('Run Invoker')
    expect(offered.join('|')).not.toMatch(/\bOwner\b|Token Creator/)
    await dialog.getByLabel('Select a role').selectOption({ label: 'Run Invoker' })
    await dialog.getByRole('button', { name: 'Save' }).click()
    await expect.poll(() => principals.getAttribute('aria-invalid')).toBe('true')
    expect(await dialog.getByRole('alert').textContent()).toContain('“not-an-email” is not an email address')
    await principals.fill('user:\u0430nn@example.com')
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.getByRole('alert').getByText(/did not accept these principals.*ASCII/).waitFor()
    expect(await principals.getAttribute('aria-invalid')).toBe('true')
    await principals.fill('test-user@gmail.com')
    await screenshot(page, 'console-add-principal')
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
    await screenshot(page, 'console-viewer-permissions')
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
    // Opened (by its name, not its checkbox), the service shows the same text on its own page.
    await page.getByRole('link', { name: 'billing', exact: true }).click()
    await page.getByRole('heading', { name: 'billing', level: 1 }).waitFor()
    await page.getByRole('region', { name: 'Details' }).getByText(XSS, { exact: true }).waitFor()
    await page.getByRole('region', { name: 'Permissions' }).getByText(XSS, { exact: true }).waitFor()
    await screenshot(page, 'console-service-page')
    await page.getByRole('link', { name: 'Audit log' }).click()
    await page.getByRole('cell', { name: 'groups.create' }).first().waitFor()
    await screenshot(page, 'console-audit-log')
    await page.waitForTimeout(300)
    expect(await page.locator('img').count()).toBe(0)
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('grants a role from the keyboard alone', async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!)
    await page.getByRole('checkbox', { name: 'Select service hello' }).focus()
    await page.keyboard.press('Space')
    expect(await page.getByRole('checkbox', { name: 'Select service hello' }).isChecked()).toBe(true)
    await page.getByRole('button', { name: 'Show info panel' }).focus()
    await page.keyboard.press('Enter')
    const panel = page.getByRole('complementary', { name: 'Info panel' })
    await panel.getByRole('tab', { name: 'Permissions', selected: true }).focus()
    await page.keyboard.press('ArrowRight')
    await panel.getByRole('tab', { name: 'Details', selected: true }).waitFor()
    await page.keyboard.press('ArrowLeft')
    await panel.getByRole('button', { name: 'Add principal' }).waitFor()
    await page.keyboard.press('Tab') // into the tab panel
    await page.keyboard.press('Tab') // Add principal
    await page.keyboard.press('Enter')
    const dialog = page.getByRole('dialog', { name: /Grant access/ })
    await dialog.waitFor()
    await page.keyboard.type('kb-user@example.com') // focus starts in New principals
    await page.keyboard.press('Tab')
    await page.keyboard.type('Run Invoker') // typing selects the matching option
    expect(await dialog.getByLabel('Select a role').inputValue()).toBe('roles/run.invoker')
    await page.keyboard.press('Tab') // Cancel
    await page.keyboard.press('Tab') // Save
    expect(await page.evaluate(focusedText)).toBe('Save')
    await page.keyboard.press('Enter')
    await dialog.waitFor({ state: 'detached' })
    await expect.poll(async () => membersOf((await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body, 'roles/run.invoker')).toContain('user:kb-user@example.com')
    // Escape closes a dialog without saving.
    await panel.getByRole('button', { name: 'Remove user:kb-user@example.com from Run Invoker' }).focus()
    await page.keyboard.press('Enter')
    await page.getByRole('dialog', { name: 'Remove principal?' }).waitFor()
    await page.keyboard.press('Escape')
    await page.getByRole('dialog', { name: 'Remove principal?' }).waitFor({ state: 'detached' })
    expect(membersOf((await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body, 'roles/run.invoker')).toContain('user:kb-user@example.com')
    // Focus is back where the dialog was opened from, not on the page's body.
    expect(await page.evaluate(focusedLabel)).toBe('Remove user:kb-user@example.com from Run Invoker')
    // Removed for real: the row and its button go, and focus goes to the status that says so.
    await page.keyboard.press('Enter')
    await page.getByRole('dialog', { name: 'Remove principal?' }).getByRole('button', { name: 'Remove' }).click()
    await panel.getByRole('status').getByText('Removed user:kb-user@example.com from Run Invoker.').waitFor()
    await expect.poll(() => page.evaluate(focusedText)).toBe('Removed user:kb-user@example.com from Run Invoker.')
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('keeps what was typed when the session ends mid-edit, and saves it after a sign-in in another tab', async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!, `/console/projects/${PROJECT}/services/hello`)
    const here = page.url()
    const openDialog = async (typed: string) => {
      await page.getByRole('region', { name: 'Permissions' }).getByRole('button', { name: 'Add principal' }).click()
      const dialog = page.getByRole('dialog', { name: /Grant access/ })
      await dialog.getByLabel('New principals').fill(typed)
      await dialog.getByLabel('Select a role').selectOption({ label: 'Run Invoker' })
      return dialog
    }
    // The session ends while the dialog is open: signed out elsewhere in this browser (the
    // console's own POST /signout, through the context's cookie jar).
    const signOutElsewhere = async () => {
      const { csrfToken } = (await (await context.request.get(`${server.controlUrl}/v1/session`)).json()) as { csrfToken: string }
      expect((await context.request.post(`${server.controlUrl}/signout`, { headers: { 'x-csrf-token': csrfToken }, data: {} })).status()).toBe(200)
    }
    const signInAgain = async (dialog: Locator, email: string, password: string) => {
      const [tab] = await Promise.all([context.waitForEvent('page'), dialog.getByRole('link', { name: 'Sign in again' }).click()])
      await signInAt(tab, email, password)
      await tab.getByRole('heading', { name: `Signed in as ${email}` }).waitFor()
    }

    let dialog = await openDialog('test-user@gmail.com')
    await signOutElsewhere()
    // Meanwhile another admin changes the policy: the retried write must keep their change.
    await grant(servicePath('hello'), 'roles/run.viewer', 'user:dev@example.com')
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.getByRole('alert').getByText(/Your session has ended/).waitFor()
    await dialog.getByRole('status').getByText(/Nothing you typed is lost/).waitFor()
    expect(page.url()).toBe(here)
    await signInAgain(dialog, OWNER, server.ownerPassword!)
    await dialog.getByRole('status').getByText(`Signed in again as ${OWNER}.`).waitFor()
    expect(await dialog.getByLabel('New principals').inputValue()).toBe('test-user@gmail.com')
    expect(await dialog.getByLabel('Select a role').inputValue()).toBe('roles/run.invoker')
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.waitFor({ state: 'detached' })
    const saved = (await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body
    expect(membersOf(saved, 'roles/run.invoker')).toContain('user:test-user@gmail.com')
    expect(membersOf(saved, 'roles/run.viewer')).toContain('user:dev@example.com')

    // Someone else signs in instead: the page starts afresh as theirs, and the draft is gone.
    dialog = await openDialog('kb-user@example.com')
    await signOutElsewhere()
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.getByRole('status').getByText(/Nothing you typed is lost/).waitFor()
    await signInAgain(dialog, VIEWER, VIEWER_PASSWORD)
    await expect.poll(() => page.getByTitle('Signed in as').textContent()).toBe(VIEWER)
    expect(await page.getByRole('dialog').count()).toBe(0)
    expect(await page.getByText('kb-user@example.com').count()).toBe(0)
    expect(membersOf((await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body, 'roles/run.invoker')).not.toContain('user:kb-user@example.com')
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('saves an open dialog after the same person signed in again on a page that is not the console (a new CSRF token nothing announced)', async () => {
    const made = await server.cli(['users', 'create', 'renewed-user@example.com', '--password-stdin'], { stdin: 'renewed-password-1234' })
    expect(made.code, made.stderr).toBe(0)
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!, `/console/projects/${PROJECT}/services/hello`)
    await page.getByRole('region', { name: 'Permissions' }).getByRole('button', { name: 'Add principal' }).click()
    const dialog = page.getByRole('dialog', { name: /Grant access/ })
    await dialog.getByLabel('New principals').fill('renewed-user@example.com')
    await dialog.getByLabel('Select a role').selectOption({ label: 'Run Invoker' })
    // Signed in again in another tab, ending on /device: no console page tells this one.
    const tab = await context.newPage()
    await tab.goto(`${server.controlUrl}/signin?return_to=${encodeURIComponent('/device')}`)
    await signInAt(tab, OWNER, server.ownerPassword!)
    await tab.waitForURL((u) => u.pathname === '/device')
    await tab.close()
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.waitFor({ state: 'detached' })
    expect(membersOf((await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body, 'roles/run.invoker')).toContain('user:renewed-user@example.com')
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  })

  it('removes nothing, and says so, when the binding shown was changed by someone else meanwhile', async () => {
    const condition = { title: 'Until 2040', expression: 'request.time < timestamp("2040-01-01T00:00:00Z")' }
    type Conditional = { bindings?: { role: string; members: string[]; condition?: typeof condition }[]; etag?: string }
    const read = async () => (await api<Conditional>('POST', `${servicePath('billing')}:getIamPolicy`)).body
    const before = await read()
    const granted = [...(before.bindings ?? []), { role: 'roles/run.invoker', members: ['user:dev@example.com'], condition }]
    expect((await api('POST', `${servicePath('billing')}:setIamPolicy`, { policy: { version: 3, bindings: granted, etag: before.etag } })).status).toBe(200)
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!)
    await page.getByRole('checkbox', { name: 'Select service billing' }).check()
    await page.getByRole('button', { name: 'Show info panel' }).click()
    const panel = page.getByRole('complementary', { name: 'Info panel' })
    await panel.getByRole('tab', { name: 'Permissions' }).click()
    await panel.getByText('Until 2040').waitFor()

    // With the panel open, another admin retitles the condition (the CLI's set-iam-policy).
    const shown = await read()
    const retitled = shown.bindings!.map((b) => (b.condition ? { ...b, condition: { ...b.condition, title: 'Until 2050' } } : b))
    expect((await api('POST', `${servicePath('billing')}:setIamPolicy`, { policy: { version: 3, bindings: retitled, etag: shown.etag } })).status).toBe(200)

    await panel.getByRole('button', { name: 'Remove user:dev@example.com from Run Invoker' }).click()
    const confirm = page.getByRole('dialog', { name: 'Remove principal?' })
    await confirm.getByRole('button', { name: 'Remove' }).click()
    // The dialog closes (its Remove would only try the stale grant again); the panel says why.
    await confirm.waitFor({ state: 'detached' })
    await panel.getByRole('alert').getByText(/Nothing was removed: the policy changed since it was shown\. .*user:dev@example\.com now holds this role under the condition “Until 2050”/).waitFor()
    expect(await panel.getByText(/^Removed /).count()).toBe(0)
    const after = await read()
    expect(after.bindings?.find((b) => b.condition)).toEqual({ role: 'roles/run.invoker', members: ['user:dev@example.com'], condition: { ...condition, title: 'Until 2050' } })
    // Behind the dialog the panel shows the binding as it now is.
    await panel.getByText('Until 2050', { exact: true }).waitFor()
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('says which grant changed when a conditional grant shown beside an unconditional one was retitled meanwhile', async () => {
    expect((await api('POST', '/v1/users', { email: 'eve@example.com' })).status).toBe(200)
    type Conditional = { bindings?: { role: string; members: string[]; condition?: { title: string; expression: string } }[]; etag?: string }
    const read = async () => (await api<Conditional>('POST', `${servicePath('hello')}:getIamPolicy`)).body
    const before = await read()
    const condition = { title: 'old grant', expression: 'request.time < timestamp("2040-01-01T00:00:00Z")' }
    const bindings = [...(before.bindings ?? []), { role: 'roles/run.invoker', members: ['user:eve@example.com'] }, { role: 'roles/run.invoker', members: ['user:eve@example.com'], condition }]
    expect((await api('POST', `${servicePath('hello')}:setIamPolicy`, { policy: { version: 3, bindings, etag: before.etag } })).status).toBe(200)
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!, `/console/projects/${PROJECT}/services/hello`)
    const panel = page.getByRole('region', { name: 'Permissions' })
    await panel.getByText('old grant', { exact: true }).waitFor()
    // The condition is renamed elsewhere (as `postern services set-iam-policy` would).
    const shown = await read()
    const renamed = shown.bindings!.map((b) => (b.condition ? { ...b, condition: { ...b.condition, title: 'renamed grant' } } : b))
    expect((await api('POST', `${servicePath('hello')}:setIamPolicy`, { policy: { version: 3, bindings: renamed, etag: shown.etag } })).status).toBe(200)
    await panel.getByRole('button', { name: 'Remove user:eve@example.com from Run Invoker (if old grant)' }).click()
    const confirm = page.getByRole('dialog', { name: 'Remove principal?' })
    await confirm.getByRole('button', { name: 'Remove' }).click()
    await confirm.waitFor({ state: 'detached' })
    const said = (await panel.getByRole('alert').textContent())!
    expect(said).toContain('The grant you chose, user:eve@example.com under the condition “old grant”, is no longer there as shown')
    expect(said).toContain('now holds this role without a condition and under the condition “renamed grant”')
    // The panel shows the policy as it now is; nothing was written.
    await panel.getByText('renamed grant', { exact: true }).waitFor()
    expect(await panel.getByText('old grant', { exact: true }).count()).toBe(0)
    const after = await read()
    expect(after.bindings).toEqual(renamed)
    expect((await api('POST', `${servicePath('hello')}:setIamPolicy`, { policy: { version: 3, bindings: before.bindings ?? [], etag: after.etag } })).status).toBe(200)
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('says what a grant or removal did: a role already held, the member as stored, the condition removed from', async () => {
    expect((await api('POST', '/v1/users', { email: 'mixed-case@example.com' })).status).toBe(200)
    type Conditional = { bindings?: { role: string; members: string[]; condition?: { title: string; expression: string } }[]; etag?: string }
    const read = async () => (await api<Conditional>('POST', `${servicePath('hello')}:getIamPolicy`)).body
    const before = await read()
    const condition = { title: 'Until 2040', expression: 'request.time < timestamp("2040-01-01T00:00:00Z")' }
    const bindings = [...(before.bindings ?? []), { role: 'roles/run.viewer', members: ['user:mixed-case@example.com'], condition }]
    expect((await api('POST', `${servicePath('hello')}:setIamPolicy`, { policy: { version: 3, bindings, etag: before.etag } })).status).toBe(200)
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!, `/console/projects/${PROJECT}/services/hello`)
    const panel = page.getByRole('region', { name: 'Permissions' })
    const addPrincipal = async (typed: string, role: string) => {
      await panel.getByRole('button', { name: 'Add principal' }).click()
      const dialog = page.getByRole('dialog', { name: /Grant access/ })
      await dialog.getByLabel('New principals').fill(typed)
      await dialog.getByLabel('Select a role').selectOption({ label: role })
      await dialog.getByRole('button', { name: 'Save' }).click()
      await dialog.waitFor({ state: 'detached' })
    }
    // dev already holds Run Invoker here: nothing is written, and the message says so.
    const etag = (await read()).etag
    await addPrincipal('User:Dev@Example.COM', 'Run Invoker')
    await panel.getByRole('status').getByText('user:dev@example.com already held Run Invoker on hello; nothing was changed.', { exact: true }).waitFor()
    expect((await read()).etag).toBe(etag)
    // Granted: named as the policy now holds it (emails lowercased), not as typed.
    await addPrincipal('User:Mixed-Case@Example.COM', 'Run Invoker')
    await panel.getByRole('status').getByText('Granted Run Invoker to user:mixed-case@example.com.', { exact: true }).waitFor()
    expect(membersOf(await read(), 'roles/run.invoker')).toContain('user:mixed-case@example.com')
    // Removing the conditional grant names its condition.
    await panel.getByRole('button', { name: 'Remove user:mixed-case@example.com from Run Viewer (if Until 2040)' }).click()
    const confirm = page.getByRole('dialog', { name: 'Remove principal?' })
    await confirm.getByText(/will lose the Run Viewer role on service hello under the condition “Until 2040”/).waitFor()
    await confirm.getByRole('button', { name: 'Remove' }).click()
    await panel.getByRole('status').getByText('Removed user:mixed-case@example.com from Run Viewer under the condition “Until 2040”.', { exact: true }).waitFor()
    const after = await read()
    expect((await api('POST', `${servicePath('hello')}:setIamPolicy`, { policy: { bindings: before.bindings ?? [], etag: after.etag } })).status).toBe(200)
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('keeps the services table in its column beside the info panel, however long an upstream URL', async () => {
    const long = `http://127.0.0.1:9/${'x'.repeat(160)}` // no place a line may break
    expect((await api('POST', `/v2/projects/${PROJECT}/services?serviceId=long-upstream`, { upstream: long, description: 'Reaches far' })).status).toBe(200)
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!)
    await page.getByRole('checkbox', { name: 'Select service long-upstream' }).check()
    await page.getByRole('button', { name: 'Show info panel' }).click()
    const panel = await page.getByRole('complementary', { name: 'Info panel' }).boundingBox()
    const description = await page.getByRole('columnheader', { name: 'Description' }).boundingBox()
    // The last column ends left of the panel, where it can be read (it was painted under it).
    expect(description!.x + description!.width).toBeLessThanOrEqual(panel!.x)
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it("says a service is open to everyone when allUsers may invoke it through the project's policy, without reading each service's policy", async () => {
    const projectPath = `/v1/projects/${PROJECT}`
    const { body: before } = await api<Policy>('POST', `${projectPath}:getIamPolicy`)
    await grant(projectPath, 'roles/run.invoker', 'allUsers')
    try {
      context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
      const { page, problems } = await watchedPage(context)
      const policyReads: string[] = []
      page.on('request', (r) => {
        if (r.url().includes(':getIamPolicy')) policyReads.push(r.url())
      })
      await signIn(page, server, OWNER, server.ownerPassword!)
      const row = (id: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: id, exact: true }) })
      // As `postern services list` says: none (allUsers may invoke).
      await row('hello').getByRole('cell', { name: 'Allow unauthenticated', exact: true }).waitFor()
      await row('billing').getByRole('cell', { name: 'Allow unauthenticated', exact: true }).waitFor()
      expect(policyReads).toEqual([])
      expect(problems).toEqual([])
      await context.close()
    } finally {
      const { body: now } = await api<Policy>('POST', `${projectPath}:getIamPolicy`)
      expect((await api('POST', `${projectPath}:setIamPolicy`, { policy: { bindings: before.bindings ?? [], etag: now.etag } })).status).toBe(200)
    }
  }, 120_000)

  it('asks "Allow public access?" before granting allUsers or allAuthenticatedUsers a role, and Cancel saves nothing', async () => {
    const { body: before } = await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!, `/console/projects/${PROJECT}/services/hello`)
    await page.getByRole('region', { name: 'Permissions' }).getByRole('button', { name: 'Add principal' }).click()
    const form = page.getByRole('dialog', { name: /Grant access/ })
    const ask = page.getByRole('dialog', { name: 'Allow public access?' })
    await form.getByLabel('New principals').fill('allUsers')
    await form.getByLabel('Select a role').selectOption({ label: 'Run Invoker' })
    await form.getByRole('button', { name: 'Save' }).click()
    await ask.getByText(/Anyone who can reach the gateway, without signing in/).waitFor()
    await ask.getByText('Invoke services.', { exact: false }).waitFor()
    expect(await ask.getByText(/much more than calling/).count()).toBe(0)
    await ask.getByRole('button', { name: 'Cancel' }).click()
    // Back at the form, as typed; nothing was written.
    expect(await form.getByLabel('New principals').inputValue()).toBe('allUsers')
    expect((await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body.etag).toBe(before.etag)
    // A role beyond Run Invoker is worded more strongly.
    await form.getByLabel('Select a role').selectOption({ label: 'Run Admin' })
    await form.getByRole('button', { name: 'Save' }).click()
    await ask.getByText(/Run Admin is much more than calling the service/).waitFor()
    await ask.getByRole('button', { name: 'Cancel' }).click()
    expect((await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body.etag).toBe(before.etag)
    // allAuthenticatedUsers: every signed-in identity, service accounts and federated ones included.
    await form.getByLabel('New principals').fill('allAuthenticatedUsers')
    await form.getByLabel('Select a role').selectOption({ label: 'Run Invoker' })
    await form.getByRole('button', { name: 'Save' }).click()
    await ask.getByText(/every service account of every project, and every federated/).waitFor()
    await ask.getByRole('button', { name: 'Allow public access' }).click()
    await ask.waitFor({ state: 'detached' })
    await expect.poll(async () => membersOf((await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)).body, 'roles/run.invoker')).toContain('allAuthenticatedUsers')
    // Put back as it was, for the tests after this one.
    const { body: now } = await api<Policy>('POST', `${servicePath('hello')}:getIamPolicy`)
    expect((await api('POST', `${servicePath('hello')}:setIamPolicy`, { policy: { bindings: before.bindings ?? [], etag: now.etag } })).status).toBe(200)
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('stays signed in when another site posts a form to /signout', async () => {
    context = await browser.newContext()
    const { page } = await watchedPage(context)
    await signIn(page, server, VIEWER, VIEWER_PASSWORD)
    const sessionCookies = async () => (await context.cookies(server.controlUrl)).filter((c) => c.name.includes('postern_session'))
    expect(await sessionCookies()).toHaveLength(1)

    // Another site (here a page with no origin of its own) submits a form to /signout, as any page can.
    const other = await context.newPage()
    await other.setContent(`<form method="post" action="${server.controlUrl}/signout"><input name="x" value="1"></form>`)
    const answer = other.waitForResponse((r) => r.url().startsWith(`${server.controlUrl}/signout`))
    await other.evaluate('document.forms[0].submit()')
    expect((await answer).status()).toBe(303)

    expect(await sessionCookies()).toHaveLength(1)
    await page.goto(`${server.controlUrl}/console`)
    await page.waitForURL((u) => u.pathname.startsWith('/console/projects/'))
    await context.close()
  }, 120_000)

  it('takes a sign-in from either of two sign-in pages open at once', async () => {
    context = await browser.newContext()
    const first = await context.newPage()
    await first.goto(`${server.controlUrl}/console`)
    await first.waitForURL((u) => u.pathname === '/signin')
    // A second sign-in page in another tab (a service's, the device page's, a restored tab) after it.
    const second = await context.newPage()
    await second.goto(`${server.controlUrl}/signin?return_to=%2Fconsole`)
    await second.getByLabel('Email').waitFor()
    await first.getByLabel('Email').fill(OWNER)
    await first.getByLabel('Password').fill(server.ownerPassword!)
    await first.getByRole('button', { name: 'Sign in' }).click()
    await first.waitForURL((u) => u.pathname.startsWith('/console/projects/'))
    // And the other page still signs in too (say, as another account).
    await second.getByLabel('Email').fill(VIEWER)
    await second.getByLabel('Password').fill(VIEWER_PASSWORD)
    await second.getByRole('button', { name: 'Sign in' }).click()
    await second.waitForURL((u) => u.pathname.startsWith('/console'))
    expect(await second.getByText(/expired or did not come from this site/).count()).toBe(0)
    await context.close()
  }, 120_000)

  it('creates a service (with errors shown at the field) and deletes it after confirmation', async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!)
    await page.getByRole('button', { name: 'Create service' }).click()
    const dialog = page.getByRole('dialog', { name: 'Create service' })
    await dialog.getByLabel('Service name').fill('hello')
    await dialog.getByLabel('Upstream URL').fill('http://127.0.0.1:9100')
    await dialog.getByLabel('Description').fill('Orders API')
    await dialog.getByRole('button', { name: 'Create' }).click()
    await dialog.getByRole('alert').getByText(/already exists/).waitFor()
    expect(await dialog.getByLabel('Service name').getAttribute('aria-invalid')).toBe('true')
    await dialog.getByLabel('Service name').fill('orders')
    await dialog.getByRole('button', { name: 'Create' }).click()
    await dialog.waitFor({ state: 'detached' })
    await page.getByRole('link', { name: 'orders', exact: true }).waitFor()
    expect((await api('GET', servicePath('orders'))).status).toBe(200)

    await page.getByRole('checkbox', { name: 'Select service orders' }).check()
    await page.getByRole('button', { name: 'Delete', exact: true }).click()
    const confirm = page.getByRole('dialog', { name: 'Delete service?' })
    await confirm.getByRole('button', { name: 'Delete' }).click()
    await confirm.waitFor({ state: 'detached' })
    await page.getByRole('link', { name: 'orders', exact: true }).waitFor({ state: 'detached' })
    expect((await api('GET', servicePath('orders'))).status).toBe(404)

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.waitForURL(/\/signin/)
    await page.goto(`${server.controlUrl}/console`)
    await page.waitForURL(/\/signin\?return_to=%2Fconsole/)
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('creates a service account, offers its new key as a download, deletes the key and the account', async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true })
    const { page, dialogs, problems } = await watchedPage(context)
    // One made elsewhere (iam service-accounts create --description), its description shown as text.
    const reporter = `reporter@${PROJECT}.iam.postern.internal`
    const description = `Reads billing for the nightly report ${XSS}`
    expect((await api('POST', `/v1/projects/${PROJECT}/serviceAccounts`, { accountId: 'reporter', displayName: 'Reporter', description })).status).toBe(200)
    await signIn(page, server, OWNER, server.ownerPassword!)
    await page.getByRole('link', { name: 'Service accounts' }).click()
    const reporterRow = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: reporter }) })
    await reporterRow.getByRole('cell', { name: description, exact: true }).waitFor()
    await reporterRow.getByRole('cell', { name: 'Reporter', exact: true }).waitFor()
    expect((await api('DELETE', `/v1/projects/${PROJECT}/serviceAccounts/${reporter}`)).status).toBe(200)
    await page.getByRole('button', { name: 'Create service account' }).click()
    const create = page.getByRole('dialog', { name: 'Create service account' })
    await create.getByLabel('Service account ID').fill('ci-deployer')
    // A display name past the API's 100 characters is refused by name, not cut short.
    await create.getByLabel('Display name').fill('x'.repeat(101))
    await create.getByLabel('Description').fill('Deploys from CI')
    await create.getByRole('button', { name: 'Create' }).click()
    await create.getByRole('alert').getByText('The display name is 101 characters long; it may be at most 100.').waitFor()
    expect(await create.getByLabel('Display name').inputValue()).toHaveLength(101)
    await create.getByLabel('Display name').fill('CI deployer')
    await create.getByRole('button', { name: 'Create' }).click()
    await create.waitFor({ state: 'detached' })
    const email = `ci-deployer@${PROJECT}.iam.postern.internal`
    await page.getByRole('rowheader', { name: email }).waitFor()
    expect((await api('GET', `/v1/projects/${PROJECT}/serviceAccounts/${email}`)).body).toMatchObject({ displayName: 'CI deployer', description: 'Deploys from CI' })
    // Edited in place: a PATCH naming only the field that changed.
    const patches: string[] = []
    page.on('request', (r) => {
      if (r.method() === 'PATCH') patches.push(decodeURIComponent(r.url()))
    })
    await page.getByRole('button', { name: `Edit ${email}` }).click()
    const edit = page.getByRole('dialog', { name: `Edit ${email}` })
    expect(await edit.getByLabel('Display name').inputValue()).toBe('CI deployer')
    await edit.getByLabel('Description').fill('Deploys main from CI')
    await edit.getByRole('button', { name: 'Save' }).click()
    await edit.waitFor({ state: 'detached' })
    await page.getByRole('cell', { name: 'Deploys main from CI', exact: true }).waitFor()
    expect(patches).toEqual([`${server.controlUrl}/v1/projects/${PROJECT}/serviceAccounts/${email}?updateMask=description`])
    expect((await api('GET', `/v1/projects/${PROJECT}/serviceAccounts/${email}`)).body).toMatchObject({ displayName: 'CI deployer', description: 'Deploys main from CI' })

    await page.getByRole('button', { name: `Manage keys of ${email}` }).click()
    const keys = page.getByRole('dialog', { name: `Keys of ${email}` })
    await keys.getByRole('button', { name: 'Add key' }).click()
    const [download] = await Promise.all([page.waitForEvent('download'), keys.getByRole('link', { name: 'Download key file' }).click()])
    const keyFile = JSON.parse(readFileSync((await download.path())!, 'utf8')) as Record<string, string>
    expect(keyFile).toMatchObject({ type: 'service_account', project_id: PROJECT, client_email: email })
    expect(keyFile.private_key).toContain('BEGIN PRIVATE KEY')
    const keyId = keyFile.private_key_id!
    await keys.getByRole('rowheader', { name: keyId }).waitFor()
    await screenshot(page, 'console-service-account-keys')

    await keys.getByRole('button', { name: `Delete key ${keyId}` }).click()
    await keys.getByRole('button', { name: 'Delete key', exact: true }).click()
    await keys.getByRole('rowheader', { name: keyId }).waitFor({ state: 'detached' })
    expect((await api<{ keys?: unknown[] }>('GET', `/v1/projects/${PROJECT}/serviceAccounts/${email}/keys`)).body.keys ?? []).toEqual([])
    await keys.getByRole('button', { name: 'Close' }).click()

    await page.getByRole('button', { name: `Delete ${email}` }).click()
    const confirm = page.getByRole('dialog', { name: 'Delete service account?' })
    await confirm.getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('rowheader', { name: email }).waitFor({ state: 'detached' })
    expect((await api('GET', `/v1/projects/${PROJECT}/serviceAccounts/${email}`)).status).toBe(404)
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('files no refusal against an admin of one service who only opens its page, and shows the panel as before', async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, ADMIN2, ADMIN2_PASSWORD, `/console/projects/${PROJECT}/services/hello`)
    const permissions = page.getByRole('region', { name: 'Permissions' })
    await permissions.getByRole('region', { name: 'Run Invoker' }).getByText('dev@example.com', { exact: true }).waitFor()
    await permissions.getByRole('region', { name: 'Run Admin' }).getByText(ADMIN2, { exact: true }).waitFor()
    // What admin2 may not read is said to be hidden, as before, and nothing inherited is listed.
    await permissions.getByText(/you can't view all of those policies/).waitFor()
    expect(await permissions.getByText(/^Inherited from/).count()).toBe(0)
    await permissions.getByRole('button', { name: 'Add principal' }).waitFor()
    await page.reload()
    await permissions.getByText(/you can't view all of those policies/).waitFor()
    // Refusals are written within a second, counted per principal, resource and minute.
    await page.waitForTimeout(1_500)
    const denied = await api<{ entries: { principal: string; method: string; resource: string }[] }>('GET', '/v1/auditLogs?outcome=PERMISSION_DENIED&pageSize=1000')
    expect(denied.body.entries.filter((e) => e.principal.includes(ADMIN2))).toEqual([])
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it("shows beside a field two admins both changed what the other saved, and takes theirs on request", async () => {
    const open = async (email: string, password: string) => {
      const c = await browser.newContext({ viewport: { width: 1280, height: 900 } })
      const watched = await watchedPage(c)
      await signIn(watched.page, server, email, password, `/console/projects/${PROJECT}/services/hello`)
      await watched.page.getByRole('button', { name: 'Edit' }).click()
      return { context: c, ...watched, edit: watched.page.getByRole('dialog', { name: 'Edit hello' }) }
    }
    const owner = await open(OWNER, server.ownerPassword!)
    const admin2 = await open(ADMIN2, ADMIN2_PASSWORD)
    const upstream = await admin2.edit.getByLabel('Upstream URL').inputValue()
    await owner.edit.getByLabel('Description').fill('Owned by the billing team')
    await admin2.edit.getByLabel('Description', { exact: true }).fill('Owned by the web team')
    await owner.edit.getByRole('button', { name: 'Save' }).click()
    await owner.edit.waitFor({ state: 'detached' })

    await admin2.edit.getByRole('button', { name: 'Save' }).click()
    await admin2.edit.getByRole('alert').filter({ hasText: 'Someone else changed hello while you were editing it' }).waitFor()
    // admin2's edit is kept, and the owner's value is shown beside it (the upstream, which neither changed, has no note).
    expect(await admin2.edit.getByLabel('Description', { exact: true }).inputValue()).toBe('Owned by the web team')
    const note = admin2.edit.getByText('Changed meanwhile to:')
    expect(await note.count()).toBe(1)
    expect(await note.textContent()).toContain('Owned by the billing team')
    expect(await admin2.edit.getByLabel('Description', { exact: true }).getAttribute('aria-describedby')).toBe(await note.getAttribute('id'))
    await screenshot(admin2.page, 'console-edit-changed-meanwhile')
    await admin2.edit.getByRole('button', { name: 'Use theirs for the description' }).click()
    expect(await admin2.edit.getByLabel('Description', { exact: true }).inputValue()).toBe('Owned by the billing team')
    expect(await note.count()).toBe(0)
    await admin2.edit.getByRole('button', { name: 'Save' }).click()
    await admin2.edit.waitFor({ state: 'detached' })
    const saved = (await api<{ description: string; upstream: string }>('GET', servicePath('hello'))).body
    expect([saved.description, saved.upstream]).toEqual(['Owned by the billing team', upstream])
    for (const who of [owner, admin2]) {
      expect(who.dialogs).toEqual([])
      expect(who.problems).toEqual([])
      await who.context.close()
    }
  }, 120_000)

  it('asks before a reload, Back or closing the tab drops what was typed in a dialog, and only then', async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    // The harness dismisses every dialog and lists it: a dismissed question keeps the page.
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!)
    await page.getByRole('link', { name: 'hello', exact: true }).click()
    const heading = page.getByRole('heading', { name: 'hello', level: 1 })
    await heading.waitFor()
    const edit = page.getByRole('dialog', { name: 'Edit hello' })
    const description = edit.getByLabel('Description', { exact: true })
    // A dialog only opened holds nothing to lose: a reload asks nothing.
    await page.getByRole('button', { name: 'Edit' }).click()
    const opened = await description.inputValue()
    await page.reload()
    await heading.waitFor()
    expect(dialogs).toEqual([])

    await page.getByRole('button', { name: 'Edit' }).click()
    await description.fill('typed, not saved')
    // A reload asks; refused, the page and the text stay.
    await page.reload({ timeout: 3_000 }).catch(() => undefined)
    await expect.poll(() => dialogs.length).toBe(1)
    expect(dialogs[0]).toMatch(/^beforeunload:/)
    expect(await description.inputValue()).toBe('typed, not saved')
    // So does closing the tab.
    await page.close({ runBeforeUnload: true })
    await expect.poll(() => dialogs.length).toBe(2)
    expect(dialogs[1]).toMatch(/^beforeunload:/)
    expect(page.isClosed()).toBe(false)
    // Back to the services list (a page within the console, which no beforeunload sees) asks too.
    const url = page.url()
    await page.goBack()
    await expect.poll(() => dialogs.length).toBe(3)
    expect(dialogs[2]).toBe('confirm: Leave this page? What you typed in the open dialog has not been saved.')
    await expect.poll(() => page.url()).toBe(url)
    expect(await description.inputValue()).toBe('typed, not saved')
    // Typed back to how it opened, there is nothing to lose again.
    await description.fill(opened)
    await page.reload()
    await heading.waitFor()
    expect(dialogs).toHaveLength(3)
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('isolates user-supplied text, so a bidi override in it cannot reorder what is shown after it', async () => {
    // A right-to-left override (U+202E) with nothing to end it, in a condition's title: the
    // expression shown after the title on the same line would be drawn backwards.
    const condition = { title: '\u202EUntil 2060', expression: 'request.time < timestamp("2060-01-01T00:00:00Z")' }
    const { body: before } = await api<Policy>('POST', `${servicePath('billing')}:getIamPolicy`)
    const bindings = [...(before.bindings ?? []), { role: 'roles/run.invoker', members: ['user:kb-user@example.com'], condition }]
    expect((await api('POST', `${servicePath('billing')}:setIamPolicy`, { policy: { version: 3, bindings, etag: before.etag } })).status).toBe(200)
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, OWNER, server.ownerPassword!, `/console/projects/${PROJECT}/services/billing`)
    const expression = page.getByRole('region', { name: 'Permissions' }).getByText(condition.expression, { exact: true })
    await expression.waitFor()
    await screenshot(page, 'console-bidi-isolated')
    // Each character's left edge, in the order of the text: increasing when drawn left to right.
    const lefts = (await page.evaluate(`(() => {
      const el = Array.from(document.querySelectorAll('.condition code')).find((c) => c.textContent === ${JSON.stringify(condition.expression)})
      const text = document.createTreeWalker(el, NodeFilter.SHOW_TEXT).nextNode()
      return Array.from(text.data, (_, i) => {
        const range = document.createRange()
        range.setStart(text, i)
        range.setEnd(text, i + 1)
        return range.getBoundingClientRect().left
      })
    })()`)) as number[]
    expect(lefts.length).toBe(condition.expression.length)
    expect(lefts.every((x, i) => i === 0 || x > lefts[i - 1]!)).toBe(true)
    // A description in the services table sits in its own isolate too.
    await page.goto(`${server.controlUrl}/console/projects/${PROJECT}/services`)
    const cell = page.getByRole('cell', { name: XSS, exact: true })
    expect(await cell.locator('bdi').textContent()).toBe(XSS)
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('serves the app with a strict Content-Security-Policy, immutable hashed assets, and /signin for a browser without a session', async () => {
    const signedOut = await fetch(`${server.controlUrl}/console/projects/${PROJECT}/services?x=1`, { redirect: 'manual' })
    expect(signedOut.status).toBe(303)
    expect(signedOut.headers.get('location')).toBe(`/signin?return_to=${encodeURIComponent(`/console/projects/${PROJECT}/services?x=1`)}`)

    // Any path under /console is the app (client-side routes); the session itself is checked by the app.
    const page = await fetch(`${server.controlUrl}/console/projects/${PROJECT}/service-accounts`, { headers: { cookie: 'postern_session=whatever' } })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    expect(page.headers.get('cache-control')).toBe('no-cache')
    const html = await page.text()
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/) // no inline script
    expect(html).not.toMatch(/\sstyle=|<style/) // no inline style

    const script = /<script[^>]+src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1]!
    const asset = await fetch(server.controlUrl + script)
    expect(asset.status).toBe(200)
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(asset.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect((await fetch(`${server.controlUrl}/console/assets/missing-0000.js`)).status).toBe(404)
  })
})
