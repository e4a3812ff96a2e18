// Tests of the statement check: binding as clickhouse-go binds, and that
// current ClickHouse (chDB) refuses what it must refuse.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Session } from 'chdb';
import { bind, literal, plan, run, statementText } from './lib.mjs';

test('literal quotes strings as clickhouse-go does', () => {
  assert.equal(literal({ kind: 'string', value: "it's a \\ test\u0000" }), "'it\\'s a \\\\ test\\0'");
  assert.equal(literal({ kind: 'time', value: '2024-03-04 05:06:07' }), "toDateTime('2024-03-04 05:06:07', 'UTC')");
  assert.equal(literal({ kind: 'set', items: [{ kind: 'string', value: 'a' }, { kind: 'uint', value: '2' }] }), "('a', 2)");
  assert.equal(literal({ kind: 'array', items: [] }), '[]');
  assert.throws(() => literal({ kind: 'uint', value: '1; DROP TABLE events' }), /bad uint/);
  assert.throws(() => literal({ kind: 'unsupported', value: 'chan int' }), /unsupported type chan int/);
});

test('bind replaces placeholders outside quotes and comments only', () => {
  const s = { kind: 'string', value: 'x' };
  assert.equal(bind("SELECT '?', `?`, ? -- ?\n, ?", [s, { kind: 'int', value: '-1' }]), "SELECT '?', `?`, 'x' -- ?\n, -1");
  assert.equal(bind("SELECT @a, '@a', @ab, @a", [{ ...s, name: 'a' }, { kind: 'uint', value: '7', name: 'ab' }]), "SELECT 'x', '@a', 7, 'x'");
  assert.equal(bind('SELECT $2, $1', [s, { kind: 'uint', value: '7' }]), "SELECT 7, 'x'");
  assert.equal(bind("SELECT 'it\\'s ?', ?", [s]), "SELECT 'it\\'s ?', 'x'");
  assert.throws(() => bind('SELECT @a, @b', [{ ...s, name: 'a' }]), /no value for @b/);
  assert.throws(() => bind('SELECT ?, ?', [s]), /no value for \?2/);
});

test('plan runs the schema in migration order, then inserts, queries, and drops last', () => {
  const p = plan([
    { op: 'exec', sql: 'ALTER TABLE t DROP PARTITION 1' },
    { op: 'query', sql: 'SELECT 1' },
    { op: 'exec', sql: 'CREATE TABLE b', schema: '0000000002/0001' },
    { op: 'exec', sql: 'CREATE TABLE a', schema: '0000000001/0001' },
    { op: 'exec', sql: 'CREATE TABLE a', schema: '0000000001/0001' },
    { op: 'batch', sql: 'INSERT INTO a (x)' },
    { op: 'batch', sql: 'INSERT INTO a (x)', row: [{ kind: 'uint', value: '1' }] },
  ]);
  assert.deepEqual(p.schema.map((r) => r.sql), ['CREATE TABLE a', 'CREATE TABLE b']);
  assert.deepEqual(p.batches.map(statementText), ['INSERT INTO a (x) VALUES (1)']);
  assert.deepEqual(p.queries.map((r) => r.sql), ['SELECT 1']);
  assert.deepEqual(p.later.map((r) => r.sql), ['ALTER TABLE t DROP PARTITION 1']);
});

describe('on chDB', () => {
  let session, path;
  before(() => {
    path = mkdtempSync(join(tmpdir(), 'chcheck-test-'));
    session = new Session(path);
  });
  after(() => {
    session.close();
    rmSync(path, { recursive: true, force: true });
  });

  const schema = [
    { op: 'exec', sql: 'CREATE TABLE IF NOT EXISTS t (scope String, k String, n UInt64) ENGINE = MergeTree ORDER BY scope', schema: '0000000001/0001' },
  ];
  const row = [{ kind: 'string', value: 'github:o/r' }, { kind: 'string', value: "it's" }, { kind: 'uint', value: '3' }];
  const join2 = (alias) => `SELECT scope, k FROM (SELECT scope, n FROM t)${alias ? ' AS a' : ''} ALL INNER JOIN (SELECT scope, k FROM t WHERE k != @k)${alias ? ' AS b' : ''} USING scope`;

  test('an unaliased joined subquery fails the check (ALIAS_REQUIRED), the aliased one passes', () => {
    const records = [
      ...schema,
      { op: 'batch', sql: 'INSERT INTO t (scope, k, n)', row },
      { op: 'query', sql: join2(false), params: [{ name: 'k', kind: 'string', value: 'x' }], caller: '(*DB).Bad' },
      { op: 'query', sql: join2(true), params: [{ name: 'k', kind: 'string', value: 'x' }], caller: '(*DB).Good' },
    ];
    const res = run(session, plan(records));
    assert.equal(res.passed, 3);
    assert.equal(res.failures.length, 1);
    assert.equal(res.failures[0].record.caller, '(*DB).Bad');
    assert.match(res.failures[0].error, /ALIAS_REQUIRED/);
    assert.match(res.failures[0].sql, /k != 'x'/);
  });

  test('external tables exist for their statement only', () => {
    const records = [
      ...schema,
      { op: 'query', sql: 'SELECT count() FROM t WHERE scope IN (SELECT scope FROM metric_keys)', external: [{ name: 'metric_keys', structure: 'scope String, k String' }] },
      { op: 'query', sql: 'SELECT count() FROM t WHERE scope IN (SELECT scope FROM other_keys)' },
    ];
    const res = run(session, plan(records));
    assert.equal(res.passed, 2);
    assert.equal(res.failures.length, 1);
    assert.match(res.failures[0].error, /other_keys/);
  });

  test('a batch whose columns the table lacks fails', () => {
    const res = run(session, plan([...schema, { op: 'batch', sql: 'INSERT INTO t (scope, nosuch)' }]));
    assert.equal(res.failures.length, 1);
    assert.match(res.failures[0].error, /nosuch/);
  });
});
