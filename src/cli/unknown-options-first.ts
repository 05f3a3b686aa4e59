import { Command, type ParseOptionsResult } from 'commander'

/**
 * A command that names a mistyped option before a missing required one. Commander checks
 * required options first, so `add-iam-policy-binding hello --memebr=user:x --role=R` said only
 * "required option '--member <member>' not specified" and never pointed at --memebr; the error
 * for the unknown option (which main.ts gives its "Did you mean --member?") is the one that says
 * what to fix. Only a command without subcommands judges its options here: a group's unknown
 * words are its subcommand's to parse; and --help, which commander answers first, still wins.
 */
export class UnknownOptionsFirst extends Command {
  override createCommand(name?: string): Command {
    return new UnknownOptionsFirst(name)
  }

  override parseOptions(argv: string[]): ParseOptionsResult {
    const parsed = super.parseOptions(argv)
    const [first] = parsed.unknown
    const help = parsed.unknown.some((word) => word === '--help' || word === '-h')
    if (this.commands.length === 0 && first?.startsWith('-') && first !== '--' && !help) {
      // Commander's own words (main.ts matches them to add its suggestion); exit 2 as any usage error.
      this.error(`error: unknown option '${first}'`, { code: 'commander.unknownOption' })
    }
    return parsed
  }
}
