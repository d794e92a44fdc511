import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  lexStatement,
  StatementFlag,
  StatementKind as K,
  type LexOptions,
  type StatementInfo,
} from '../../src/router/lexer.js';
import { digest } from '../../src/router/digest.js';

const KIND_NAMES = [
  'Unknown', 'Select', 'Insert', 'Update', 'Delete', 'Replace', 'Set', 'Show', 'Use', 'Begin', 'Commit',
  'Rollback', 'Savepoint', 'Release', 'Lock', 'Unlock', 'Create', 'Drop', 'Alter', 'Truncate', 'Rename', 'Kill',
  'Prepare', 'Execute', 'Deallocate', 'Call', 'Do', 'Load', 'Handler', 'Flush', 'Grant', 'Revoke', 'Analyze',
  'Optimize', 'Check', 'Explain', 'Help', 'With', 'Values', 'Table', 'Xa', 'Sluice', 'Other',
];

type FlagName = keyof typeof StatementFlag;

interface Extra {
  nbe?: boolean;
  ansi?: boolean;
  hint?: string;
  vars?: string[];
  kill?: { id: number; query: boolean; queryId: boolean };
  use?: string;
}

/** [sql, kind, flags ('A|B'), extra] */
type Row = [string, K, string, Extra?];

const DEFAULT_OPTS: LexOptions = { noBackslashEscapes: false, ansiQuotes: false };

function optsOf(x?: Extra): LexOptions {
  return { noBackslashEscapes: x?.nbe === true, ansiQuotes: x?.ansi === true };
}

function lex(sql: string, opts: LexOptions = DEFAULT_OPTS): StatementInfo {
  const b = Buffer.from(sql, 'utf8');
  return lexStatement(b, 0, b.length, opts);
}

function flagNames(f: number): string {
  return (Object.keys(StatementFlag) as FlagName[])
    .filter((k) => (f & StatementFlag[k]) !== 0)
    .join('|');
}

function flagsOf(s: string): number {
  let f = 0;
  for (const name of s.split('|')) {
    if (!name) continue;
    const v = StatementFlag[name as FlagName];
    if (v === undefined) throw new Error(`unknown flag ${name}`);
    f |= v;
  }
  return f;
}

const X60 = 'x'.repeat(60);
const KILL = (id: number, query = false, queryId = false) => ({ id, query, queryId });

// prettier-ignore
const TABLE: Row[] = [
  // ---- OLTP / basic kinds
  ['SELECT c FROM sbtest1 WHERE id=5', K.Select, ''],
  ['select c from sbtest1 where id=?', K.Select, ''],
  ['SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c', K.Select, ''],
  ['SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 1 AND 100', K.Select, ''],
  ['SELECT a FROM t ORDER BY a DESC', K.Select, ''],
  ["INSERT INTO sbtest1 (id, k, c, pad) VALUES (0, 5019, '68487932199-96439406143', '22195207048-70116052123')", K.Insert, ''],
  ['insert ignore into t set a=1', K.Insert, ''],
  ['UPDATE sbtest1 SET k=k+1 WHERE id=5', K.Update, ''],
  ["UPDATE sbtest1 SET c='x' WHERE id=5", K.Update, ''],
  ['DELETE FROM sbtest1 WHERE id=5', K.Delete, ''],
  ['REPLACE INTO t VALUES (1)', K.Replace, ''],
  ['REPLACE INTO t SELECT 1', K.Replace, ''],
  ['SET autocommit=1', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE'],
  ['SHOW TABLES', K.Show, ''],
  ['show full processlist', K.Show, ''],
  ['SHOW VARIABLES LIKE "autocommit"', K.Show, ''],
  ['USE db', K.Use, 'DB_CHANGE', { use: 'db' }],
  ['BEGIN', K.Begin, ''],
  ['begin work', K.Begin, ''],
  ['START TRANSACTION', K.Begin, ''],
  ['start transaction with consistent snapshot', K.Begin, ''],
  ['START TRANSACTION READ ONLY', K.Begin, 'READ_ONLY_TRANSACTION'],
  ['START TRANSACTION READ WRITE', K.Begin, ''],
  ['START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY', K.Begin, 'READ_ONLY_TRANSACTION'],
  ['COMMIT', K.Commit, ''],
  ['COMMIT WORK AND NO CHAIN', K.Commit, ''],
  ['commit;', K.Commit, ''],
  ['ROLLBACK', K.Rollback, ''],
  ['ROLLBACK WORK', K.Rollback, ''],
  ['ROLLBACK TO SAVEPOINT s1', K.Savepoint, ''],
  ['ROLLBACK WORK TO s1', K.Savepoint, ''],
  ['SAVEPOINT s1', K.Savepoint, ''],
  ['RELEASE SAVEPOINT s1', K.Release, ''],
  ['LOCK TABLES t READ', K.Lock, 'LOCK_TABLES'],
  ['LOCK TABLE t WRITE, u READ LOCAL', K.Lock, 'LOCK_TABLES'],
  ['lock tables `t` write', K.Lock, 'LOCK_TABLES'],
  ['LOCK INSTANCE FOR BACKUP', K.Lock, ''],
  ['UNLOCK TABLES', K.Unlock, 'UNLOCK_TABLES'],
  ['UNLOCK TABLE', K.Unlock, 'UNLOCK_TABLES'],
  ['UNLOCK INSTANCE', K.Unlock, ''],
  ['CREATE TABLE t (id INT PRIMARY KEY)', K.Create, ''],
  ['CREATE TEMPORARY TABLE tmp (id INT)', K.Create, 'TEMPORARY'],
  ['CREATE OR REPLACE TEMPORARY TABLE tmp AS SELECT 1', K.Create, 'TEMPORARY'],
  ['create temporary table if not exists tmp like t', K.Create, 'TEMPORARY'],
  ['CREATE TEMPORARY SEQUENCE s', K.Create, 'TEMPORARY'],
  ['CREATE INDEX i ON t (a)', K.Create, ''],
  ['CREATE UNIQUE INDEX i ON t (a)', K.Create, ''],
  ['CREATE DATABASE d', K.Create, ''],
  ['CREATE VIEW v AS SELECT * FROM t', K.Create, ''],
  ['CREATE DEFINER=`root`@`localhost` SQL SECURITY INVOKER VIEW v AS SELECT 1', K.Create, ''],
  ["CREATE PROCEDURE p() BEGIN SELECT GET_LOCK('a', 1); SELECT 2; END", K.Create, ''],
  ["CREATE DEFINER = 'u'@'%' PROCEDURE p() SELECT 1 FOR UPDATE", K.Create, ''],
  ['CREATE FUNCTION f() RETURNS INT RETURN LAST_INSERT_ID()', K.Create, ''],
  ['CREATE OR REPLACE AGGREGATE FUNCTION f(x INT) RETURNS INT BEGIN RETURN 1; END', K.Create, ''],
  ['CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW SET NEW.a = @x', K.Create, ''],
  ['CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO DELETE FROM t', K.Create, ''],
  ['CREATE OR REPLACE PACKAGE pk AS FUNCTION f RETURN INT; END', K.Create, ''],
  ['CREATE SEQUENCE s START WITH 1', K.Create, ''],
  ["CREATE USER 'bob'@'%' IDENTIFIED BY 'pw'", K.Create, ''],
  ['CREATE USER u@localhost', K.Create, ''],
  ['CREATE TABLE t2 AS SELECT LAST_INSERT_ID()', K.Create, 'LAST_INSERT_ID'],
  ['DROP TABLE t', K.Drop, ''],
  ['DROP TEMPORARY TABLE IF EXISTS tmp', K.Drop, 'TEMPORARY'],
  ['drop temporary table tmp', K.Drop, 'TEMPORARY'],
  ['DROP PREPARE stmt1', K.Deallocate, ''],
  ['DROP DATABASE IF EXISTS d', K.Drop, ''],
  ['ALTER TABLE t ADD COLUMN c INT', K.Alter, ''],
  ['TRUNCATE TABLE t', K.Truncate, ''],
  ['TRUNCATE t', K.Truncate, ''],
  ['RENAME TABLE a TO b', K.Rename, ''],
  ['PREPARE s FROM \'SELECT ? FOR UPDATE\'', K.Prepare, ''],
  ['PREPARE s FROM @sql', K.Prepare, 'USER_VAR_READ'],
  ['EXECUTE s USING @a, @b', K.Execute, 'USER_VAR_READ'],
  ["EXECUTE IMMEDIATE 'SELECT 1'", K.Execute, ''],
  ['DEALLOCATE PREPARE s', K.Deallocate, ''],
  ['CALL p(1, @out)', K.Call, 'USER_VAR_READ'],
  ['CALL db.p()', K.Call, ''],
  ["DO GET_LOCK('x', 0)", K.Do, 'GET_LOCK'],
  ["DO RELEASE_LOCK('x')", K.Do, 'RELEASE_LOCK'],
  ["LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t", K.Load, ''],
  ["LOAD XML INFILE 'x.xml' INTO TABLE t", K.Load, ''],
  ['LOAD INDEX INTO CACHE t', K.Other, ''],
  ['HANDLER t OPEN', K.Handler, ''],
  ['HANDLER t READ FIRST', K.Handler, ''],
  ['FLUSH TABLES', K.Flush, ''],
  ['FLUSH TABLES WITH READ LOCK', K.Flush, 'FLUSH_READ_LOCK'],
  ['FLUSH TABLES t1, t2 WITH READ LOCK', K.Flush, 'FLUSH_READ_LOCK'],
  ['flush local tables with read lock', K.Flush, 'FLUSH_READ_LOCK'],
  ['FLUSH TABLES t FOR EXPORT', K.Flush, 'FLUSH_READ_LOCK'],
  ['FLUSH PRIVILEGES', K.Flush, ''],
  ["GRANT SELECT ON db.* TO 'u'@'h'", K.Grant, ''],
  ["GRANT ALL ON *.* TO 'u'@'localhost' WITH GRANT OPTION", K.Grant, ''],
  ["REVOKE ALL ON *.* FROM 'u'@'h'", K.Revoke, ''],
  ['ANALYZE TABLE t', K.Analyze, ''],
  ['OPTIMIZE TABLE t', K.Optimize, ''],
  ['CHECK TABLE t', K.Check, ''],
  ['EXPLAIN SELECT * FROM t', K.Explain, ''],
  ['DESCRIBE t', K.Explain, ''],
  ['DESC t', K.Explain, ''],
  ['explain format=json select 1', K.Explain, ''],
  ["HELP 'contents'", K.Help, ''],
  ['VALUES ROW(1, 2), ROW(3, 4)', K.Values, ''],
  ['VALUES (1, 2)', K.Values, ''],
  ['TABLE t', K.Table, ''],
  ['TABLE t ORDER BY a LIMIT 1', K.Table, ''],
  ["XA START 'x'", K.Xa, ''],
  ["XA COMMIT 'x'", K.Xa, ''],
  ['XA RECOVER', K.Xa, ''],
  ['SLUICE SHOW POOLS', K.Sluice, ''],
  ['sluice reload', K.Sluice, ''],
  ['RESET QUERY CACHE', K.Other, ''],
  ["PURGE BINARY LOGS TO 'x'", K.Other, ''],
  ['START SLAVE', K.Other, ''],
  ['STOP REPLICA', K.Other, ''],
  ["CHANGE MASTER TO MASTER_HOST='h'", K.Other, ''],
  ['SHUTDOWN', K.Other, ''],
  ['CHECKSUM TABLE t', K.Other, ''],
  ['BEGIN NOT ATOMIC SELECT 1; SELECT 2; END', K.Other, ''],
  ['IF 1 THEN SELECT 1; SELECT 2; END IF', K.Other, ''],
  ['frobnicate the database', K.Other, ''],

  // ---- nothing / not a statement
  ['', K.Unknown, ''],
  ['   \n\t ', K.Unknown, ''],
  ['/* only a comment */', K.Unknown, ''],
  ['-- just this', K.Unknown, ''],
  ['# hash comment', K.Unknown, ''],
  [';', K.Unknown, ''],
  ['123', K.Unknown, ''],
  ["'string'", K.Unknown, ''],
  ['--1', K.Unknown, ''],
  ['(1)', K.Unknown, ''],
  ['/* unterminated SELECT 1', K.Unknown, ''],

  // ---- parentheses, WITH
  ['(SELECT 1) UNION (SELECT 2)', K.Select, ''],
  ['((SELECT 1))', K.Select, ''],
  ['( select a from t for update )', K.Select, 'FOR_UPDATE'],
  ['(VALUES (1))', K.Values, ''],
  ['(TABLE t)', K.Table, ''],
  ['(SELECT a FROM t) INTO @x', K.Select, 'INTO|USER_VAR_WRITE', { vars: ['x'] }],
  ['WITH c AS (SELECT 1) SELECT * FROM c', K.Select, ''],
  ['WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n<5) SELECT * FROM c', K.Select, ''],
  ['WITH a AS (SELECT 1), b AS (SELECT 2) SELECT * FROM a, b', K.Select, ''],
  ['with a (x, y) as (select 1, 2) select x from a', K.Select, ''],
  ['WITH c AS (SELECT id FROM t) UPDATE t SET x=1 WHERE id IN (SELECT id FROM c)', K.Update, ''],
  ['WITH c AS (SELECT id FROM t) DELETE FROM t WHERE id IN (SELECT id FROM c)', K.Delete, ''],
  ['WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c', K.Insert, ''],
  ['WITH c AS (SELECT 1) (SELECT * FROM c)', K.Select, ''],
  ['WITH c AS (SELECT 1)', K.With, ''],
  ['WITH c AS (SELECT 1) SELECT * FROM c FOR UPDATE', K.Select, 'FOR_UPDATE'],
  ['WITH c AS (SELECT 1) SELECT a INTO @x FROM c', K.Select, 'INTO|USER_VAR_WRITE', { vars: ['x'] }],
  ["WITH c AS (SELECT GET_LOCK('a', 1)) SELECT * FROM c", K.Select, 'GET_LOCK'],
  ['/* x */ WITH c AS (SELECT 1) UPDATE t SET a = 1', K.Update, ''],

  // ---- leading comments / whitespace
  ['/* hello */ SELECT 1', K.Select, ''],
  ['-- comment\nSELECT 1', K.Select, ''],
  ['# comment\nSELECT 1', K.Select, ''],
  ['--\tcomment\nUPDATE t SET a=1', K.Update, ''],
  ['--\nDELETE FROM t', K.Delete, ''],
  ['/* a */ /* b */ -- c\n # d\n DELETE FROM t', K.Delete, ''],
  ['\n\t  SELECT 1', K.Select, ''],
  ['\r\n\f\vSELECT 1', K.Select, ''],
  ['/*+ MAX_EXECUTION_TIME(1000) */ SELECT 1', K.Select, ''],
  ['SELECT /*+ BKA(t) */ * FROM t', K.Select, ''],
  ['/**/SELECT 1', K.Select, ''],
  ['/* multi\nline\ncomment */\nINSERT INTO t VALUES (1)', K.Insert, ''],

  // ---- sluice hints
  ['/* sluice:route=primary */ SELECT 1', K.Select, 'HAS_HINT', { hint: 'route=primary' }],
  ['-- sluice:route=replica\nSELECT 1', K.Select, 'HAS_HINT', { hint: 'route=replica' }],
  ['# sluice:pin\nSELECT 1', K.Select, 'HAS_HINT', { hint: 'pin' }],
  ['SELECT 1 /* sluice:route=primary */', K.Select, 'HAS_HINT', { hint: 'route=primary' }],
  ['/*sluice:x=1*/SELECT 1', K.Select, 'HAS_HINT', { hint: 'x=1' }],
  ['/* SLUICE: route=primary */ SELECT 1', K.Select, 'HAS_HINT', { hint: 'route=primary' }],
  ['/* app=foo */ /* sluice:route=primary */ SELECT 1', K.Select, 'HAS_HINT', { hint: 'route=primary' }],
  ['/* sluice:a */ /* sluice:b */ SELECT 1', K.Select, 'HAS_HINT', { hint: 'a' }],
  ['/* not sluice:x */ SELECT 1', K.Select, ''],
  ["SELECT '/* sluice:x */'", K.Select, ''],
  ['/* sluice: */ SELECT 1', K.Select, 'HAS_HINT', { hint: '' }],
  ['/* sluice:route=primary */ UPDATE t SET a = 1 WHERE id = 1 FOR UPDATE', K.Update, 'HAS_HINT|FOR_UPDATE', { hint: 'route=primary' }],
  ['/* sluice:ß=ü */ SELECT 1', K.Select, 'HAS_HINT', { hint: 'ß=ü' }],
  ['-- sluice:x\r\nSELECT 1', K.Select, 'HAS_HINT', { hint: 'x' }],

  // ---- executable comments
  ['/*!40101 SET NAMES utf8 */', K.Set, 'SESSION_SYSVAR_WRITE|EXECUTABLE_COMMENT'],
  ["/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */", K.Set, 'USER_VAR_WRITE|SESSION_SYSVAR_WRITE|EXECUTABLE_COMMENT', { vars: ['old_sql_mode'] }],
  ['/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;', K.Set, 'USER_VAR_WRITE|SESSION_SYSVAR_WRITE|EXECUTABLE_COMMENT', { vars: ['old_unique_checks'] }],
  ['/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */', K.Set, 'USER_VAR_READ|SESSION_SYSVAR_WRITE|EXECUTABLE_COMMENT'],
  ['/*M!100100 SELECT 1 */', K.Select, 'EXECUTABLE_COMMENT'],
  ['/*M!999999 LOCK TABLES t READ */', K.Lock, 'LOCK_TABLES|EXECUTABLE_COMMENT'],
  ['SELECT /*! SQL_CALC_FOUND_ROWS */ * FROM t', K.Select, 'SQL_CALC_FOUND_ROWS|EXECUTABLE_COMMENT'],
  ['SELECT * FROM t /*!50000 FOR UPDATE */', K.Select, 'FOR_UPDATE|EXECUTABLE_COMMENT'],
  ['/*!*/ SELECT 1', K.Select, 'EXECUTABLE_COMMENT'],
  ['/*!50003 CREATE*/ /*!50020 DEFINER=`root`@`localhost`*/ /*!50003 PROCEDURE p() BEGIN SELECT 1; END */', K.Create, 'EXECUTABLE_COMMENT'],
  ['SELECT 1 /*!, 2 */', K.Select, 'EXECUTABLE_COMMENT'],
  ["/*!50001 SELECT '*/ FOR UPDATE' */", K.Select, 'EXECUTABLE_COMMENT'],
  ['/*!40101 SET character_set_client = utf8mb4 */;', K.Set, 'SESSION_SYSVAR_WRITE|EXECUTABLE_COMMENT'],
  ['/*!40000 ALTER TABLE `t` DISABLE KEYS */;', K.Alter, 'EXECUTABLE_COMMENT'],

  // ---- strings, identifiers, comments never set flags
  ["SELECT 'FOR UPDATE'", K.Select, ''],
  ['SELECT "FOR UPDATE"', K.Select, ''],
  ['SELECT `get_lock` FROM t', K.Select, ''],
  ["SELECT `get_lock`('a', 1)", K.Select, ''],
  ['SELECT 1 -- FOR UPDATE', K.Select, ''],
  ['SELECT 1 # FOR UPDATE', K.Select, ''],
  ['SELECT 1 /* FOR UPDATE */', K.Select, ''],
  ["SELECT 'it''s FOR UPDATE'", K.Select, ''],
  ["SELECT 'a\\' FOR UPDATE", K.Select, ''],
  ["SELECT 'a\\' FOR UPDATE", K.Select, 'FOR_UPDATE', { nbe: true }],
  ['SELECT "a\\" FOR UPDATE"', K.Select, ''],
  ['SELECT "a\\" FOR UPDATE"', K.Select, 'FOR_UPDATE', { nbe: true }],
  ["SELECT 'it\\'s' FOR UPDATE", K.Select, 'FOR_UPDATE'],
  ["SELECT 'it\\'s' FOR UPDATE", K.Select, '', { nbe: true }],
  ["SELECT '\\\\' FOR UPDATE", K.Select, 'FOR_UPDATE'],
  ["SELECT '\\\\' FOR UPDATE", K.Select, 'FOR_UPDATE', { nbe: true }],
  ["SELECT 'a\\' , GET_LOCK('x', 1) -- '", K.Select, 'GET_LOCK', { nbe: true }],
  ["SELECT 'a\\' , GET_LOCK('x', 1) -- '", K.Select, ''],
  ['SELECT "x" FROM t FOR UPDATE', K.Select, 'FOR_UPDATE', { ansi: true }],
  ['SELECT "FOR UPDATE"', K.Select, '', { ansi: true }],
  ['SELECT "get_lock"(\'a\', 1)', K.Select, '', { ansi: true }],
  ['SELECT GET_LOCK("a", 1)', K.Select, 'GET_LOCK'],
  ['SELECT "a\\" FROM t FOR UPDATE', K.Select, 'FOR_UPDATE', { ansi: true }],
  ['SELECT "a""b" FROM t FOR UPDATE', K.Select, 'FOR_UPDATE'],
  ['SELECT "a""b" FROM t FOR UPDATE', K.Select, 'FOR_UPDATE', { ansi: true }],
  ["SELECT 'a' \"FOR UPDATE\" FROM t", K.Select, ''],
  ["SELECT 'a' \"FOR\" UPDATE", K.Select, '', { ansi: true }],
  ['SELECT `a``b` FROM t FOR SHARE', K.Select, 'FOR_SHARE'],
  ['SELECT `a\\` FROM t FOR SHARE', K.Select, 'FOR_SHARE'],
  ['SELECT * FROM `FOR` `UPDATE`', K.Select, ''],
  ["SELECT x'4142', b'01', 0x41, N'abc', _utf8mb4'FOR UPDATE' FROM t", K.Select, ''],
  ["SELECT 'a' 'b' FOR UPDATE", K.Select, 'FOR_UPDATE'],
  ["SELECT * FROM t WHERE c = 'ünïcode FOR UPDATE'", K.Select, ''],
  ['SELECT café FROM t FOR UPDATE', K.Select, 'FOR_UPDATE'],
  ['SELECT 1e5, 1.5e-3, .5, 0x1F, 0b101, 12abc FROM t FOR UPDATE', K.Select, 'FOR_UPDATE'],
  ['select\tc\nfrom\rt\fwhere\vid=1', K.Select, ''],
  ["SELECT 1 FROM t WHERE a = 'unterminated FOR UPDATE", K.Select, ''],
  ['SELECT `unterminated FOR UPDATE', K.Select, ''],
  ['SELECT 1 /* unterminated FOR UPDATE', K.Select, ''],
  ["SELECT 'a''' FOR UPDATE", K.Select, 'FOR_UPDATE'],
  ["SELECT '' FOR UPDATE", K.Select, 'FOR_UPDATE'],

  // ---- FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE
  ['SELECT * FROM t WHERE id=1 FOR UPDATE', K.Select, 'FOR_UPDATE'],
  ['select * from t for update nowait', K.Select, 'FOR_UPDATE'],
  ['SELECT * FROM t FOR UPDATE SKIP LOCKED', K.Select, 'FOR_UPDATE'],
  ['SELECT * FROM t FOR SHARE', K.Select, 'FOR_SHARE'],
  ['SELECT * FROM t LOCK IN SHARE MODE', K.Select, 'FOR_SHARE'],
  ['SELECT * FROM t lock   in\nshare mode', K.Select, 'FOR_SHARE'],
  ['SELECT * FROM t FOR UPDATE OF t WAIT 5', K.Select, 'FOR_UPDATE'],
  ['SELECT * FROM t FOR\n/* c */UPDATE', K.Select, 'FOR_UPDATE'],
  ['INSERT INTO t SELECT * FROM u FOR UPDATE', K.Insert, 'FOR_UPDATE'],
  ['SELECT * FROM (SELECT * FROM t FOR UPDATE) x', K.Select, 'FOR_UPDATE'],
  ['INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a=2', K.Insert, ''],
  ["SELECT * FROM t FOR SYSTEM_TIME AS OF '2020-01-01'", K.Select, ''],
  ['SELECT * FROM t WHERE `for`=1 AND `update`=2', K.Select, ''],
  ['SELECT * FROM t IN SHARE MODE', K.Select, ''],
  ['SELECT * FROM t FOR UPDATE LOCK IN SHARE MODE', K.Select, 'FOR_UPDATE|FOR_SHARE'],

  // ---- INTO
  ['SELECT a INTO @x FROM t', K.Select, 'INTO|USER_VAR_WRITE', { vars: ['x'] }],
  ['SELECT a, b INTO @x, @y FROM t', K.Select, 'INTO|USER_VAR_WRITE', { vars: ['x', 'y'] }],
  ['SELECT a, b FROM t INTO @x, @Y', K.Select, 'INTO|USER_VAR_WRITE', { vars: ['x', 'y'] }],
  ['SELECT a FROM t WHERE id=1 INTO @x FOR UPDATE', K.Select, 'INTO|USER_VAR_WRITE|FOR_UPDATE', { vars: ['x'] }],
  ["SELECT * FROM t INTO OUTFILE '/tmp/x'", K.Select, 'INTO'],
  ["SELECT * FROM t INTO DUMPFILE '/tmp/x'", K.Select, 'INTO'],
  ["select * into outfile '/tmp/x' fields terminated by ',' from t", K.Select, 'INTO'],
  ['SELECT a INTO @`My Var`', K.Select, 'INTO|USER_VAR_WRITE', { vars: ['my var'] }],
  ["SELECT 1 INTO @'q''x'", K.Select, 'INTO|USER_VAR_WRITE', { vars: ["q'x"] }],
  ['SELECT 1 INTO @"d"', K.Select, 'INTO|USER_VAR_WRITE', { vars: ['d'] }],
  ['SELECT a, b INTO @x, local_v FROM t', K.Select, 'INTO|USER_VAR_WRITE', { vars: ['x'] }],
  ['SELECT a INTO @x, @y, @z FROM t WHERE b = @w', K.Select, 'INTO|USER_VAR_WRITE|USER_VAR_READ', { vars: ['x', 'y', 'z'] }],
  ['INSERT INTO t VALUES (1)', K.Insert, ''],
  ['INSERT INTO t SELECT a FROM u', K.Insert, ''],
  ['TABLE t INTO @a, @b', K.Table, 'INTO|USER_VAR_WRITE', { vars: ['a', 'b'] }],
  ['SELECT 1 INTO @a;', K.Select, 'INTO|USER_VAR_WRITE', { vars: ['a'] }],

  // ---- user variables
  ['SELECT @x', K.Select, 'USER_VAR_READ'],
  ['SELECT @x := 1', K.Select, 'USER_VAR_WRITE', { vars: ['x'] }],
  ['SELECT @x:=@x+1 FROM t', K.Select, 'USER_VAR_WRITE|USER_VAR_READ', { vars: ['x'] }],
  ['SELECT @x   :=  1, @y', K.Select, 'USER_VAR_WRITE|USER_VAR_READ', { vars: ['x'] }],
  ['SELECT @x = 1', K.Select, 'USER_VAR_READ'],
  ['SELECT @@version', K.Select, ''],
  ['SELECT @@session.sql_mode, @@global.max_connections', K.Select, ''],
  ['SELECT @@autocommit', K.Select, ''],
  ['SET @x = 1', K.Set, 'USER_VAR_WRITE', { vars: ['x'] }],
  ['SET @x := 1', K.Set, 'USER_VAR_WRITE', { vars: ['x'] }],
  ['SET @a=1, @b=2', K.Set, 'USER_VAR_WRITE', { vars: ['a', 'b'] }],
  ['SET @A = 1, @a = 2', K.Set, 'USER_VAR_WRITE', { vars: ['a'] }],
  ["SET @a = 1, time_zone='+00:00'", K.Set, 'USER_VAR_WRITE|SESSION_SYSVAR_WRITE', { vars: ['a'] }],
  ['SET @a = @b', K.Set, 'USER_VAR_WRITE|USER_VAR_READ', { vars: ['a'] }],
  ['SET @a = (SELECT MAX(id) FROM t)', K.Set, 'USER_VAR_WRITE', { vars: ['a'] }],
  ["SET @a = GET_LOCK('l', 10)", K.Set, 'USER_VAR_WRITE|GET_LOCK', { vars: ['a'] }],
  ['SET @`x y` = 1', K.Set, 'USER_VAR_WRITE', { vars: ['x y'] }],
  ['SET @"q" = 1', K.Set, 'USER_VAR_WRITE', { vars: ['q'] }],
  ['SET @"q" = 1', K.Set, 'USER_VAR_WRITE', { vars: ['q'], ansi: true }],
  ["SET @'a\\'b' = 1", K.Set, 'USER_VAR_WRITE', { vars: ["a'b"] }],
  ['SET @a.b = 1', K.Set, 'USER_VAR_WRITE', { vars: ['a.b'] }],
  ['SET @x = @y := 5', K.Set, 'USER_VAR_WRITE', { vars: ['x', 'y'] }],
  ['SELECT * FROM t WHERE a = @x', K.Select, 'USER_VAR_READ'],
  ['UPDATE t SET a = @x := a + 1', K.Update, 'USER_VAR_WRITE', { vars: ['x'] }],
  ["SELECT '@x'", K.Select, ''],
  ['SELECT 1 FROM t WHERE b=@x AND c=@y := 2', K.Select, 'USER_VAR_READ|USER_VAR_WRITE', { vars: ['y'] }],
  ['SELECT @x.y', K.Select, 'USER_VAR_READ'],
  ['SELECT `@x`', K.Select, ''],
  ['SELECT @', K.Select, ''],
  ['SELECT @ma_var_é := 1', K.Select, 'USER_VAR_WRITE', { vars: ['ma_var_é'] }],
  ["SET PASSWORD FOR 'u'@'h' = 'x'", K.Set, ''],

  // ---- functions
  ["SELECT GET_LOCK('lock1', 10)", K.Select, 'GET_LOCK'],
  ["SELECT get_lock ('l', 1)", K.Select, 'GET_LOCK'],
  ["SELECT GET_LOCK/* c */('a', 1)", K.Select, 'GET_LOCK'],
  ["SELECT GET_LOCK\n(\n'a', 1)", K.Select, 'GET_LOCK'],
  ["SELECT RELEASE_LOCK('l')", K.Select, 'RELEASE_LOCK'],
  ['SELECT RELEASE_ALL_LOCKS()', K.Select, 'RELEASE_LOCK'],
  ["SELECT IS_FREE_LOCK('l'), IS_USED_LOCK('l')", K.Select, 'LOCK_FUNCTION'],
  ["SELECT is_used_lock('l')", K.Select, 'LOCK_FUNCTION'],
  ['SELECT LAST_INSERT_ID()', K.Select, 'LAST_INSERT_ID'],
  ['select last_insert_id()', K.Select, 'LAST_INSERT_ID'],
  ['UPDATE seq SET id = LAST_INSERT_ID(id + 1)', K.Update, 'LAST_INSERT_ID'],
  ['INSERT INTO t2 (parent) VALUES (LAST_INSERT_ID())', K.Insert, 'LAST_INSERT_ID'],
  ['SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10', K.Select, 'SQL_CALC_FOUND_ROWS'],
  ['SELECT FOUND_ROWS()', K.Select, 'FOUND_ROWS'],
  ['SELECT NEXTVAL(s)', K.Select, 'NEXTVAL'],
  ['SELECT NEXT VALUE FOR s', K.Select, 'NEXTVAL'],
  ['SELECT next value for db.s', K.Select, 'NEXTVAL'],
  ['SELECT PREVIOUS VALUE FOR s', K.Select, 'NEXTVAL'],
  ['SELECT SETVAL(s, 10)', K.Select, 'NEXTVAL'],
  ['SELECT LASTVAL(s)', K.Select, 'NEXTVAL'],
  ['INSERT INTO t VALUES (NEXT VALUE FOR s, 1)', K.Insert, 'NEXTVAL'],
  ['SELECT CONNECTION_ID()', K.Select, 'CONNECTION_ID'],
  ['SELECT connection_id  (  )', K.Select, 'CONNECTION_ID'],
  ["SELECT db.get_lock('x', 1)", K.Select, ''],
  ["SELECT db . get_lock('x', 1)", K.Select, ''],
  ['SELECT get_lock FROM t', K.Select, ''],
  ['SELECT last_insert_id FROM t', K.Select, ''],
  ['SELECT t.found_rows FROM t', K.Select, ''],
  ["SELECT 'GET_LOCK(1)'", K.Select, ''],
  ['SELECT next_value FROM t', K.Select, ''],
  ['SELECT NEXT FROM t', K.Select, ''],
  ["SELECT GET_LOCK('a', 1), RELEASE_LOCK('a'), IS_FREE_LOCK('a'), LAST_INSERT_ID(), FOUND_ROWS(), CONNECTION_ID(), NEXTVAL(s)", K.Select, 'GET_LOCK|RELEASE_LOCK|LOCK_FUNCTION|LAST_INSERT_ID|FOUND_ROWS|CONNECTION_ID|NEXTVAL'],

  // ---- system schemas
  ['SELECT * FROM information_schema.tables', K.Select, 'SYSTEM_SCHEMA'],
  ['SELECT * FROM INFORMATION_SCHEMA.PROCESSLIST', K.Select, 'SYSTEM_SCHEMA'],
  ['SELECT * FROM performance_schema.threads', K.Select, 'SYSTEM_SCHEMA'],
  ['SELECT * FROM mysql.user', K.Select, 'SYSTEM_SCHEMA'],
  ['SELECT * FROM `mysql`.`user`', K.Select, 'SYSTEM_SCHEMA'],
  ['SELECT * FROM `information_schema`.`tables`', K.Select, 'SYSTEM_SCHEMA'],
  ['SELECT * FROM sys.session', K.Select, 'SYSTEM_SCHEMA'],
  ['SELECT * FROM mysql . user', K.Select, 'SYSTEM_SCHEMA'],
  ['SHOW TABLES FROM mysql', K.Show, 'SYSTEM_SCHEMA'],
  ['SHOW TABLES IN information_schema', K.Show, 'SYSTEM_SCHEMA'],
  ['SHOW TABLES FROM `sys`', K.Show, 'SYSTEM_SCHEMA'],
  ['USE mysql', K.Use, 'DB_CHANGE|SYSTEM_SCHEMA', { use: 'mysql' }],
  ['USE `information_schema`', K.Use, 'DB_CHANGE|SYSTEM_SCHEMA', { use: 'information_schema' }],
  ['SELECT mysql FROM t', K.Select, ''],
  ['SELECT sys FROM t', K.Select, ''],
  ['SELECT * FROM t.mysql', K.Select, ''],
  ["SELECT 'mysql.user'", K.Select, ''],
  ['SELECT * FROM mysqlx.t', K.Select, ''],
  ['UPDATE mysql.user SET x = 1', K.Update, 'SYSTEM_SCHEMA'],

  // ---- USE
  ['USE `my db`', K.Use, 'DB_CHANGE', { use: 'my db' }],
  ['USE `a``b`', K.Use, 'DB_CHANGE', { use: 'a`b' }],
  ['USE "db"', K.Use, 'DB_CHANGE', { use: 'db', ansi: true }],
  ['use test;', K.Use, 'DB_CHANGE', { use: 'test' }],
  ['USE Sbtest', K.Use, 'DB_CHANGE', { use: 'Sbtest' }],
  ['/* c */ USE /* c */ `db`', K.Use, 'DB_CHANGE', { use: 'db' }],
  ['USE db1; SELECT 1', K.Use, 'DB_CHANGE|MULTI_STATEMENT', { use: 'db1' }],
  ['USE', K.Use, ''],
  ['USE `ünï`', K.Use, 'DB_CHANGE', { use: 'ünï' }],

  // ---- KILL
  ['KILL 42', K.Kill, '', { kill: KILL(42) }],
  ['KILL CONNECTION 42', K.Kill, '', { kill: KILL(42) }],
  ['KILL QUERY 42', K.Kill, '', { kill: KILL(42, true) }],
  ['KILL HARD QUERY 7', K.Kill, '', { kill: KILL(7, true) }],
  ['KILL SOFT CONNECTION 7', K.Kill, '', { kill: KILL(7) }],
  ['KILL HARD 9', K.Kill, '', { kill: KILL(9) }],
  ['KILL QUERY ID 123', K.Kill, '', { kill: KILL(123, true, true) }],
  ['kill query id 5;', K.Kill, '', { kill: KILL(5, true, true) }],
  ['KILL SOFT QUERY ID 77', K.Kill, '', { kill: KILL(77, true, true) }],
  ['/* c */ KILL /* c */ 1', K.Kill, '', { kill: KILL(1) }],
  ['KILL 4294967295', K.Kill, '', { kill: KILL(4294967295) }],
  ["KILL USER 'bob'", K.Kill, ''],
  ['KILL CONNECTION_ID()', K.Kill, 'CONNECTION_ID'],
  ['KILL @id', K.Kill, 'USER_VAR_READ'],
  ['KILL', K.Kill, ''],

  // ---- SET
  ['SET NAMES utf8mb4', K.Set, 'SESSION_SYSVAR_WRITE'],
  ["SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'", K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET CHARACTER SET utf8', K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET CHARSET utf8', K.Set, 'SESSION_SYSVAR_WRITE'],
  ["SET SESSION sql_mode = 'TRADITIONAL'", K.Set, 'SESSION_SYSVAR_WRITE'],
  ["SET LOCAL sql_mode=''", K.Set, 'SESSION_SYSVAR_WRITE'],
  ["SET sql_mode=''", K.Set, 'SESSION_SYSVAR_WRITE'],
  ["SET @@sql_mode = ''", K.Set, 'SESSION_SYSVAR_WRITE'],
  ["SET @@session.sql_mode = ''", K.Set, 'SESSION_SYSVAR_WRITE'],
  ["SET @@SESSION.sql_mode = ''", K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET @@local.wait_timeout = 10', K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET GLOBAL max_connections = 100', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET @@global.max_connections = 100', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET @@GLOBAL.max_connections = 100', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET PERSIST max_connections = 100', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET PERSIST_ONLY back_log = 100', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET @@persist.max_connections = 100', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET GLOBAL a=1, b=2', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET GLOBAL a=1, SESSION b=2', K.Set, 'GLOBAL_SYSVAR_WRITE|SESSION_SYSVAR_WRITE'],
  ['SET @@global.a=1, b=2', K.Set, 'GLOBAL_SYSVAR_WRITE|SESSION_SYSVAR_WRITE'],
  ['SET GLOBAL hot_cache.key_buffer_size = 1024', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET autocommit = 0', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE'],
  ['SET AUTOCOMMIT=1', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE'],
  ['SET @@autocommit = 0', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE'],
  ['SET @@session.autocommit = ON', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE'],
  ['SET @@local.AutoCommit = ON', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE'],
  ['SET SESSION autocommit=0', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE'],
  ['SET GLOBAL autocommit = 0', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET @@global.autocommit=0', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET autocommit=0, @x=1', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE|USER_VAR_WRITE', { vars: ['x'] }],
  ['SET `autocommit` = 0', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE'],
  ['SET autocommit_x = 0', K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET @autocommit = 0', K.Set, 'USER_VAR_WRITE', { vars: ['autocommit'] }],
  ['SET TRANSACTION ISOLATION LEVEL READ COMMITTED', K.Set, 'SET_TRANSACTION'],
  ['SET TRANSACTION READ ONLY', K.Set, 'SET_TRANSACTION'],
  ['SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE', K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED, READ WRITE', K.Set, 'GLOBAL_SYSVAR_WRITE'],
  ['SET STATEMENT max_statement_time=10 FOR SELECT * FROM t', K.Select, ''],
  ["SET STATEMENT sql_mode='', x=(1) FOR UPDATE t SET a=1", K.Update, ''],
  ['SET STATEMENT max_statement_time=1 FOR SELECT * FROM t FOR UPDATE', K.Select, 'FOR_UPDATE'],
  ['SET STATEMENT x=1 FOR INSERT INTO t SELECT LAST_INSERT_ID()', K.Insert, 'LAST_INSERT_ID'],
  ['SET STATEMENT x=1 FOR SET @y = 2', K.Set, 'USER_VAR_WRITE', { vars: ['y'] }],
  ['SET STATEMENT x=1', K.Set, ''],
  ["SET PASSWORD = PASSWORD('x')", K.Set, ''],
  ['SET ROLE ALL', K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET DEFAULT ROLE r TO u', K.Set, ''],
  ["SET time_zone = '+00:00', sql_mode = ''", K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET @a = 1, @b = @a + 1', K.Set, 'USER_VAR_WRITE|USER_VAR_READ', { vars: ['a', 'b'] }],
  ["SET @x = 'a,b', @y = 2", K.Set, 'USER_VAR_WRITE', { vars: ['x', 'y'] }],
  ["SET @x = CONCAT('a', ','), @y = 2", K.Set, 'USER_VAR_WRITE', { vars: ['x', 'y'] }],
  ["SET sql_mode = CONCAT(@@sql_mode, ',STRICT')", K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET default_storage_engine = DEFAULT', K.Set, 'SESSION_SYSVAR_WRITE'],
  ['SET', K.Set, ''],
  ['set names utf8, autocommit = 1', K.Set, 'SESSION_SYSVAR_WRITE|AUTOCOMMIT_WRITE'],
  ['/* c */ SET /* c */ @x /* c */ = 1', K.Set, 'USER_VAR_WRITE', { vars: ['x'] }],

  // ---- multi-statements
  ['SELECT 1; SELECT 2', K.Select, 'MULTI_STATEMENT'],
  ['SELECT 1;', K.Select, ''],
  ['SELECT 1;   \n', K.Select, ''],
  ['SELECT 1; -- done', K.Select, ''],
  ['SELECT 1; /* c */', K.Select, ''],
  ['SELECT 1 ; # x\n', K.Select, ''],
  ["SELECT ';'", K.Select, ''],
  ['SELECT 1 -- ; SELECT 2', K.Select, ''],
  ['SELECT 1;;', K.Select, 'MULTI_STATEMENT'],
  ["SET NAMES utf8; SELECT GET_LOCK('a', 1)", K.Set, 'MULTI_STATEMENT|SESSION_SYSVAR_WRITE|GET_LOCK'],
  ['BEGIN; UPDATE t SET a=1; COMMIT', K.Begin, 'MULTI_STATEMENT'],
  ['SELECT 1; USE db2', K.Select, 'MULTI_STATEMENT|DB_CHANGE', { use: 'db2' }],
  ['UPDATE t SET a=\';\' WHERE b="x;y"', K.Update, ''],
  ['SELECT `a;b` FROM t', K.Select, ''],
  ['SELECT 1; /*!40101 SET NAMES utf8 */', K.Select, 'MULTI_STATEMENT|EXECUTABLE_COMMENT|SESSION_SYSVAR_WRITE'],
  ['SELECT 1; CREATE TEMPORARY TABLE t (a int)', K.Select, 'MULTI_STATEMENT|TEMPORARY'],
  ['SELECT 1;SET @x=1', K.Select, 'MULTI_STATEMENT|USER_VAR_WRITE', { vars: ['x'] }],
  ['SELECT 1; KILL 3', K.Select, 'MULTI_STATEMENT', { kill: KILL(3) }],
  ['INSERT INTO t VALUES (1); SELECT LAST_INSERT_ID()', K.Insert, 'MULTI_STATEMENT|LAST_INSERT_ID'],
  ['SELECT 1; LOCK TABLES t WRITE', K.Select, 'MULTI_STATEMENT|LOCK_TABLES'],
  ['START TRANSACTION READ ONLY; SELECT 1', K.Begin, 'MULTI_STATEMENT|READ_ONLY_TRANSACTION'],
  ["SELECT 'a\\'; SELECT 2", K.Select, ''],
  ["SELECT 'a\\'; SELECT 2", K.Select, 'MULTI_STATEMENT', { nbe: true }],
  ['SELECT 1 /* ; */; -- ;\n', K.Select, ''],

  // ---- long strings (native byte search path)
  [`SELECT '${X60}\\'${X60}' FOR UPDATE`, K.Select, 'FOR_UPDATE'],
  [`SELECT '${X60}\\'${X60}' FOR UPDATE`, K.Select, '', { nbe: true }],
  [`SELECT '${X60}\\\\' FOR UPDATE`, K.Select, 'FOR_UPDATE'],
  [`SELECT '${X60}''${X60}' FOR UPDATE`, K.Select, 'FOR_UPDATE'],
  [`SELECT '${X60}''${X60}' FOR UPDATE`, K.Select, 'FOR_UPDATE', { nbe: true }],
  [`SELECT '${X60}${X60} FOR UPDATE`, K.Select, ''],
  [`SELECT '${X60}\\`, K.Select, ''],
  [`SELECT "${X60}\\"${X60}" FOR UPDATE`, K.Select, 'FOR_UPDATE'],
  [`SELECT "${X60}\\" FROM t FOR UPDATE`, K.Select, 'FOR_UPDATE', { ansi: true }],
  [`SELECT \`${X60}\\\` FROM t FOR UPDATE`, K.Select, 'FOR_UPDATE'],
  [`SELECT '${X60}\\\\', '${X60}\\'' FOR UPDATE`, K.Select, 'FOR_UPDATE'],
  [`SELECT '${X60}\\\\', '${X60}\\'' FOR UPDATE`, K.Select, '', { nbe: true }],
  [`INSERT INTO t VALUES ('${X60}', '${X60}'); SELECT 1`, K.Insert, 'MULTI_STATEMENT'],
];

describe('lexStatement decision table', () => {
  it(`has at least 250 statements (${TABLE.length})`, () => {
    assert.ok(TABLE.length >= 250);
  });

  it('covers every kind and every flag', () => {
    assert.equal(K.Other, KIND_NAMES.length - 1);
    const kinds = new Set(TABLE.map((r) => r[1]));
    for (let k = 0; k < KIND_NAMES.length; k++) assert.ok(kinds.has(k as K), `kind ${KIND_NAMES[k]} not covered`);
    let all = 0;
    for (const r of TABLE) all |= flagsOf(r[2]);
    for (const name of Object.keys(StatementFlag) as FlagName[]) {
      assert.ok((all & StatementFlag[name]) !== 0, `flag ${name} not covered`);
    }
  });

  for (const [sql, kind, flags, extra] of TABLE) {
    const mode = extra?.nbe ? ' [NO_BACKSLASH_ESCAPES]' : extra?.ansi ? ' [ANSI_QUOTES]' : '';
    it(`${JSON.stringify(sql)}${mode}`, () => {
      const r = lex(sql, optsOf(extra));
      assert.deepEqual(
        { kind: KIND_NAMES[r.kind], flags: flagNames(r.flags) },
        { kind: KIND_NAMES[kind], flags: flagNames(flagsOf(flags)) },
      );
      assert.equal(r.hint, extra?.hint ?? null, 'hint');
      assert.deepEqual([...r.userVarsAssigned], extra?.vars ?? [], 'userVarsAssigned');
      assert.deepEqual(r.kill, extra?.kill ?? null, 'kill');
      assert.equal(r.useSchema, extra?.use ?? null, 'useSchema');
    });
  }
});

describe('lexStatement API details', () => {
  it('honours start/end (COM_QUERY payload inside a larger packet buffer)', () => {
    const sql = "SELECT * FROM t WHERE a = 'x' FOR UPDATE";
    const packet = Buffer.concat([Buffer.from([0x29, 0, 0, 0, 0x03]), Buffer.from(sql), Buffer.from("'; DROP TABLE x")]);
    const r = lexStatement(packet, 5, 5 + sql.length, DEFAULT_OPTS);
    assert.equal(r.kind, K.Select);
    assert.equal(r.flags, StatementFlag.FOR_UPDATE);
    // cut in the middle of a string: must not look past `end`
    const r2 = lexStatement(packet, 5, 5 + sql.indexOf("x'"), DEFAULT_OPTS);
    assert.equal(r2.flags, 0);
    // out-of-range bounds are clamped
    assert.equal(lexStatement(Buffer.from('SELECT 1'), -5, 100, DEFAULT_OPTS).kind, K.Select);
    assert.equal(lexStatement(Buffer.from('SELECT 1'), 5, 2, DEFAULT_OPTS).kind, K.Unknown);
  });

  it('shares one frozen empty userVarsAssigned array', () => {
    const a = lex('SELECT 1');
    const b = lex('UPDATE t SET a = 1');
    assert.equal(a.userVarsAssigned, b.userVarsAssigned);
    assert.ok(Object.isFrozen(a.userVarsAssigned));
    assert.equal(a.userVarsAssigned.length, 0);
  });

  it('returns independent results (no state leaks between calls)', () => {
    const a = lex("/* sluice:x */ SET @v = 1; KILL 5; USE db");
    const b = lex('SELECT 1');
    assert.deepEqual(a.userVarsAssigned, ['v']);
    assert.deepEqual(a.kill, { id: 5, query: false, queryId: false });
    assert.equal(a.useSchema, 'db');
    assert.equal(a.hint, 'x');
    assert.deepEqual([b.hint, b.kill, b.useSchema, b.userVarsAssigned.length, b.flags], [null, null, null, 0, 0]);
  });

  it('result objects have the documented shape', () => {
    const r = lex('SELECT 1');
    assert.deepEqual(Object.keys(r).sort(), ['flags', 'hint', 'kill', 'kind', 'useSchema', 'userVarsAssigned']);
  });
});

// ---------------------------------------------------------------------------------------------------------
// property / fuzz test
// ---------------------------------------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIALS = [
  "'", '"', '`', '\\', '/*', '*/', '/*!', '/*M!', '/*!50000', '--', '-- ', '#', ';', '@', '@@', '(', ')', ':=', '\n',
  ' FOR UPDATE ', ' INTO @', ' SET ', 'SELECT ', ' KILL QUERY ID ', '\0', '\xff', '.', ',', '0x', "x'", ' WITH ',
  'GET_LOCK(', ' LOCK IN SHARE MODE', 'mysql.', ' = ', '@`', "@'", '@"', ' USE ', '/* sluice:', ' BEGIN NOT ATOMIC ',
];

function mutate(rnd: () => number, src: Buffer): Buffer {
  let b: Buffer = src;
  const ops = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < ops; i++) {
    const pos = Math.floor(rnd() * (b.length + 1));
    switch (Math.floor(rnd() * 6)) {
      case 0: // flip a byte
        if (b.length > 0) {
          b = Buffer.from(b);
          b[Math.min(pos, b.length - 1)] = Math.floor(rnd() * 256);
        }
        break;
      case 1: // insert a special token
      case 2: {
        const s = Buffer.from(SPECIALS[Math.floor(rnd() * SPECIALS.length)], 'latin1');
        b = Buffer.concat([b.subarray(0, pos), s, b.subarray(pos)]);
        break;
      }
      case 3: // delete a range
        b = Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + 1 + Math.floor(rnd() * 8)))]);
        break;
      case 4: // truncate
        b = b.subarray(0, pos);
        break;
      default: {
        // splice in a piece of another statement
        const other = Buffer.from(TABLE[Math.floor(rnd() * TABLE.length)][0]);
        const s = Math.floor(rnd() * other.length);
        b = Buffer.concat([b.subarray(0, pos), other.subarray(s, s + Math.floor(rnd() * 20)), b.subarray(pos)]);
      }
    }
  }
  return b;
}

function randomBytes(rnd: () => number): Buffer {
  const len = Math.floor(rnd() * 200);
  const b = Buffer.alloc(len);
  const alphabet = Buffer.from("SELECT FOR UPDATE @:=;'\"`\\/*!-#()\n .,0123456789xabINTO", 'latin1');
  for (let i = 0; i < len; i++) b[i] = rnd() < 0.7 ? alphabet[Math.floor(rnd() * alphabet.length)] : Math.floor(rnd() * 256);
  return b;
}

function checkInvariants(r: StatementInfo): void {
  assert.ok(Number.isInteger(r.kind) && r.kind >= 0 && r.kind <= K.Other, `kind ${r.kind}`);
  assert.ok(Number.isInteger(r.flags) && r.flags >= 0 && r.flags < 1 << 27, `flags ${r.flags}`);
  assert.ok(r.hint === null || typeof r.hint === 'string');
  assert.ok(Array.isArray(r.userVarsAssigned));
  for (const v of r.userVarsAssigned) assert.equal(typeof v, 'string');
  assert.equal((r.flags & StatementFlag.HAS_HINT) !== 0, r.hint !== null);
  assert.equal(r.userVarsAssigned.length > 0, (r.flags & StatementFlag.USER_VAR_WRITE) !== 0);
  if (r.kill !== null) assert.ok(Number.isInteger(r.kill.id) && r.kill.id >= 0);
  if (r.useSchema !== null) assert.ok((r.flags & StatementFlag.DB_CHANGE) !== 0);
}

describe('lexStatement / digest fuzz', () => {
  it('never throws, terminates and respects bounds on 20000 random and mutated inputs', { timeout: 120_000 }, () => {
    const rnd = mulberry32(0x5eed1);
    const N = 20_000;
    let slowest = 0;
    let slowestCase: { input: Buffer; opts: LexOptions } | null = null;
    for (let i = 0; i < N; i++) {
      const input = i % 4 === 0 ? randomBytes(rnd) : mutate(rnd, Buffer.from(TABLE[Math.floor(rnd() * TABLE.length)][0]));
      const opts: LexOptions = { noBackslashEscapes: rnd() < 0.3, ansiQuotes: rnd() < 0.3 };
      const prefix = Buffer.from([0x01, 0x00, 0x00, 0x00, 0x03]);
      const suffix = Buffer.from(SPECIALS[Math.floor(rnd() * SPECIALS.length)] + "' /* -- `", 'latin1');
      const framed = Buffer.concat([prefix, input, suffix]);
      const t0 = process.hrtime.bigint();
      let exact: StatementInfo;
      let inFrame: StatementInfo;
      try {
        exact = lexStatement(input, 0, input.length, opts);
        inFrame = lexStatement(framed, prefix.length, prefix.length + input.length, opts);
      } catch (e) {
        assert.fail(`lexStatement threw on ${JSON.stringify(input.toString('latin1'))}: ${(e as Error).stack}`);
      }
      checkInvariants(exact);
      assert.deepEqual(inFrame, exact, `bounds not respected for ${JSON.stringify(input.toString('latin1'))}`);
      let d1, d2;
      try {
        d1 = digest(input, 0, input.length, opts);
        d2 = digest(framed, prefix.length, prefix.length + input.length, opts);
      } catch (e) {
        assert.fail(`digest threw on ${JSON.stringify(input.toString('latin1'))}: ${(e as Error).stack}`);
      }
      assert.equal(d2.text, d1.text);
      assert.equal(d2.hash, d1.hash);
      assert.ok(d1.hash >= 0n && d1.hash < 1n << 64n);
      const dt = Number(process.hrtime.bigint() - t0);
      if (dt > slowest) {
        slowest = dt;
        slowestCase = { input, opts };
      }
    }
    // "terminates" in bounded time: re-time the slowest case (best of 5, to filter out GC pauses and
    // preemption on a loaded machine); an input of <= ~300 bytes takes a few µs
    if (slowestCase !== null) {
      const { input, opts } = slowestCase;
      let best = Infinity;
      for (let r = 0; r < 5; r++) {
        const t0 = process.hrtime.bigint();
        lexStatement(input, 0, input.length, opts);
        digest(input, 0, input.length, opts);
        best = Math.min(best, Number(process.hrtime.bigint() - t0));
      }
      assert.ok(best < 5e6, `slowest case takes ${best / 1e6} ms: ${JSON.stringify(input.toString('latin1'))}`);
    }
  });

  it('native (tight buffer) and JS (large buffer tail) string scans agree', () => {
    const rnd = mulberry32(0xabcdef);
    const alphabet = "xxxxxxxxxxxx'\"`\\ ;-";
    const tail = Buffer.alloc(5000, 0x27); // quotes after `end` must not matter either
    for (let i = 0; i < 3000; i++) {
      let sql = 'SELECT ';
      const parts = 1 + Math.floor(rnd() * 3);
      for (let p = 0; p < parts; p++) {
        const q = "'\"`"[Math.floor(rnd() * 3)];
        let body = '';
        const len = Math.floor(rnd() * 200);
        for (let k = 0; k < len; k++) body += alphabet[Math.floor(rnd() * alphabet.length)];
        sql += `${q}${body}${rnd() < 0.9 ? q : ''} , `;
      }
      sql += rnd() < 0.5 ? 'GET_LOCK(1) FOR UPDATE; SELECT 2' : '@v := 1';
      const input = Buffer.from(sql, 'latin1');
      const big = Buffer.concat([input, tail]);
      const opts: LexOptions = { noBackslashEscapes: rnd() < 0.5, ansiQuotes: rnd() < 0.3 };
      const a = lexStatement(input, 0, input.length, opts);
      const b = lexStatement(big, 0, input.length, opts);
      assert.deepEqual(b, a, sql);
      assert.equal(digest(big, 0, input.length, opts).text, digest(input, 0, input.length, opts).text, sql);
    }
  });

  it('handles large inputs linearly (1 MB of strings / comments)', () => {
    const big = Buffer.from("SELECT '" + 'x'.repeat(1 << 20) + "' /* " + 'y'.repeat(1 << 20) + ' */ FOR UPDATE');
    const t0 = Date.now();
    const r = lexStatement(big, 0, big.length, DEFAULT_OPTS);
    assert.equal(r.flags, StatementFlag.FOR_UPDATE);
    const d = digest(big, 0, big.length, DEFAULT_OPTS);
    assert.equal(d.text, 'SELECT ? FOR UPDATE');
    assert.ok(Date.now() - t0 < 2000);
  });
});
