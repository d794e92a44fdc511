import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { digest, fnv1a64 } from '../../src/router/digest.js';
import type { LexOptions } from '../../src/router/lexer.js';

const DEF: LexOptions = { noBackslashEscapes: false, ansiQuotes: false };
const ANSI: LexOptions = { noBackslashEscapes: false, ansiQuotes: true };
const NBE: LexOptions = { noBackslashEscapes: true, ansiQuotes: false };

function d(sql: string, opts: LexOptions = DEF) {
  const b = Buffer.from(sql, 'utf8');
  return digest(b, 0, b.length, opts);
}

/** reference FNV-1a 64 with BigInt */
function refFnv(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

// prettier-ignore
const CASES: Array<[string, string, LexOptions?]> = [
  // sysbench OLTP
  ['SELECT c FROM sbtest1 WHERE id=5', 'SELECT c FROM sbtest1 WHERE id = ?'],
  ['select c from sbtest1 where id = 123', 'SELECT c FROM sbtest1 WHERE id = ?'],
  ['SELECT c FROM sbtest1 WHERE id=?', 'SELECT c FROM sbtest1 WHERE id = ?'],
  ['UPDATE sbtest1 SET k=k+1 WHERE id=5', 'UPDATE sbtest1 SET k = k + ? WHERE id = ?'],
  ["UPDATE sbtest1 SET c='abc' WHERE id=5", 'UPDATE sbtest1 SET c = ? WHERE id = ?'],
  ['DELETE FROM sbtest1 WHERE id=5', 'DELETE FROM sbtest1 WHERE id = ?'],
  ["INSERT INTO sbtest1 (id, k, c, pad) VALUES (0, 5019, '6848-9643', '2219-7011')", 'INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?)'],
  ['SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c', 'SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c'],
  ['SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 1 AND 100', 'SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN ? AND ?'],
  ['BEGIN', 'BEGIN'],
  ['commit;', 'COMMIT'],
  ['SELECT 1;', 'SELECT ?'],
  ['SELECT 1 ; ', 'SELECT ?'],
  // IN lists
  ['SELECT * FROM t WHERE id IN (1, 2, 3)', 'SELECT * FROM t WHERE id IN (...)'],
  ['SELECT * FROM t WHERE id IN (4)', 'SELECT * FROM t WHERE id IN (...)'],
  ['SELECT * FROM t WHERE id in(1,2)', 'SELECT * FROM t WHERE id IN (...)'],
  ["SELECT * FROM t WHERE s NOT IN ('a','b') AND x = 1", 'SELECT * FROM t WHERE s NOT IN (...) AND x = ?'],
  ['SELECT * FROM t WHERE id IN (?, ?, ?)', 'SELECT * FROM t WHERE id IN (...)'],
  ['SELECT * FROM t WHERE id IN (a, b)', 'SELECT * FROM t WHERE id IN (a, b)'],
  ['SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x IN (1,2))', 'SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x IN (...))'],
  ['SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))', 'SELECT * FROM t WHERE (a, b) IN ((?, ?), (?, ?))'],
  ['SELECT * FROM t WHERE id IN ()', 'SELECT * FROM t WHERE id IN ()'],
  // multi-row VALUES
  ['INSERT INTO t VALUES (1, 2)', 'INSERT INTO t VALUES (?, ?)'],
  ['INSERT INTO t VALUES (1, 2), (3, 4)', 'INSERT INTO t VALUES (?, ?), ...'],
  ["INSERT INTO t VALUES (1, 'a'),(2,'b'),(3, NULL)", 'INSERT INTO t VALUES (?, ?), ...'],
  ['INSERT INTO t VALUES (1, NOW()), (2, NOW())', 'INSERT INTO t VALUES (?, NOW()), (?, NOW())'],
  ['INSERT INTO t (a) VALUES (1),(2) ON DUPLICATE KEY UPDATE a = VALUES(a)', 'INSERT INTO t (a) VALUES (?), ... ON DUPLICATE KEY UPDATE a = VALUES (a)'],
  ['INSERT INTO t VALUES (1), (2) AS new ON DUPLICATE KEY UPDATE a = new.a', 'INSERT INTO t VALUES (?), ... AS new ON DUPLICATE KEY UPDATE a = new.a'],
  // comments
  ['/* c */ SELECT /*+ BKA(t) */ 1 -- x', 'SELECT ?'],
  ['# x\nSELECT 1', 'SELECT ?'],
  ['/* sluice:route=primary */ SELECT 1', 'SELECT ?'],
  ['/*!40101 SET NAMES utf8 */', 'SET NAMES utf8'],
  ['SELECT /*!50000 SQL_NO_CACHE */ a FROM t', 'SELECT SQL_NO_CACHE a FROM t'],
  // literals
  ["SELECT 'a', \"b\", 1.5e3, -2, x'41', 0x41, b'1', N'x', _utf8mb4'x', .5, TRUE, NULL", 'SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, NULL'],
  ['SELECT a-1, a - -1, (-1), 3 * -2.5', 'SELECT a - ?, a - ?, (?), ? * ?'],
  ['SELECT * FROM t LIMIT 10, 20', 'SELECT * FROM t LIMIT ?, ?'],
  ["SELECT 'it''s', 'a\\'b'", 'SELECT ?, ?'],
  ["SELECT 'a\\' , 'c'", 'SELECT ?, ?', NBE],
  ["SELECT 'a\\' , 'c'", 'SELECT ? c ?'],
  ['SELECT "a" FROM t', 'SELECT a FROM t', ANSI],
  ['SELECT "a" FROM t', 'SELECT ? FROM t'],
  ['SELECT "my col", "x""y" FROM t', 'SELECT `my col`, `x"y` FROM t', ANSI],
  // identifiers, spacing, case
  ['SELECT\n\t a ,b\nFROM  t', 'SELECT a, b FROM t'],
  ['SELECT `c` FROM `sbtest1`', 'SELECT c FROM sbtest1'],
  ['SELECT `my col`, `select`, `123`, `a``b` FROM t', 'SELECT `my col`, `select`, `123`, `a``b` FROM t'],
  ['SELECT COUNT(*), now() FROM t', 'SELECT COUNT(*), NOW() FROM t'],
  ['SELECT count( * ) FROM t', 'SELECT COUNT(*) FROM t'],
  ['SELECT t.c, t.* FROM db.t JOIN information_schema.tables x ON x.table_name = t.c', 'SELECT t.c, t.* FROM db.t JOIN information_schema.tables x ON x.table_name = t.c'],
  ['SELECT a<=>b, a!=b, a<>b, a>=1, a<=2, c->>\'$.x\', c->\'$.y\', a||b, a&&b, 1<<2', 'SELECT a <=> b, a != b, a <> b, a >= ?, a <= ?, c ->> ?, c -> ?, a || b, a && b, ? << ?'],
  ['SELECT @x, @@session.sql_mode', 'SELECT @x, @@session.sql_mode'],
  ['SET @a := 1', 'SET @a := ?'],
  ["GRANT ALL ON *.* TO 'u'@'localhost'", "GRANT ALL ON *.* TO ?@'localhost'"],
  ['SELECT 1; SELECT 2', 'SELECT ?; SELECT ?'],
  ['SELECT café FROM t WHERE x = \'é\'', 'SELECT café FROM t WHERE x = ?'],
  ["SELECT 'a' 'b', 'c'", 'SELECT ?, ?'],
  ['SELECT IF(a, 1, 2), LEFT(s, 3), DATABASE(), USER(), CHAR(65), REPLACE(s, 1, 2) FROM t', 'SELECT IF(a, ?, ?), LEFT(s, ?), DATABASE(), USER(), CHAR(?), REPLACE(s, ?, ?) FROM t'],
  ['SELECT * FROM t WHERE EXISTS(SELECT 1) AND a IN(SELECT b FROM u)', 'SELECT * FROM t WHERE EXISTS (SELECT ?) AND a IN (SELECT b FROM u)'],
  ['INSERT INTO t(a, b) VALUES(1, 2)', 'INSERT INTO t(a, b) VALUES (?, ?)'],
  ['', ''],
  ['/* nothing */', ''],
];

describe('digest', () => {
  for (const [sql, text, opts] of CASES) {
    it(`${JSON.stringify(sql)}${opts === ANSI ? ' [ANSI_QUOTES]' : opts === NBE ? ' [NO_BACKSLASH_ESCAPES]' : ''}`, () => {
      const r = d(sql, opts);
      assert.equal(r.text, text);
      assert.equal(r.hash, refFnv(Buffer.from(text, 'utf8')));
    });
  }

  it('FNV-1a 64 test vectors', () => {
    assert.equal(fnv1a64(Buffer.from(''), 0, -1), 0xcbf29ce484222325n);
    assert.equal(fnv1a64(Buffer.from('a'), 0, -1), 0xaf63dc4c8601ec8cn);
    assert.equal(fnv1a64(Buffer.from('foobar'), 0, -1), 0x85944171f73967e8n);
    const rnd = Buffer.alloc(1000);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 7919) & 0xff;
    assert.equal(fnv1a64(rnd, 0, -1), refFnv(rnd));
  });

  it('same shape → same hash, different shape → different hash', () => {
    assert.equal(d('SELECT c FROM sbtest1 WHERE id=1').hash, d('select c  from sbtest1 where id = 99999').hash);
    assert.equal(d('INSERT INTO t VALUES (1,2),(3,4)').hash, d('INSERT INTO t VALUES (5,6),(7,8),(9,10)').hash);
    assert.equal(d('SELECT * FROM t WHERE a IN (1)').hash, d('SELECT * FROM t WHERE a IN (1,2,3,4,5)').hash);
    assert.notEqual(d('SELECT c FROM sbtest1 WHERE id=1').hash, d('SELECT k FROM sbtest1 WHERE id=1').hash);
    assert.notEqual(d('INSERT INTO t VALUES (1)').hash, d('INSERT INTO t VALUES (1),(2)').hash);
  });

  it('honours start/end', () => {
    const sql = 'SELECT c FROM sbtest1 WHERE id=5';
    const b = Buffer.concat([Buffer.from([1, 2, 3, 3]), Buffer.from(sql), Buffer.from(" AND x = 'y'")]);
    assert.equal(digest(b, 4, 4 + sql.length, DEF).text, 'SELECT c FROM sbtest1 WHERE id = ?');
  });

  it('handles non-UTF-8 bytes (hash is over the UTF-8 text)', () => {
    const b = Buffer.from([0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0xe9, 0x20, 0x46, 0x52, 0x4f, 0x4d, 0x20, 0x74]);
    const r = digest(b, 0, b.length, DEF);
    assert.equal(r.text, 'SELECT \ufffd FROM t');
    assert.equal(r.hash, refFnv(Buffer.from(r.text, 'utf8')));
  });

  it('grows its output buffer for long statements', () => {
    const cols = Array.from({ length: 3000 }, (_, i) => `column_${i}`).join(', ');
    const r = d(`SELECT ${cols} FROM t`);
    assert.equal(r.text, `SELECT ${cols} FROM t`);
    const qid = Array.from({ length: 500 }, () => '`a``b`').join(', ');
    assert.equal(d(`SELECT ${qid}`).text, `SELECT ${qid}`);
  });
});
