import type { PolicyBody } from '../../iam/policy.js'
import { EMPTY_ETAG } from '../../iam/policy.js'
import type { PolicyRecord, ProjectRecord, ServiceRecord } from '../records.js'
import type { Sql } from '../sql.js'
import type { StoreTx } from '../store.js'
import { bool, flag, likeLiteral, num, str, type Row } from './rows.js'

type ResourceQueries = Pick<StoreTx,
  | 'getProject' | 'listProjects' | 'insertProject' | 'deleteProject'
  | 'getService' | 'listServices' | 'insertService' | 'updateService' | 'deleteService'
  | 'getPolicy' | 'listPolicies' | 'putPolicy' | 'deletePolicy' | 'findPoliciesMentioning'>

const project = (r: Row): ProjectRecord => ({ projectId: str(r.project_id), uid: str(r.uid), createTime: num(r.create_time) })

const service = (r: Row): ServiceRecord => ({
  projectId: str(r.project_id),
  serviceId: str(r.service_id),
  uid: str(r.uid),
  upstream: str(r.upstream),
  description: str(r.description),
  invokerIamDisabled: bool(r.invoker_iam_disabled),
  customAudiences: JSON.parse(str(r.custom_audiences)) as string[],
  strictAudience: bool(r.strict_audience),
  browserAccess: bool(r.browser_access),
  useHttp2: bool(r.use_http2),
  timeoutSeconds: num(r.timeout_seconds),
  labels: JSON.parse(str(r.labels)) as Record<string, string>,
  createTime: num(r.create_time),
  updateTime: num(r.update_time),
  creator: str(r.creator),
  lastModifier: str(r.last_modifier),
  etag: str(r.etag),
})

const policy = (r: Row): PolicyRecord => ({ resource: str(r.resource), policy: JSON.parse(str(r.policy)) as PolicyBody, etag: str(r.etag) })

const serviceValues = (s: ServiceRecord) => [
  s.upstream, s.description, flag(s.invokerIamDisabled), JSON.stringify(s.customAudiences), flag(s.strictAudience),
  s.timeoutSeconds, JSON.stringify(s.labels), s.createTime, s.updateTime, s.creator, s.lastModifier, s.etag, flag(s.browserAccess),
  flag(s.useHttp2),
]

export function resourceQueries(sql: Sql): ResourceQueries {
  return {
    async getProject(projectId) {
      const r = await sql.get(`SELECT * FROM projects WHERE project_id = ?`, [projectId])
      return r && project(r)
    },
    async listProjects() {
      return (await sql.all(`SELECT * FROM projects ORDER BY project_id`)).map(project)
    },
    async insertProject(p) {
      return (await sql.run(`INSERT INTO projects (project_id, uid, create_time) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, [p.projectId, p.uid, p.createTime])) === 1
    },
    async deleteProject(projectId) {
      return (await sql.run(`DELETE FROM projects WHERE project_id = ?`, [projectId])) === 1
    },

    async getService(projectId, serviceId) {
      const r = await sql.get(`SELECT * FROM services WHERE project_id = ? AND service_id = ?`, [projectId, serviceId])
      return r && service(r)
    },
    async listServices(projectId) {
      const rows = projectId === undefined
        ? await sql.all(`SELECT * FROM services ORDER BY project_id, service_id`)
        : await sql.all(`SELECT * FROM services WHERE project_id = ? ORDER BY service_id`, [projectId])
      return rows.map(service)
    },
    async insertService(s) {
      const changed = await sql.run(
        `INSERT INTO services (project_id, service_id, uid, upstream, description, invoker_iam_disabled, custom_audiences,
          strict_audience, timeout_seconds, labels, create_time, update_time, creator, last_modifier, etag, browser_access, use_http2)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [s.projectId, s.serviceId, s.uid, ...serviceValues(s)],
      )
      return changed === 1
    },
    async updateService(s, expectedEtag) {
      const changed = await sql.run(
        `UPDATE services SET upstream = ?, description = ?, invoker_iam_disabled = ?, custom_audiences = ?, strict_audience = ?,
          timeout_seconds = ?, labels = ?, create_time = ?, update_time = ?, creator = ?, last_modifier = ?, etag = ?, browser_access = ?, use_http2 = ?
         WHERE project_id = ? AND service_id = ? AND etag = ?`,
        [...serviceValues(s), s.projectId, s.serviceId, expectedEtag],
      )
      return changed === 1
    },
    async deleteService(projectId, serviceId) {
      return (await sql.run(`DELETE FROM services WHERE project_id = ? AND service_id = ?`, [projectId, serviceId])) === 1
    },

    async getPolicy(resource) {
      const r = await sql.get(`SELECT * FROM policies WHERE resource = ?`, [resource])
      return r && policy(r)
    },
    async listPolicies() {
      return (await sql.all(`SELECT * FROM policies`)).map(policy)
    },
    async putPolicy(resource, body, newEtag, expectedEtag) {
      const text = JSON.stringify(body)
      const changed = expectedEtag === EMPTY_ETAG
        ? await sql.run(`INSERT INTO policies (resource, policy, etag) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, [resource, text, newEtag])
        : await sql.run(`UPDATE policies SET policy = ?, etag = ? WHERE resource = ? AND etag = ?`, [text, newEtag, resource, expectedEtag])
      return changed === 1 ? { resource, policy: body, etag: newEtag } : undefined
    },
    async deletePolicy(resource) {
      await sql.run(`DELETE FROM policies WHERE resource = ?`, [resource])
    },
    async findPoliciesMentioning(member) {
      const pattern = '%' + likeLiteral(JSON.stringify(member)) + '%'
      return (await sql.all(`SELECT * FROM policies WHERE policy LIKE ? ESCAPE '\\'`, [pattern])).map(policy)
    },
  }
}
