import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitStatements } from '../../src/router/split-statements.js';

function parts(sql: string, nbe = false): string[] {
  const b = Buffer.from(sql);
  return splitStatements(b, 0, b.length, nbe).map((r) => b.toString('utf8', r.start, r.end).trim());
}

test('splits at top-level semicolons only', () => {
  assert.deepEqual(parts('SELECT 1; SELECT 2'), ['SELECT 1', 'SELECT 2']);
  assert.deepEqual(parts("SELECT ';'; SELECT \"a;b\"; SELECT `c;d`"), ["SELECT ';'", 'SELECT "a;b"', 'SELECT `c;d`']);
  assert.deepEqual(parts('SELECT 1 /* ; */; SELECT 2 -- ;\n; SELECT 3 # ;\n'), ['SELECT 1 /* ; */', 'SELECT 2 -- ;', 'SELECT 3 # ;']);
  assert.deepEqual(parts("SELECT 'it''s;'; SELECT 'a\\';'"), ["SELECT 'it''s;'", "SELECT 'a\\';'"]);
  assert.deepEqual(parts('SELECT 1;;  ; '), ['SELECT 1']);
});

test('NO_BACKSLASH_ESCAPES: a backslash does not escape the quote', () => {
  assert.deepEqual(parts("SELECT 'a\\'; SELECT 2", true), ["SELECT 'a\\'", 'SELECT 2']);
  assert.deepEqual(parts("SELECT 'a\\'; SELECT 2", false), ["SELECT 'a\\'; SELECT 2"]);
});

test('executable comments are SQL: a semicolon inside /*! */ is not hidden by the comment rule', () => {
  assert.deepEqual(parts('/*!40101 SET @a=1*/; SELECT 2'), ['/*!40101 SET @a=1*/', 'SELECT 2']);
});
