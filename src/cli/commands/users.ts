import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { CliError } from '../errors.js'
import { withListFlags } from '../list-flags.js'
import { shows } from '../output.js'

interface User {
  email: string
  displayName: string
  disabled: boolean
  createTime: string
  password?: string
}

const path = (email: string) => `/v1/users/${encodeURIComponent(email)}`

async function passwordFromStdin(cli: Cli): Promise<string> {
  const text = await cli.io.readStdin()
  const password = text.replace(/\r?\n$/, '')
  if (!password) throw new CliError('--password-stdin: standard input was empty.')
  return password
}

export function registerUsers(program: Command, cli: Cli): void {
  const users = program.command('users').description('Local user accounts.')
  users
    .command('create <email>')
    .description('Create a user; without --password-stdin a password is generated and printed once.')
    .option('--password-stdin', 'read the password from standard input')
    .option('--display-name <name>', 'a display name')
    .action(async (email: string, o: { passwordStdin?: boolean; displayName?: string }, cmd: Command) => {
      const body = { email, ...(o.passwordStdin && { password: await passwordFromStdin(cli) }), ...(o.displayName && { displayName: o.displayName }) }
      const user = await cli.api().call<User>('POST', '/v1/users', body)
      cli.status(`Created user [${user.email}].`, cmd)
      // The one time the password appears: in the resource when the format asked for prints it (a
      // script keeps it from stdout), else on stderr — also under --quiet, which drops questions,
      // not this, and under --format=none or a projection without it, which would lose it.
      const inOutput = cli.globals(cmd).format !== undefined && shows(cli.format(cmd, 'yaml'), 'password')
      if (user.password && !inOutput) cli.io.stderr(`Password (shown once): ${user.password}\n`)
      const { password: _hidden, ...shown } = user
      cli.printResource(cmd, inOutput ? user : shown)
    })
  withListFlags(users.command('list')).description('List users.').action(async (_o, cmd: Command) => {
    const { users: rows = [] } = await cli.api().call<{ users?: User[] }>('GET', '/v1/users')
    cli.printList(cmd, rows, [
      { header: 'EMAIL', value: (u) => u.email },
      { header: 'DISPLAY NAME', value: (u) => u.displayName },
      { header: 'DISABLED', value: (u) => String(u.disabled) },
      { header: 'CREATED', value: (u) => u.createTime },
    ])
  })
  users.command('describe <email>').description('Show a user.').action(async (email: string, _o, cmd: Command) => {
    cli.printResource(cmd, await cli.api().call('GET', path(email)))
  })
  users.command('delete <email>').description('Delete a user: bindings become deleted:user:…, sessions and tokens stop.').action(async (email: string, _o, cmd: Command) => {
    await cli.confirm(cmd, `User [${email}] will be deleted; its sessions and tokens stop working.`)
    await cli.api().call('DELETE', path(email))
    cli.status(`Deleted user [${email}].`, cmd)
  })
  for (const verb of ['disable', 'enable'] as const) {
    users.command(`${verb} <email>`).description(`${verb === 'disable' ? 'Disable (tokens stop within a second)' : 'Enable'} a user.`).action(async (email: string, _o, cmd: Command) => {
      await cli.api().call('PATCH', path(email), { disabled: verb === 'disable' })
      cli.status(`${verb === 'disable' ? 'Disabled' : 'Enabled'} user [${email}].`, cmd)
    })
  }
  users
    .command('set-password <email>')
    .description('Set a user’s password (read from standard input). Every sign-in of the account ends. Your own needs the current password first: two lines, current then new.')
    .option('--password-stdin', 'read the password from standard input (the default when it is not a terminal)')
    .action(async (email: string, o: { passwordStdin?: boolean }, cmd: Command) => {
      if (!o.passwordStdin && cli.io.stdinIsTTY) throw new CliError('Pipe the new password in with --password-stdin, e.g. printf %s "$PASSWORD" | postern users set-password EMAIL --password-stdin', 2)
      const self = email.trim().toLowerCase() === cli.files.readConfig().account?.toLowerCase()
      const body = self ? await ownPasswordsFromStdin(cli) : { password: await passwordFromStdin(cli) }
      await cli.api().call('POST', `${path(email)}:setPassword`, body)
      cli.status(`Updated the password of [${email}].`, cmd)
      cli.status(self ? 'Every sign-in of your account has ended, this CLI’s too: run postern auth login.' : 'Every sign-in of that account has ended.', cmd)
    })
}

/** Your own password: the current one on the first line, the new one on the second. */
async function ownPasswordsFromStdin(cli: Cli): Promise<{ currentPassword: string; password: string }> {
  const lines = (await cli.io.readStdin()).split(/\r?\n/)
  const [currentPassword = '', password = ''] = lines
  if (!currentPassword || !password || lines.slice(2).some((l) => l !== '')) {
    throw new CliError('Changing your own password needs the current one first and the new one second, on two lines: printf \'%s\\n%s\\n\' "$CURRENT" "$NEW" | postern users set-password EMAIL --password-stdin', 2)
  }
  return { currentPassword, password }
}
