import { Environment, type ASTNode } from '@marcbachmann/cel-js'
import { invalid } from '../core/errors.js'
import { compileLinearRegex, matchesLinear } from './linear-regex.js'

/**
 * What keeps one CEL evaluation cheap, for IAM Conditions (evaluated on every request they
 * govern) and for workforce attribute mappings (evaluated on every token exchange, over claims an
 * identity provider writes). The library's own limits bound the expression's size and depth; the
 * rest is checked here, on the parsed expression, when the policy or provider is written:
 *
 * - `matches()` runs on RE2 in linear time (see linear-regex.ts), never on V8's backtracking
 *   engine; its pattern is a string literal, so it is compiled and bounded at write time rather
 *   than supplied by whatever the expression reads;
 * - at most `regexCalls` calls of `matches()`;
 * - no comprehension (`all`, `exists`, `exists_one`, `map`, `filter`) inside another's body: one
 *   level iterates over at most a list's length, two multiply (a thousand-element list nested
 *   three deep is a billion steps);
 * - no `cel.bind`: it names a value once and lets the body use it many times, so sizes double
 *   with each nesting instead of growing with the expression's length.
 */
export const CEL_LIMITS = { regexCalls: 10 } as const

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter'])

/**
 * The name `matches` is rewritten to in a parsed expression. The library's own `matches` uses
 * V8's RegExp and cannot be replaced (its registry refuses an overlapping overload), so the call
 * is pointed at this function instead; the name is no CEL identifier, so no expression can call
 * it except through `matches`.
 */
const LINEAR_MATCHES = 'matches (RE2)'

/** A message of the library's with `matches` called by the name users wrote. */
export function asWritten(message: string): string {
  return message.replaceAll(LINEAR_MATCHES, 'matches')
}

/** The first line of a CEL error's message, `matches` called as users wrote it. */
export function celErrorLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return asWritten(text.split('\n')[0]!.trim())
}

/** Registers the linear-time `matches` on an environment; call once where it is built. */
export function registerLinearMatches(env: Environment): Environment {
  return env.registerFunction({
    name: LINEAR_MATCHES,
    receiverType: 'string',
    returnType: 'bool',
    params: [{ name: 'pattern', type: 'string' }],
    handler: matchesLinear,
  })
}

/**
 * Points every `matches` call of a freshly parsed (not yet checked or evaluated) expression at
 * the linear-time function. The library resolves a call by the name in its node when it checks
 * the expression, so renaming the node before that is enough.
 */
export function useLinearMatches(ast: ASTNode): void {
  visit(ast, (node) => {
    if (node.op === 'rcall' && node.args[0] === 'matches') (node.args as unknown as unknown[])[0] = LINEAR_MATCHES
  })
}

/** Write-time checks of the list above; INVALID_ARGUMENT names `what` and the rule broken. */
export function checkCelCost(ast: ASTNode, what: string): void {
  let regexCalls = 0
  const walk = (node: ASTNode, inComprehension: boolean): void => {
    if (node.op === 'call') checkConstantConversion(node.args[0], node.args[1], what)
    if (node.op === 'rcall') {
      const [name, receiver, args] = node.args
      if (name === 'bind' && receiver.op === 'id' && receiver.args === 'cel') throw invalid(`${what}: cel.bind is not allowed.`)
      if (name === 'matches' || name === LINEAR_MATCHES) {
        regexCalls++
        const pattern = args[0]
        if (args.length !== 1 || pattern?.op !== 'value' || typeof pattern.args !== 'string') {
          throw invalid(`${what}: the pattern of matches() must be a string literal, e.g. resource.name.matches('^projects/p/services/api-')`)
        }
        try {
          compileLinearRegex(pattern.args)
        } catch (err) {
          throw invalid(`${what}: ${err instanceof Error ? err.message : String(err)}`)
        }
      }
      if (COMPREHENSIONS.has(name) && args.length >= 2) {
        if (inComprehension) throw invalid(`${what}: a comprehension (${name}) may not be nested inside another one.`)
        walk(receiver, inComprehension)
        for (const arg of args) walk(arg, true)
        return
      }
    }
    for (const child of childrenOf(node)) walk(child, inComprehension)
  }
  walk(ast, false)
  if (regexCalls > CEL_LIMITS.regexCalls) throw invalid(`${what}: at most ${CEL_LIMITS.regexCalls} calls of matches(); this one has ${regexCalls}.`)
}

const constants = new Environment().registerVariable('text', 'string')
const EXAMPLES: Record<string, string> = { timestamp: "timestamp('2027-01-01T00:00:00Z')", duration: "duration('3600s')" }

/**
 * `timestamp('…')` or `duration('…')` of a literal that can never convert would fail at every
 * request, so its binding would silently grant nothing: refused when written instead.
 */
function checkConstantConversion(name: string, args: ASTNode[], what: string): void {
  const [text] = args
  if (!Object.hasOwn(EXAMPLES, name) || args.length !== 1 || text?.op !== 'value' || typeof text.args !== 'string') return
  try {
    constants.evaluate(`${name}(text)`, { text: text.args })
  } catch (err) {
    throw invalid(`${what}: ${name}('${text.args.slice(0, 100)}') can never be converted (${celErrorLine(err)}); write it as ${EXAMPLES[name]}.`)
  }
}


function visit(node: ASTNode, fn: (node: ASTNode) => void): void {
  fn(node)
  for (const child of childrenOf(node)) visit(child, fn)
}

function childrenOf(node: ASTNode): ASTNode[] {
  switch (node.op) {
    case 'value':
    case 'id':
      return []
    case '.':
    case '.?':
      return [node.args[0]]
    case '!_':
    case '-_':
      return [node.args]
    case 'call':
      return node.args[1]
    case 'rcall':
      return [node.args[1], ...node.args[2]]
    case 'list':
      return node.args
    case 'map':
      return node.args.flat()
    default:
      return [...node.args]
  }
}
