import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { Option, type Command } from 'commander'
import type { Cli } from '../context.js'
import { CliError, usageError } from '../errors.js'
import { registerPolicyCommands } from './policy-commands.js'
import { withListFlags } from '../list-flags.js'

interface Role {
  name: string
  title: string
  description: string
  includedPermissions: string[]
}

interface Account {
  email: string
  displayName: string
  description: string
  disabled: boolean
}

interface AccountFlags {
  displayName?: string
  description?: string
}

/** The fields the flags set; an empty value is kept (it clears the field on update). */
const accountBody = (o: AccountFlags) => ({
  ...(o.displayName !== undefined && { displayName: o.displayName }),
  ...(o.description !== undefined && { description: o.description }),
})

interface Key {
  keyId: string
  validAfterTime: string
  /** USER_MANAGED: every key Postern has (it keeps no keys of its own for service accounts, as Google's SYSTEM_MANAGED). */
  keyType?: string
  privateKeyData?: string
}

const accountPath = (email: string) => `/v1/projects/${encodeURIComponent(projectOf(email))}/serviceAccounts/${encodeURIComponent(email)}`

/** The project a service account belongs to, from its email (NAME@PROJECT.iam.postern.internal). */
export function projectOf(email: string): string {
  const m = /^[^@]+@([^.]+)\.iam\.postern\.internal$/.exec(email)
  if (!m) throw new CliError(`'${email}' is not a service account email (NAME@PROJECT.iam.postern.internal).`)
  return m[1]!
}

export function registerIam(program: Command, cli: Cli): Command {
  const iam = program.command('iam').description('Roles and service accounts.')

  const roles = iam.command('roles').description('The predefined roles.')
  withListFlags(roles.command('list')).description('List roles.').action(async (_o, cmd: Command) => {
    const { roles: rows } = await cli.api().call<{ roles: Role[] }>('GET', '/v1/roles')
    cli.printList(cmd, rows, [
      { header: 'NAME', value: (r) => r.name },
      { header: 'TITLE', value: (r) => r.title },
      { header: 'DESCRIPTION', value: (r) => r.description },
    ])
  })
  roles.command('describe <role>').description('Show a role and its permissions.').action(async (role: string, _o, cmd: Command) => {
    const name = role.replace(/^roles\//, '')
    cli.printResource(cmd, await cli.api().call('GET', `/v1/roles/${encodeURIComponent(name)}`))
  })

  const accounts = iam.command('service-accounts').description('Identities for machines.')
  accounts
    .command('create <name>')
    .description('Create a service account NAME@PROJECT.iam.postern.internal.')
    .option('--display-name <text>', 'a display name')
    .option('--description <text>', 'a description, any text up to 256 characters')
    .action(async (name: string, o: AccountFlags, cmd: Command) => {
      const project = cli.project(cmd)
      const created = await cli.api().call<Account>('POST', `/v1/projects/${encodeURIComponent(project)}/serviceAccounts`, { accountId: name, ...accountBody(o) })
      cli.status(`Created service account [${created.email}].`, cmd)
      cli.printResource(cmd, created)
    })
  accounts
    .command('update <email>')
    .description('Change the display name or description of a service account.')
    .option('--display-name <text>', 'the new display name ("" clears it)')
    .option('--description <text>', 'the new description ("" clears it)')
    .action(async (email: string, o: AccountFlags, cmd: Command) => {
      const body = accountBody(o)
      if (Object.keys(body).length === 0) throw usageError('Nothing to update: give --display-name or --description.')
      const updated = await cli.api().call<Account>('PATCH', accountPath(email), body)
      cli.status(`Updated service account [${email}].`, cmd)
      cli.printResource(cmd, updated)
    })
  withListFlags(accounts.command('list')).description('List service accounts of the project.').action(async (_o, cmd: Command) => {
    const { accounts: rows = [] } = await cli.api().call<{ accounts?: Account[] }>('GET', `/v1/projects/${encodeURIComponent(cli.project(cmd))}/serviceAccounts`)
    cli.printList(cmd, rows, [
      { header: 'DISPLAY NAME', value: (a) => a.displayName },
      { header: 'EMAIL', value: (a) => a.email },
      { header: 'DISABLED', value: (a) => String(a.disabled) },
    ])
  })
  accounts.command('describe <email>').description('Show a service account.').action(async (email: string, _o, cmd: Command) => {
    cli.printResource(cmd, await cli.api().call('GET', accountPath(email)))
  })
  accounts.command('delete <email>').description('Delete a service account; its keys and tokens stop working at once.').action(async (email: string, _o, cmd: Command) => {
    await cli.confirm(cmd, `Service account [${email}] will be deleted; its keys and tokens stop working.`)
    await cli.api().call('DELETE', accountPath(email))
    cli.status(`Deleted service account [${email}].`, cmd)
  })
  for (const verb of ['disable', 'enable'] as const) {
    accounts.command(`${verb} <email>`).description(`${verb === 'disable' ? 'Disable' : 'Enable'} a service account.`).action(async (email: string, _o, cmd: Command) => {
      await cli.api().call('POST', `${accountPath(email)}:${verb}`, {})
      cli.status(`${verb === 'disable' ? 'Disabled' : 'Enabled'} service account [${email}].`, cmd)
    })
  }

  const keys = accounts.command('keys').description('Keys of a service account.')
  keys
    .command('create <file>')
    .description('Create a key and write its key file (keep it secret); FILE - writes it to stdout.')
    .requiredOption('--iam-account <email>', 'the service account')
    .action(async (file: string, o: { iamAccount: string }, cmd: Command) => {
      const created = (key: Key) => cli.status(`created key [${key.keyId}] of type [json] as [${file}] for [${o.iamAccount}]`, cmd)
      // `-` is stdout, as gcloud takes it (`… keys create - | vault kv put …`): the key file
      // goes to the pipe, never to a file named `-`, and the note to stderr.
      if (file === '-') {
        const key = await cli.api().call<Key>('POST', `${accountPath(o.iamAccount)}/keys`, {})
        cli.print(Buffer.from(key.privateKeyData!, 'base64').toString('utf8'))
        return created(key)
      }
      // The file is made first, and the key only once it can be written: a key whose file could
      // not be written would be a live credential nobody holds.
      const fd = openKeyFile(file)
      let key: Key
      try {
        key = await cli.api().call<Key>('POST', `${accountPath(o.iamAccount)}/keys`, {})
      } catch (err) {
        closeSync(fd)
        rmSync(file, { force: true })
        throw err
      }
      try {
        writeFileSync(fd, Buffer.from(key.privateKeyData!, 'base64'))
        closeSync(fd)
      } catch (err) {
        rmSync(file, { force: true })
        const deleteKey = `postern iam service-accounts keys delete ${key.keyId} --iam-account ${o.iamAccount}`
        const undone = await cli.api().call('DELETE', `${accountPath(o.iamAccount)}/keys/${encodeURIComponent(key.keyId)}`).then(() => true, () => false)
        throw new CliError(`Cannot write ${file}: ${(err as Error).message}; ${undone ? 'the key created for it was deleted again' : `delete the key created for it: ${deleteKey}`}.`)
      }
      created(key)
    })
  withListFlags(keys.command('list'))
    .description('List keys.')
    .requiredOption('--iam-account <email>', 'the service account')
    .addOption(new Option('--managed-by <type>', "user: the keys made with keys create; system: keys the server keeps itself, which Postern has none of; any (the default): both, as gcloud's").choices(['any', 'user', 'system']).default('any'))
    .action(async (o: { iamAccount: string; managedBy: 'any' | 'user' | 'system' }, cmd: Command) => {
      const { keys: all = [] } = await cli.api().call<{ keys?: Key[] }>('GET', `${accountPath(o.iamAccount)}/keys`)
      const wanted = { any: undefined, user: 'USER_MANAGED', system: 'SYSTEM_MANAGED' }[o.managedBy]
      const rows = wanted === undefined ? all : all.filter((k) => (k.keyType ?? 'USER_MANAGED') === wanted)
      cli.printList(cmd, rows, [
        { header: 'KEY_ID', value: (k) => k.keyId },
        { header: 'CREATED_AT', value: (k) => k.validAfterTime },
      ])
    })
  keys
    .command('delete <keyId>')
    .description('Delete a key; tokens can no longer be obtained with it.')
    .requiredOption('--iam-account <email>', 'the service account')
    .action(async (keyId: string, o: { iamAccount: string }, cmd: Command) => {
      await cli.confirm(cmd, `Key [${keyId}] of [${o.iamAccount}] will be deleted.`)
      await cli.api().call('DELETE', `${accountPath(o.iamAccount)}/keys/${encodeURIComponent(keyId)}`)
      cli.status(`Deleted key [${keyId}] for service account [${o.iamAccount}].`, cmd)
    })

  registerPolicyCommands(accounts, cli, { noun: 'serviceAccount', path: accountPath }, 'email')
  return iam
}

/** A new key file, readable by its owner alone; one that exists already is never overwritten. */
function openKeyFile(file: string): number {
  try {
    return openSync(file, 'wx', 0o600)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'EEXIST' ? 'it exists already (a key file is never overwritten: choose another name)' : (err as Error).message
    throw new CliError(`Cannot write the key file ${file}: ${why}. No key was created.`)
  }
}
