/**
 * What turns a database of the latest schema into one as schema version 10 left it (before the
 * installation id): each migration since 10 undone. A migration that adds to the schema adds its
 * undoing here, so the tests of older backups go on testing version 10.
 */
export const TO_SCHEMA_VERSION_10 = [
  'DROP TABLE installation', // 11
  'ALTER TABLE device_codes DROP COLUMN request_time', // 12
  'ALTER TABLE device_codes DROP COLUMN request_address', // 12
  'ALTER TABLE device_codes DROP COLUMN login_hint', // 13
  'ALTER TABLE service_accounts DROP COLUMN description', // 14
  'DELETE FROM schema_migrations WHERE version >= 11',
]
