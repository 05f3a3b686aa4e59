import { Environment } from '@marcbachmann/cel-js'
import { BoundedCache } from '../core/bounded-cache.js'
import { invalid } from '../core/errors.js'
import { celErrorLine, checkCelCost, registerLinearMatches, useLinearMatches } from './cel-bounds.js'

/**
 * IAM Conditions (DESIGN §1): CEL over `request.time`, `resource.name`, `resource.type`,
 * evaluated with @marcbachmann/cel-js. Expressions are type-checked and their cost bounded
 * (cel-bounds.ts) when a policy is written, so a condition that could never be a bool, or could
 * stall the gateway, is refused then, not discovered at request time. `matches()` is RE2.
 */
export interface Condition {
  title: string
  description?: string
  expression: string
}

export interface ConditionContext {
  now: number
  resource: { name: string; type: ResourceType }
}

export type ResourceType =
  | 'postern.organization/Organization'
  | 'postern.project/Project'
  | 'run.postern/Service'
  | 'iam.postern/ServiceAccount'

export type CompiledCondition = (ctx: ConditionContext) => boolean

const LIMITS = { expression: 12_800, title: 100, description: 256 }

const env = registerLinearMatches(
  new Environment({
    limits: { maxAstNodes: 2_000, maxDepth: 64, maxListElements: 1_000, maxMapEntries: 100, maxCallArguments: 16 },
  }),
)
  .registerVariable('request', { schema: { time: 'google.protobuf.Timestamp' } })
  .registerVariable('resource', { schema: { name: 'string', type: 'string', service: 'string' } })

const compiled = new BoundedCache<string, CompiledCondition>(10_000)

/** Validates a condition's fields and compiles its expression; INVALID_ARGUMENT says what is wrong. */
export function parseCondition(raw: unknown): Condition {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('A condition must be an object with title and expression.')
  const { title, description, expression, ...rest } = raw as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length) throw invalid(`Unknown condition field '${unknown[0]}'.`)
  if (typeof expression !== 'string' || !expression.trim()) throw invalid('A condition needs a non-empty expression.')
  if (typeof title !== 'string' || !title.trim()) throw invalid('A condition needs a non-empty title.')
  if (description !== undefined && typeof description !== 'string') throw invalid('A condition description must be a string.')
  if (expression.length > LIMITS.expression) throw invalid(`A condition expression may have at most ${LIMITS.expression} characters.`)
  if (title.length > LIMITS.title) throw invalid(`A condition title may have at most ${LIMITS.title} characters.`)
  if (description && description.length > LIMITS.description) throw invalid(`A condition description may have at most ${LIMITS.description} characters.`)
  checkCelCost(parse(expression).ast, 'Condition expression')
  compileCondition(expression)
  return description ? { title, description, expression } : { title, expression }
}

export function compileCondition(expression: string): CompiledCondition {
  const cached = compiled.get(expression)
  if (cached) return cached
  const evaluate = parse(expression)
  useLinearMatches(evaluate.ast)
  const check = evaluate.check()
  if (!check.valid) throw invalid(`Condition expression is not valid: ${celErrorLine(check.error)}`)
  if (check.type !== 'bool') throw invalid(`Condition expression must be a bool, not ${check.type}.`)
  const fn: CompiledCondition = (ctx) =>
    evaluate({
      request: { time: new Date(ctx.now) },
      resource: { name: ctx.resource.name, type: ctx.resource.type, service: serviceOf(ctx.resource.name) },
    }) === true
  compiled.set(expression, fn)
  return fn
}

function parse(expression: string): ReturnType<typeof env.parse> {
  try {
    return env.parse(expression)
  } catch (err) {
    throw invalid(`Condition expression does not parse: ${celErrorLine(err)}`)
  }
}

/** Evaluates; a condition that fails to evaluate grants nothing (DESIGN §1), reported as 'error'. */
export function evaluateCondition(expression: string, ctx: ConditionContext): boolean | 'error' {
  try {
    return compileCondition(expression)(ctx)
  } catch {
    return 'error'
  }
}

function serviceOf(name: string): string {
  const m = /^projects\/[^/]+\/services\/([^/]+)$/.exec(name)
  return m ? m[1]! : ''
}

