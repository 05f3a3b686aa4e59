/**
 * The one OAuth client Postern knows besides service accounts: the CLI, a native public client
 * (RFC 8252). Its id is also the audience of the default ID token, which every service accepts
 * unless its audience is strict (DESIGN §3).
 */
export const CLI_CLIENT_ID = 'postern-cli'
