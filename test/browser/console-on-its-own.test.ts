import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startPostern, type PosternProcess } from '../support/server.js'
import { WebAgent } from '../support/web-sign-in.js'
import { launchChromium, screenshot, watchedPage } from './console-harness.js'

/**
 * The console on its own: an admin who never opens a terminal can find their projects, manage
 * users and groups, point a service at another upstream, learn which role a missing action
 * needs — and do it on a phone-sized screen.
 */
const OWNER = 'owner@example.com'
const VIEWER = 'viewer@example.com'
const VIEWER_PASSWORD = 'viewer-password-1234'

let server: PosternProcess
let browser: Browser

beforeAll(async () => {
  server = await startPostern({ args: ['--demo'] })
  browser = await launchChromium()
  for (const args of [
    ['projects', 'create', 'second-project'],
    ['projects', 'add-iam-policy-binding', 'second-project', `--member=user:${VIEWER}`, '--role=roles/run.viewer'],
  ]) {
    if (args[0] === 'projects' && args[1] === 'add-iam-policy-binding') {
      const u = await server.cli(['users', 'create', VIEWER, '--password-stdin'], { stdin: VIEWER_PASSWORD })
      expect(u.code, u.stderr).toBe(0)
    }
    const r = await server.cli(args)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  }
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

/** Signs in at /signin from /console (or `from`), as a person does, and stays wherever the console goes. */
async function signInAt(page: Page, email: string, password: string, from = '/console'): Promise<void> {
  await page.goto(`${server.controlUrl}${from}`)
  await page.waitForURL(/\/signin\?/)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL((url) => url.pathname.startsWith('/console'))
}

const scrollWidth = (page: Page) => page.evaluate('document.documentElement.scrollWidth') as Promise<number>

describe('the console on its own', () => {
  it('lists the projects the person can open after sign-in, from the address serve prints', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signInAt(page, OWNER, server.ownerPassword!, '/')
    // A program asking for / is told where things are, not sent to a page.
    const program = await fetch(`${server.controlUrl}/`)
    expect([program.status, ((await program.json()) as { error: { message: string } }).error.message]).toEqual([404, 'No such endpoint: GET /. The API is under /v1/, the console at /console.'])
    const projects = page.getByRole('navigation', { name: 'Your projects' })
    await projects.getByRole('link', { name: 'my-project' }).waitFor()
    expect(await projects.getByRole('link').allTextContents()).toEqual(['my-project', 'second-project'])
    await projects.getByRole('link', { name: 'second-project' }).click()
    await page.waitForURL(/\/console\/projects\/second-project\/services$/)
    await page.getByRole('heading', { name: 'Services' }).waitFor()
    expect(problems).toEqual([])
    await context.close()
  })

  it('a viewer of one project sees that project only, and is told which role the missing actions need', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signInAt(page, VIEWER, VIEWER_PASSWORD)
    await page.waitForURL(/\/console\/projects\/second-project\/services$/) // the only one: opened at once
    await page.getByText('To create, change and delete services, ask an owner for Run Developer (roles/run.developer) on project second-project.').waitFor()
    expect(await page.getByRole('button', { name: 'Create service' }).count()).toBe(0)
    // A page they may not read says which role would allow it.
    await page.getByRole('link', { name: 'Users' }).click()
    await page.getByRole('alert').filter({ hasText: "You don't have permission to list users" }).waitFor()
    expect(await page.getByRole('alert').textContent()).toContain('A role that allows it: Viewer (roles/viewer).')
    // Users are the organization's: its owners or admins grant that, not a project's owner.
    expect(await page.getByRole('alert').textContent()).toContain('Ask an organization owner or admin to grant you a role that allows it.')
    expect(problems).toEqual([])
    await context.close()
  })

  it('someone with no role on any project is told so, and can sign out from there', async () => {
    const nobody = 'no-project@example.com'
    const password = 'nobody-password-1234'
    const made = await server.cli(['users', 'create', nobody, '--password-stdin'], { stdin: password })
    expect(made.code, made.stderr).toBe(0)
    const context = await browser.newContext()
    const { page, problems } = await watchedPage(context)
    await signInAt(page, nobody, password)
    await page.getByText('You have no role on any project yet.').waitFor()
    expect(await page.getByTitle('Signed in as').textContent()).toBe(nobody)
    // A role on one service only (granted after sign-in, as often): the page says how to open it.
    const granted = await server.cli(['services', 'add-iam-policy-binding', 'hello', '--project=my-project', `--member=user:${nobody}`, '--role=roles/run.viewer'])
    expect(granted.code, granted.stderr).toBe(0)
    const open = page.getByRole('form', { name: 'Open a service by name' })
    await open.getByLabel('Project ID').fill('my-project')
    await open.getByLabel('Service name').fill('hello')
    await open.getByRole('button', { name: 'Open service' }).click()
    await page.waitForURL(/\/console\/projects\/my-project\/services\/hello$/)
    await page.getByRole('region', { name: 'Details' }).getByText('Upstream', { exact: true }).waitFor()
    await page.getByRole('region', { name: 'Permissions' }).getByText(nobody, { exact: true }).waitFor()
    await page.goto(`${server.controlUrl}/console`)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.waitForURL((url) => url.pathname === '/signin')
    // The session is over: the console asks to sign in again.
    await page.goto(`${server.controlUrl}/console`)
    await page.waitForURL(/\/signin\?/)
    expect(problems).toEqual([])
    await context.close()
  })

  it('says a missing project is missing, never that it is empty', async () => {
    const context = await browser.newContext()
    const { page } = await watchedPage(context)
    await signInAt(page, OWNER, server.ownerPassword!)
    await page.goto(`${server.controlUrl}/console/projects/nosuch-project/services`)
    await page.getByRole('heading', { name: 'Project not found' }).waitFor()
    expect(await page.getByText('Create one').count()).toBe(0)
    await page.getByRole('link', { name: 'Choose one of your projects' }).click()
    await page.getByRole('navigation', { name: 'Your projects' }).waitFor()
    // A missing service: a reload cannot help, so none is suggested; the way back is offered.
    await page.goto(`${server.controlUrl}/console/projects/my-project/services/nosuch-service`)
    const said = page.getByRole('alert').filter({ hasText: 'nosuch-service' })
    await said.getByText(/It was deleted \(perhaps by someone else just now\), or never existed under this name\./).waitFor()
    expect(await said.textContent()).not.toMatch(/reload/i)
    await page.getByRole('link', { name: 'Back to the services of my-project' }).click()
    await page.waitForURL(/\/console\/projects\/my-project\/services$/)
    await page.getByRole('heading', { name: 'Services', level: 1 }).waitFor()
    // An address that names no page says so, rather than showing Services or the project list.
    for (const [path, back] of [['/console/projects/my-project/servics', 'Go to the services of my-project'], ['/console/nonsense', 'Choose one of your projects']] as const) {
      await page.goto(`${server.controlUrl}${path}`)
      await page.getByRole('heading', { name: 'Page not found' }).waitFor()
      await page.getByRole('link', { name: back }).waitFor()
      expect(await page.getByRole('heading', { name: 'Services', level: 1 }).count()).toBe(0)
    }
    await context.close()
  })

  it('an admin creates a user, disables and enables them, and resets their password', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signInAt(page, OWNER, server.ownerPassword!)
    await page.goto(`${server.controlUrl}/console/projects/my-project/users`)
    await page.getByRole('button', { name: 'Create user' }).click()
    const create = page.getByRole('dialog', { name: 'Create user' })
    await create.getByLabel('Email').fill('carol@example.com')
    await create.getByLabel('Display name').fill('Carol')
    await create.getByRole('button', { name: 'Create' }).click()
    const shown = page.getByRole('note', { name: 'New password' })
    const first = (await shown.locator('code').textContent())!
    expect(first).toMatch(/^\S{16,}$/)
    expect((await new WebAgent(server.controlUrl).signIn('carol@example.com', first)).status).toBe(303)
    await shown.getByRole('button', { name: 'Done' }).click()

    await page.getByRole('button', { name: 'Disable carol@example.com' }).click()
    await page.getByRole('status').filter({ hasText: 'Disabled carol@example.com' }).waitFor()
    expect(JSON.parse((await server.cli(['users', 'describe', 'carol@example.com', '--format=json'])).stdout).disabled).toBe(true)
    await page.getByRole('button', { name: 'Enable carol@example.com' }).click()
    await page.getByRole('button', { name: 'Disable carol@example.com' }).waitFor()

    await page.getByRole('button', { name: 'Reset the password of carol@example.com' }).click()
    await page.getByRole('dialog', { name: 'Reset password' }).getByRole('button', { name: 'Set new password' }).click()
    const second = (await page.getByRole('note', { name: 'New password' }).locator('code').textContent())!
    expect(second).not.toBe(first)
    expect((await new WebAgent(server.controlUrl).signIn('carol@example.com', first)).status).not.toBe(303)
    expect((await new WebAgent(server.controlUrl).signIn('carol@example.com', second)).status).toBe(303)
    await screenshot(page, 'console-users')
    expect(problems).toEqual([])
    await context.close()
  })

  it('an admin creates a group and adds and removes members; an unknown member is refused by name', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signInAt(page, OWNER, server.ownerPassword!)
    await page.goto(`${server.controlUrl}/console/projects/my-project/groups`)
    await page.getByRole('button', { name: 'Create group' }).click()
    await page.getByRole('dialog', { name: 'Create group' }).getByLabel('Group email').fill('eng@example.com')
    await page.getByRole('dialog', { name: 'Create group' }).getByRole('button', { name: 'Create' }).click()
    const members = page.getByRole('dialog', { name: 'Members of eng@example.com' })
    await members.getByLabel('Add member').fill('viewer@example.com')
    await members.getByRole('button', { name: 'Add', exact: true }).click()
    await members.getByRole('list', { name: 'Members' }).getByText('user:viewer@example.com').waitFor()
    await members.getByLabel('Add member').fill('nobody@example.com')
    await members.getByRole('button', { name: 'Add', exact: true }).click()
    await members.getByRole('alert').filter({ hasText: 'User nobody@example.com does not exist' }).waitFor()
    const group = JSON.parse((await server.cli(['groups', 'describe', 'eng@example.com', '--format=json'])).stdout)
    expect(group.members).toEqual(['user:viewer@example.com'])
    await members.getByRole('button', { name: 'Remove user:viewer@example.com' }).click()
    await members.getByText('No members yet.').waitFor()
    expect(problems).toEqual([])
    await context.close()
  })

  it("an admin points a service at another upstream, and the create dialog states the CLI's rule for names", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signInAt(page, OWNER, server.ownerPassword!)
    await page.goto(`${server.controlUrl}/console/projects/my-project/services/hello`)
    await page.getByRole('button', { name: 'Edit' }).click()
    const edit = page.getByRole('dialog', { name: 'Edit hello' })
    await edit.getByLabel('Upstream URL').fill('http://127.0.0.1:9999')
    await edit.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').filter({ hasText: 'hello now forwards to http://127.0.0.1:9999' }).waitFor()
    expect((await server.cli(['services', 'describe', 'hello', '--format=value(upstream)'])).stdout).toBe('http://127.0.0.1:9999\n')
    // Someone else describes it while the dialog is open: Save says so and shows their description
    // (a field not changed here), keeps the upstream typed here, and Save again applies it over theirs.
    await page.getByRole('button', { name: 'Edit' }).click()
    await edit.getByLabel('Upstream URL').fill('http://127.0.0.1:9998')
    expect((await server.cli(['services', 'update', 'hello', '--description=set elsewhere'])).code).toBe(0)
    await edit.getByRole('button', { name: 'Save' }).click()
    await edit.getByRole('alert').filter({ hasText: 'Someone else changed hello while you were editing it' }).waitFor()
    expect(await edit.getByLabel('Description').inputValue()).toBe('set elsewhere')
    expect(await edit.getByLabel('Upstream URL').inputValue()).toBe('http://127.0.0.1:9998')
    await edit.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').filter({ hasText: 'hello now forwards to http://127.0.0.1:9998' }).waitFor()
    expect((await server.cli(['services', 'describe', 'hello', '--format=value(upstream,description)'])).stdout).toBe('http://127.0.0.1:9998\tset elsewhere\n')

    await page.goto(`${server.controlUrl}/console/projects/my-project/services`)
    await page.getByRole('button', { name: 'Create service' }).click()
    const dialog = page.getByRole('dialog', { name: 'Create service' })
    await dialog.getByLabel('Service name').fill('a')
    await dialog.getByLabel('Upstream URL').fill('http://127.0.0.1:9000')
    await dialog.getByRole('button', { name: 'Create' }).click()
    const cli = await server.cli(['services', 'create', 'a', '--upstream=http://127.0.0.1:9000'])
    const rule = /a service name has 2–50 characters[^.]*\./.exec(cli.stderr)![0]
    await dialog.getByText(rule).waitFor()
    expect(problems).toEqual([])
    await context.close()
  })

  it('the audit log shows failed sign-ins and refused calls, and filters by outcome', async () => {
    for (let i = 0; i < 3; i++) expect((await new WebAgent(server.controlUrl).signIn('viewer@example.com', 'wrong password')).status).toBe(401)
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const { page, problems } = await watchedPage(context)
    await signInAt(page, OWNER, server.ownerPassword!)
    await page.goto(`${server.controlUrl}/console/projects/my-project/audit-log`)
    await page.getByLabel('Outcome').selectOption({ label: 'Sign-in failed' })
    await page.getByRole('button', { name: 'Apply filters' }).click()
    const rows = page.getByRole('row').filter({ hasText: 'users/viewer@example.com' })
    // Refusals are written within a second; the filter is applied again until all three are in.
    // They are counted in one entry per calendar minute: two entries when they straddle one.
    await expect.poll(async () => {
      await page.getByRole('button', { name: 'Apply filters' }).click()
      const texts = await rows.allTextContents()
      return texts.reduce((n, text) => n + Number(/Sign-in failed\s*×(\d+)/.exec(text)?.[1] ?? (text.includes('Sign-in failed') ? 1 : 0)), 0)
    }, { timeout: 5_000, interval: 500 }).toBe(3)
    const outcomes = await page.locator('tbody .outcome').allTextContents()
    expect(new Set(outcomes)).toEqual(new Set(['Sign-in failed']))
    await page.getByLabel('Outcome').selectOption({ label: 'Denied' })
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await page.getByRole('row').filter({ hasText: 'postern.users.list' }).first().waitFor() // the viewer's refused read of Users
    expect(problems).toEqual([])
    await context.close()
  })

  it('at 375 px the header shows the signed-in email whole, broken only before its @', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 800 } })
    const { page, problems } = await watchedPage(context)
    await signInAt(page, OWNER, server.ownerPassword!)
    await page.goto(`${server.controlUrl}/console/projects/my-project/services`)
    await page.getByRole('link', { name: 'hello', exact: true }).waitFor()
    await screenshot(page, 'console-375-header')
    // The email's text split where the browser broke its lines (by each character's top).
    const lines = (await page.evaluate(`(() => {
      const el = document.querySelector('.account-email')
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT)
      const lines = []
      let top
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let i = 0; i < node.data.length; i++) {
          const range = document.createRange()
          range.setStart(node, i)
          range.setEnd(node, i + 1)
          const y = Math.round(range.getBoundingClientRect().top)
          if (top === undefined || Math.abs(y - top) > 4) lines.push('')
          top = y
          lines[lines.length - 1] += node.data[i]
        }
      }
      return lines
    })()`)) as string[]
    expect(lines.join('')).toBe(OWNER)
    expect([[OWNER], ['owner', '@example.com']]).toContainEqual(lines)
    expect(await scrollWidth(page)).toBeLessThanOrEqual(375)
    expect(problems).toEqual([])
    await context.close()
  })

  it('is usable 420 px wide: no main page scrolls sideways', async () => {
    const context = await browser.newContext({ viewport: { width: 420, height: 860 } })
    const { page, problems } = await watchedPage(context)
    await signInAt(page, OWNER, server.ownerPassword!)
    await page.getByRole('navigation', { name: 'Your projects' }).waitFor()
    expect(await scrollWidth(page)).toBeLessThanOrEqual(420)
    for (const [path, ready] of [
      ['services', 'link:hello'],
      ['services/hello', 'heading:Details'],
      ['service-accounts', 'heading:Service accounts'],
      ['users', 'text:carol@example.com'],
      ['groups', 'heading:Groups'],
      ['workforce-pools', 'heading:Workforce pools'],
      ['audit-log', 'text:bootstrap'],
    ] as const) {
      await page.goto(`${server.controlUrl}/console/projects/my-project/${path}`)
      // Stacked tables are no longer tables to assistive technology, so their rows are found by text.
      const [role, name] = ready.split(':') as ['link' | 'heading' | 'text', string]
      await (role === 'text' ? page.getByText(name, { exact: true }) : page.getByRole(role, { name, exact: true })).first().waitFor()
      await screenshot(page, `console-420-${path.replace('/', '-')}`)
      expect(await scrollWidth(page), path).toBeLessThanOrEqual(420)
    }
    expect(problems).toEqual([])
    await context.close()
  })
})
