// The statement check's parts: read what the store recorded (store/record.go),
// bind the sample values as clickhouse-go does, and run everything on chDB.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// readRecordings returns the records of every statements-*.jsonl in dir.
export function readRecordings(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (!/^statements-.*\.jsonl$/.test(name)) continue;
    const text = readFileSync(join(dir, name), 'utf8');
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        out.push(JSON.parse(line));
      } catch (e) {
        throw new Error(`${join(dir, name)}:${i + 1}: ${e.message}`);
      }
    });
  }
  return out;
}

// distinct keeps one record per (op, statement, schema step); of a batch's
// records it keeps one with a sample row when there is one.
export function distinct(records) {
  const byKey = new Map();
  for (const r of records) {
    const key = `${r.op}\u0000${r.sql}\u0000${r.schema ?? ''}`;
    const prev = byKey.get(key);
    if (!prev || (!prev.row && r.row)) byKey.set(key, r);
  }
  return [...byKey.values()];
}

const isDestructive = (sql) => /^(ALTER|TRUNCATE|DROP|RENAME|DETACH|OPTIMIZE)\b/i.test(sql);

// plan orders the records as they must run: the schema in migration order
// (each statement once), then the batch inserts (their sample rows give the
// queries something to read), then queries and INSERT … SELECT, and the
// statements that drop or change data last.
export function plan(records) {
  const rs = distinct(records);
  const schema = [];
  const seenSchema = new Set();
  for (const r of rs.filter((r) => r.schema).sort((a, b) => (a.schema < b.schema ? -1 : a.schema > b.schema ? 1 : 0))) {
    if (seenSchema.has(r.sql)) continue;
    seenSchema.add(r.sql);
    schema.push(r);
  }
  const rest = rs.filter((r) => !r.schema && !seenSchema.has(r.sql));
  const bySQL = (a, b) => (a.sql < b.sql ? -1 : a.sql > b.sql ? 1 : 0);
  const batches = rest.filter((r) => r.op === 'batch').sort(bySQL);
  const later = rest.filter((r) => r.op !== 'batch' && isDestructive(r.sql)).sort(bySQL);
  const queries = rest.filter((r) => r.op !== 'batch' && !isDestructive(r.sql)).sort(bySQL);
  return { schema, batches, queries, later };
}

const quoteString = (s) => "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0') + "'";

// literal renders a recorded value as the SQL literal clickhouse-go splices
// into the statement (the native protocol binds on the client).
export function literal(p) {
  switch (p.kind) {
    case 'null':
      return 'NULL';
    case 'string':
      return quoteString(p.value ?? '');
    case 'int':
    case 'uint':
      if (!/^-?\d+$/.test(p.value)) throw new Error(`bad ${p.kind} value ${JSON.stringify(p.value)}`);
      return p.value;
    case 'float':
      if (['nan', 'inf', '-inf'].includes(p.value)) return p.value;
      if (!/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(p.value)) throw new Error(`bad float value ${JSON.stringify(p.value)}`);
      return p.value;
    case 'bool':
      if (p.value !== '0' && p.value !== '1') throw new Error(`bad bool value ${JSON.stringify(p.value)}`);
      return p.value;
    case 'time':
      if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(p.value)) throw new Error(`bad time value ${JSON.stringify(p.value)}`);
      return `toDateTime('${p.value}', 'UTC')`;
    case 'set':
      return '(' + (p.items ?? []).map(literal).join(', ') + ')';
    case 'array':
      return '[' + (p.items ?? []).map(literal).join(', ') + ']';
    default:
      throw new Error(`parameter of unsupported type ${p.value ?? p.kind}: teach store/record.go and lib.mjs to render it`);
  }
}

const isNameChar = (c) => /[A-Za-z0-9_]/.test(c);
const isDigit = (c) => c >= '0' && c <= '9';

// bind replaces the placeholders of sql with the literals of params, by the
// rules of clickhouse-go's bind: all params named → @name, else $N when the
// statement has them, else ?. Placeholders inside string literals, quoted
// identifiers and comments are text.
export function bind(sql, params = []) {
  if (params.length === 0) return sql;
  const named = params.every((p) => p.name);
  if (!named && params.some((p) => p.name)) throw new Error('named and positional parameters mixed');
  const values = params.map(literal);
  const byName = new Map(params.map((p, i) => [p.name, values[i]]));
  let numeric = false;
  if (!named) {
    scan(sql, (i) => {
      if (sql[i] === '$' && isDigit(sql[i + 1] ?? '')) numeric = true;
      return i;
    });
  }
  let out = '';
  let last = 0;
  let next = 0;
  const missing = new Set();
  scan(sql, (i) => {
    if (named && sql[i] === '@' && isNameChar(sql[i + 1] ?? '')) {
      let j = i + 1;
      while (j < sql.length && isNameChar(sql[j])) j++;
      const name = sql.slice(i + 1, j);
      out += sql.slice(last, i) + (byName.get(name) ?? (missing.add('@' + name), ''));
      last = j;
      return j - 1;
    }
    if (!named && numeric && sql[i] === '$' && isDigit(sql[i + 1] ?? '')) {
      let j = i + 1;
      while (j < sql.length && isDigit(sql[j])) j++;
      const n = Number(sql.slice(i + 1, j));
      out += sql.slice(last, i) + (values[n - 1] ?? (missing.add('$' + n), ''));
      last = j;
      return j - 1;
    }
    if (!named && !numeric && sql[i] === '?' && sql[i - 1] !== '\\') {
      out += sql.slice(last, i) + (values[next] ?? (missing.add('?' + (next + 1)), ''));
      next++;
      last = i + 1;
    }
    return i;
  });
  if (missing.size > 0) throw new Error(`no value for ${[...missing].join(', ')}`);
  return out + sql.slice(last);
}

// scan calls visit(i) for each position outside literals, quoted identifiers
// and comments; visit returns the last position it consumed.
function scan(sql, visit) {
  let quote = '';
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (quote === '--') {
      if (c === '\n') quote = '';
      continue;
    }
    if (quote === '/*') {
      if (c === '*' && sql[i + 1] === '/') { quote = ''; i++; }
      continue;
    }
    if (quote) {
      if (c === '\\') { i++; continue; }
      if (c === quote) {
        if (sql[i + 1] === quote) { i++; continue; }
        quote = '';
      }
      continue;
    }
    if (c === "'" || c === '"' || c === '`') { quote = c; continue; }
    if (c === '#' || (c === '-' && sql[i + 1] === '-')) { quote = '--'; continue; }
    if (c === '/' && sql[i + 1] === '*') { quote = '/*'; i++; continue; }
    i = visit(i);
  }
}

// statementText is what runs on chDB for a record.
export function statementText(r) {
  if (r.op !== 'batch') return bind(r.sql, r.params);
  if (r.row) return `${r.sql} VALUES (${r.row.map(literal).join(', ')})`;
  // Without a sample row: the server still checks the table and columns.
  return `${r.sql} FORMAT JSONEachRow {}`;
}

// run executes the plan on session (a chDB Session) in a fresh database and
// returns { passed, failures: [{ record, sql, error }] }.
export function run(session, p, database = 'yardstick_chcheck') {
  const failures = [];
  let passed = 0;
  session.query(`DROP DATABASE IF EXISTS ${database}`);
  session.query(`CREATE DATABASE ${database}`);
  session.query(`USE ${database}`);
  for (const r of [...p.schema, ...p.batches, ...p.queries, ...p.later]) {
    let sql = '';
    const externals = r.external ?? [];
    try {
      sql = statementText(r);
      for (const e of externals) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name)) throw new Error(`external table name ${JSON.stringify(e.name)}`);
        session.query(`CREATE TABLE ${e.name} (${e.structure}) ENGINE = Memory`);
      }
      try {
        session.query(sql, 'Null');
      } finally {
        for (const e of externals) session.query(`DROP TABLE IF EXISTS ${e.name}`);
      }
      passed++;
    } catch (e) {
      failures.push({ record: r, sql: sql || r.sql, error: String(e.message ?? e) });
    }
  }
  return { passed, failures };
}
