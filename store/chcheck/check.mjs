// Runs the statements the store recorded during `go test` (store/record.go,
// YARDSTICK_RECORD_STATEMENTS) on current ClickHouse, in process through chDB:
// the schema first, then every batch insert, query and exec with its sample
// values bound as clickhouse-go binds them. Exits 1 when ClickHouse refuses
// any statement, printing the statement and the error.
//
//   node check.mjs DIR
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { plan, readRecordings, run } from './lib.mjs';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node check.mjs DIR (the folder YARDSTICK_RECORD_STATEMENTS named during go test)');
  process.exit(2);
}
const records = readRecordings(dir);
const p = plan(records);
const nQueries = p.queries.length + p.later.length;
if (p.schema.length === 0 || nQueries === 0 || p.batches.length === 0) {
  console.error(`chcheck: ${dir} holds ${p.schema.length} schema statements, ${p.batches.length} batch inserts and ${nQueries} queries: ` +
    `was ${'YARDSTICK_RECORD_STATEMENTS'} set for go test?`);
  process.exit(1);
}
const path = mkdtempSync(join(tmpdir(), 'yardstick-chcheck-'));
const session = new Session(path);
let result;
let version;
try {
  version = session.query('SELECT version()', 'TSV').trim();
  result = run(session, p);
} finally {
  session.close();
  rmSync(path, { recursive: true, force: true });
}
const counts = {};
for (const r of [...p.schema, ...p.batches, ...p.queries, ...p.later]) {
  const k = r.schema ? 'schema' : r.op;
  counts[k] = (counts[k] ?? 0) + 1;
}
for (const f of result.failures) {
  const r = f.record;
  console.log(`--- refused: ${r.op}${r.caller ? ' from ' + r.caller : ''}${r.schema ? ' (schema step ' + r.schema + ')' : ''}`);
  console.log(f.sql);
  console.log(`error: ${f.error}\n`);
}
console.log(`chcheck: ClickHouse ${version} (chDB) ran the statements recorded in ${dir}: ` +
  Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', '));
console.log(`chcheck: ${result.passed} passed, ${result.failures.length} failed`);
process.exit(result.failures.length > 0 ? 1 : 0);
