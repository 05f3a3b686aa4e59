/**
 * The id an access-request command takes: the id (`k6a4e7bec2`) or, as gcloud takes a resource
 * wherever it takes its id, the full name `accessRequests/k6a4e7bec2` that `access-requests list
 * --format='value(name)'` prints. Anything else goes to the server as typed, to be judged there.
 */
export function accessRequestId(arg: string): string {
  return arg.startsWith('accessRequests/') ? arg.slice('accessRequests/'.length) : arg
}
