import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './dist.js'
import { formatMarkdown, formatSvg, judgeGoals, type BenchReport } from './report.js'

/**
 * Renders bench/results/latest.md and latest.svg again from latest.json (after a change to the
 * report's wording or layout), without measuring anything:  node dist/bench/render.js
 */
const results = join(ROOT, 'bench', 'results')
const { goals: _old, ...measured } = JSON.parse(readFileSync(join(results, 'latest.json'), 'utf8')) as BenchReport
const report: BenchReport = { ...measured, goals: judgeGoals(measured) }
writeFileSync(join(results, 'latest.json'), JSON.stringify(report, null, 2) + '\n')
writeFileSync(join(results, 'latest.md'), formatMarkdown(report))
if (report.scenarios) writeFileSync(join(results, 'latest.svg'), formatSvg(report))
process.stdout.write('Rendered bench/results/latest.md and latest.svg from latest.json\n')
