import type { Command } from 'commander'

/**
 * `postern help services list` as the words commander should parse instead. Commander's own help
 * command reads one word only (it showed the `services` group's help, not `list`'s) and, for a
 * word it does not know, printed all of the help and then "a command name is expected".
 * Here the words are walked down the command tree: when each names a command, that command's
 * help (`services list --help`); at the first that names none, the words up to it, so that
 * commander refuses it as it refuses any unknown command — "unknown command 'nosuch'", the
 * closest name suggested, exit 2. Words after a command that has no subcommands are not
 * looked at: they are its arguments, not commands, and its help is what was asked for.
 */
export function helpArgv(words: readonly string[], program: Command): string[] {
  let at = program
  for (const [i, word] of words.entries()) {
    if (at.commands.length === 0) return [...words.slice(0, i), '--help']
    const next = at.commands.find((c) => c.name() === word || c.aliases().includes(word))
    if (!next) return words.slice(0, i + 1)
    at = next
  }
  return [...words, '--help']
}

/**
 * The words commander should parse when `help` is the first word that is not a global flag
 * (`postern --project p help services list`, `postern --format=json help`), else undefined. The
 * global flags, with their values, stay in front; the words after `help` go to helpArgv, wherever
 * among them a global flag sits. Before, only argv[0] was looked at: `help` after a flag reached
 * commander's own help command, which showed the group's help or failed.
 */
export function helpRequest(argv: readonly string[], program: Command): string[] | undefined {
  const { globals, words } = splitGlobalFlags(argv, program)
  if (words[0] !== 'help') return undefined
  return [...globals, ...helpArgv(words.slice(1), program)]
}

/**
 * The program's own flags (with their values) wherever they stand in argv, and the other words,
 * each in order; `first`: where in argv the first of those words is (argv.length if none).
 */
export function splitGlobalFlags(argv: readonly string[], program: Command): { globals: string[]; words: string[]; first: number } {
  const globals: string[] = []
  const words: string[] = []
  let first = argv.length
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!
    const option = program.options.find((o) => word === o.long || word === o.short || (o.long !== undefined && word.startsWith(`${o.long}=`)))
    if (!option) {
      if (words.length === 0) first = i
      words.push(word)
      continue
    }
    globals.push(word)
    const takesValue = option.required || option.optional
    if (takesValue && !word.includes('=') && i + 1 < argv.length) globals.push(argv[++i]!)
  }
  return { globals, words, first }
}
