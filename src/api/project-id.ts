/**
 * The one rule for project ids (DESIGN §1) and the one way to say it, shared by the API and the
 * CLI (which checks `config set project` even when no server can be asked).
 */
export const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/

export const PROJECT_ID_RULE = '6–30 characters, lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen'
