import { readFileSync } from 'node:fs'
import { CliError } from './errors.js'
import { yaml } from './yaml.js'

/**
 * A file a command takes as input (a policy, access tests), in YAML or JSON (which YAML reads
 * too); the error names the file and the first line of what is wrong.
 */
export function readDocument(file: string, format = 'YAML'): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`)
  }
  try {
    return yaml().parse(text)
  } catch (err) {
    throw new CliError(`${file} is not valid ${format}: ${(err as Error).message.split('\n')[0]}`)
  }
}
