/*
 * cmd_client.c: exercises the text protocol's other commands with a real driver, MariaDB Connector/C
 * (libmariadb), for test/integration/connector-c-commands.test.ts. It runs against Sluice and, as a control,
 * directly against the primary; both runs must print the same lines.
 *
 *   cmd_client HOST PORT USER PASSWORD DATABASE
 *   (or the environment: CMD_HOST, CMD_PORT, CMD_USER, CMD_PASSWORD, CMD_DB)
 *
 * Required environment:
 *   CMD_DB2                 a second database (COM_INIT_DB moves there and back)
 *   CMD_USER2, CMD_PASSWORD2  the account mysql_change_user switches to (it needs ALL on DATABASE)
 * Optional environment:
 *   CMD_PAUSE_MS  sleep this long between commands where the session is free to move to another backend
 *                 connection (default 0), so that concurrent clients get to use the pool in between.
 *   CMD_ONLY      run only the scenario with this name (fieldlist, stat, ping, initdb, setoption, reset, call,
 *                 warnings, changeuser), or `isolation`, which is not part of the default run (see there).
 *
 * The connection is opened WITHOUT CLIENT_MULTI_STATEMENTS (client flag 0; the driver adds CLIENT_MULTI_RESULTS).
 *
 * Expects, in DATABASE:
 *   t_cmd (id INT PRIMARY KEY, name VARCHAR(32), created DATE) with rows (1,'one'), (2,'two'), (3,'three')
 *   PROCEDURE p_two(IN lim INT): SELECT id, name FROM t_cmd WHERE id <= lim ORDER BY id;
 *                                SELECT COUNT(*), MAX(id) FROM t_cmd
 * and in CMD_DB2: t_db2 (v VARCHAR(32)) with one row 'in-db2'.
 *
 * Database names are printed as labels: db1 (DATABASE), db2 (CMD_DB2), NULL, or the name itself.
 *
 * Output: one `key=value` line per result (stdout, line buffered), `done=1` last. On any failure it prints
 * `error=<scenario>: <what>: <driver error> (<errno>)` to stderr and exits with status 1.
 */
#include <mysql.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static MYSQL *db;
static const char *scenario = "connect";
static long pause_ms = 0;
static const char *db1_name = "";
static const char *db2_name = "";
static const char *user2 = "";
static const char *password2 = "";
static const char *conn_host, *conn_user, *conn_password;
static unsigned int conn_port;

static void die(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "error=%s: ", scenario);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

/* A failed call on the connection. */
#define DCHECK(call)                                                                                \
  do {                                                                                              \
    if (call) die("%s: %s (%u) [%s]", #call, mysql_error(db), mysql_errno(db), mysql_sqlstate(db)); \
  } while (0)

static void pause_a_little(void) {
  if (pause_ms <= 0) return;
  struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* db1 / db2 / NULL for the databases the test knows, else the name itself. */
static const char *db_label(const char *name) {
  if (!name) return "NULL";
  if (strcmp(name, db1_name) == 0) return "db1";
  if (strcmp(name, db2_name) == 0) return "db2";
  return name;
}

/* Prints every row of a stored result as `<key>=v1,v2,…` (NULL for SQL NULL); returns the row count. */
static int print_rows(MYSQL_RES *res, const char *key) {
  unsigned int n = mysql_num_fields(res);
  int rows = 0;
  MYSQL_ROW row;
  while ((row = mysql_fetch_row(res))) {
    unsigned long *lens = mysql_fetch_lengths(res);
    printf("%s=", key);
    for (unsigned int i = 0; i < n; i++) {
      if (i) putchar(',');
      if (row[i]) printf("%.*s", (int)lens[i], row[i]);
      else fputs("NULL", stdout);
    }
    putchar('\n');
    rows++;
  }
  return rows;
}

/* Runs one single-result query and prints its rows as `<key>=…`. */
static int query_print(const char *sql, const char *key) {
  if (mysql_real_query(db, sql, (unsigned long)strlen(sql)))
    die("query \"%s\": %s (%u) [%s]", sql, mysql_error(db), mysql_errno(db), mysql_sqlstate(db));
  MYSQL_RES *res = mysql_store_result(db);
  if (!res) die("store_result \"%s\": %s (%u)", sql, mysql_error(db), mysql_errno(db));
  int rows = print_rows(res, key);
  mysql_free_result(res);
  if (mysql_more_results(db)) die("query \"%s\": unexpected further results", sql);
  return rows;
}

/* Runs a statement without a result set. */
static void exec_sql(const char *sql) {
  if (mysql_real_query(db, sql, (unsigned long)strlen(sql)))
    die("query \"%s\": %s (%u) [%s]", sql, mysql_error(db), mysql_errno(db), mysql_sqlstate(db));
  if (mysql_field_count(db) != 0) die("query \"%s\": unexpected result set", sql);
}

/* The first column of the first row of a single-row query, copied into buf ("NULL" for SQL NULL). */
static const char *query_value(const char *sql, char *buf, size_t cap) {
  if (mysql_real_query(db, sql, (unsigned long)strlen(sql)))
    die("query \"%s\": %s (%u) [%s]", sql, mysql_error(db), mysql_errno(db), mysql_sqlstate(db));
  MYSQL_RES *res = mysql_store_result(db);
  if (!res) die("store_result \"%s\": %s (%u)", sql, mysql_error(db), mysql_errno(db));
  MYSQL_ROW row = mysql_fetch_row(res);
  if (!row) die("query \"%s\": no row", sql);
  snprintf(buf, cap, "%s", row[0] ? row[0] : "NULL");
  mysql_free_result(res);
  return buf;
}

static void print_database(const char *key) {
  char buf[256];
  const char *v = query_value("SELECT DATABASE()", buf, sizeof buf);
  printf("%s=%s\n", key, strcmp(v, "NULL") == 0 ? "NULL" : db_label(v));
}

/*
 * Runs a query that may return several results and prints each result set's rows as `<prefix>.<n>.row=…`
 * (n counts result sets, not the final OK of a CALL). Prints `<prefix>.result_sets=N` and
 * `<prefix>.trailing_ok=K` (results without columns, e.g. the status of a CALL).
 */
static void multi_print(const char *sql, const char *prefix) {
  if (mysql_real_query(db, sql, (unsigned long)strlen(sql)))
    die("query \"%s\": %s (%u) [%s]", sql, mysql_error(db), mysql_errno(db), mysql_sqlstate(db));
  int sets = 0, oks = 0;
  char key[128];
  for (;;) {
    MYSQL_RES *res = mysql_store_result(db);
    if (res) {
      sets++;
      snprintf(key, sizeof key, "%s.%d.row", prefix, sets);
      print_rows(res, key);
      mysql_free_result(res);
    } else if (mysql_field_count(db) == 0) {
      oks++;
    } else {
      die("store_result \"%s\" (result %d): %s (%u)", sql, sets + oks + 1, mysql_error(db), mysql_errno(db));
    }
    int rc = mysql_next_result(db);
    if (rc == -1) break;
    if (rc > 0) die("mysql_next_result \"%s\": %s (%u) [%s]", sql, mysql_error(db), mysql_errno(db), mysql_sqlstate(db));
  }
  printf("%s.result_sets=%d\n", prefix, sets);
  printf("%s.trailing_ok=%d\n", prefix, oks);
}

/*
 * A query that should fail: prints `<prefix>.errno=…` and `<prefix>.sqlstate=…`. If it succeeds, that is
 * printed instead (`<prefix>.unexpected_success=<result sets>`, the results drained) so the outputs differ.
 */
static void expect_query_error(const char *sql, const char *prefix) {
  if (mysql_real_query(db, sql, (unsigned long)strlen(sql)) == 0) {
    int sets = 0;
    for (;;) {
      MYSQL_RES *res = mysql_store_result(db);
      if (res) {
        sets++;
        mysql_free_result(res);
      }
      int rc = mysql_next_result(db);
      if (rc == -1) break;
      if (rc > 0) die("mysql_next_result \"%s\": %s (%u)", sql, mysql_error(db), mysql_errno(db));
    }
    printf("%s.unexpected_success=%d\n", prefix, sets);
    return;
  }
  printf("%s.errno=%u\n", prefix, mysql_errno(db));
  printf("%s.sqlstate=%s\n", prefix, mysql_sqlstate(db));
}

/* ------------------------------------------------------------------------------------------------ */
/* COM_FIELD_LIST through mysql_list_fields: all columns, a wildcard, and an unknown table. */
static void scenario_fieldlist(void) {
  scenario = "fieldlist";
  MYSQL_RES *res = mysql_list_fields(db, "t_cmd", NULL);
  if (!res) die("mysql_list_fields(t_cmd): %s (%u)", mysql_error(db), mysql_errno(db));
  unsigned int n = mysql_num_fields(res);
  MYSQL_FIELD *f = mysql_fetch_fields(res);
  printf("fieldlist.count=%u\n", n);
  printf("fieldlist.names=");
  for (unsigned int i = 0; i < n; i++) printf("%s%s", i ? "," : "", f[i].name);
  printf("\nfieldlist.tables=");
  for (unsigned int i = 0; i < n; i++) printf("%s%s", i ? "," : "", f[i].table);
  printf("\nfieldlist.types=");
  for (unsigned int i = 0; i < n; i++) printf("%s%d", i ? "," : "", (int)f[i].type);
  printf("\nfieldlist.rows=%llu\n", (unsigned long long)mysql_num_rows(res));
  mysql_free_result(res);
  pause_a_little();

  res = mysql_list_fields(db, "t_cmd", "n%");
  if (!res) die("mysql_list_fields(t_cmd, n%%): %s (%u)", mysql_error(db), mysql_errno(db));
  n = mysql_num_fields(res);
  f = mysql_fetch_fields(res);
  printf("fieldlist.wild.names=");
  for (unsigned int i = 0; i < n; i++) printf("%s%s", i ? "," : "", f[i].name);
  putchar('\n');
  mysql_free_result(res);
  pause_a_little();

  res = mysql_list_fields(db, "t_no_such_table", NULL);
  if (res) die("mysql_list_fields(t_no_such_table) succeeded");
  printf("fieldlist.missing.errno=%u\n", mysql_errno(db));
  printf("fieldlist.missing.sqlstate=%s\n", mysql_sqlstate(db));
  query_print("SELECT COUNT(*) FROM t_cmd", "fieldlist.after");
}

/* COM_STATISTICS through mysql_stat. */
static void scenario_stat(void) {
  scenario = "stat";
  for (int i = 1; i <= 2; i++) {
    const char *s = mysql_stat(db);
    if (!s) die("mysql_stat: %s (%u)", mysql_error(db), mysql_errno(db));
    printf("stat.%d.has_uptime=%d\n", i, strstr(s, "Uptime:") != NULL);
    printf("stat.%d.has_questions=%d\n", i, strstr(s, "Questions:") != NULL);
    pause_a_little();
  }
  query_print("SELECT 'after-stat'", "stat.after");
}

/* COM_PING through mysql_ping. */
static void scenario_ping(void) {
  scenario = "ping";
  for (int i = 1; i <= 3; i++) {
    printf("ping.%d=%d\n", i, mysql_ping(db));
    pause_a_little();
  }
  query_print("SELECT 'after-ping'", "ping.after");
  printf("ping.4=%d\n", mysql_ping(db));
}

/* COM_INIT_DB through mysql_select_db: to the second database, to a missing one, and back. */
static void scenario_initdb(void) {
  scenario = "initdb";
  print_database("initdb.start");
  DCHECK(mysql_select_db(db, db2_name));
  print_database("initdb.database");
  pause_a_little();
  query_print("SELECT v FROM t_db2", "initdb.t_db2");
  print_database("initdb.after_pause");

  const char *missing = "sluice_no_such_db";
  if (mysql_select_db(db, missing) == 0) die("mysql_select_db(%s) succeeded", missing);
  printf("initdb.missing.errno=%u\n", mysql_errno(db));
  printf("initdb.missing.sqlstate=%s\n", mysql_sqlstate(db));
  printf("initdb.missing.error=%s\n", mysql_error(db));
  print_database("initdb.after_missing");
  pause_a_little();
  query_print("SELECT v FROM t_db2", "initdb.t_db2_after_missing");

  DCHECK(mysql_select_db(db, db1_name));
  pause_a_little();
  print_database("initdb.back");
  query_print("SELECT COUNT(*) FROM t_cmd", "initdb.back_count");
}

/* COM_SET_OPTION through mysql_set_server_option on a connection without CLIENT_MULTI_STATEMENTS. */
static void scenario_setoption(void) {
  scenario = "setoption";
  const char *multi = "SELECT 1; SELECT 2";
  expect_query_error(multi, "setoption.before");
  printf("setoption.on=%d\n", mysql_set_server_option(db, MYSQL_OPTION_MULTI_STATEMENTS_ON));
  if (mysql_errno(db)) die("mysql_set_server_option(ON): %s (%u)", mysql_error(db), mysql_errno(db));
  multi_print(multi, "setoption.multi");
  pause_a_little();
  multi_print("SELECT 3 AS a; SELECT 4 AS b, 5 AS c; SELECT 6 FROM t_cmd WHERE id > 1", "setoption.multi2");
  printf("setoption.off=%d\n", mysql_set_server_option(db, MYSQL_OPTION_MULTI_STATEMENTS_OFF));
  if (mysql_errno(db)) die("mysql_set_server_option(OFF): %s (%u)", mysql_error(db), mysql_errno(db));
  pause_a_little();
  expect_query_error(multi, "setoption.after_off");
  query_print("SELECT 7", "setoption.single");
}

/* COM_RESET_CONNECTION through mysql_reset_connection: user variables and session variables go back. */
static void scenario_reset(void) {
  scenario = "reset";
  exec_sql("SET @x = 5");
  pause_a_little();
  exec_sql("SET time_zone = '+02:00'");
  pause_a_little();
  query_print("SELECT @x, @@time_zone", "reset.before");
  printf("reset.rc=%d\n", mysql_reset_connection(db));
  if (mysql_errno(db)) die("mysql_reset_connection: %s (%u)", mysql_error(db), mysql_errno(db));
  query_print("SELECT @x, @@time_zone", "reset.after");
  /* MariaDB keeps the default database across COM_RESET_CONNECTION. */
  print_database("reset.database");
  pause_a_little();
  query_print("SELECT @x, @@time_zone", "reset.after_pause");
  print_database("reset.database_after_pause");
}

/* A CALL whose procedure returns two result sets (then the CALL's own status). */
static void scenario_call(void) {
  scenario = "call";
  multi_print("CALL p_two(2)", "call.a");
  pause_a_little();
  multi_print("CALL p_two(3)", "call.b");
  query_print("SELECT 'after-call'", "call.after");
}

/* Warnings: the count from the response, then SHOW WARNINGS (on the session that produced them). */
static void scenario_warnings(void) {
  scenario = "warnings";
  query_print("SELECT CAST('12abc' AS SIGNED) AS a, 1/0 AS b", "warnings.select.row");
  printf("warnings.select.count=%u\n", mysql_warning_count(db));
  pause_a_little();
  query_print("SHOW WARNINGS", "warnings.select.show");

  exec_sql("INSERT IGNORE INTO t_cmd (id, name) VALUES (1, 'dup')");
  printf("warnings.insert.affected=%llu\n", (unsigned long long)mysql_affected_rows(db));
  printf("warnings.insert.count=%u\n", mysql_warning_count(db));
  pause_a_little();
  query_print("SHOW WARNINGS", "warnings.insert.show");
  query_print("SELECT 'clean'", "warnings.clean.row");
  printf("warnings.clean.count=%u\n", mysql_warning_count(db));
}

/* COM_CHANGE_USER through mysql_change_user: another account, a fresh session. */
static void scenario_changeuser(void) {
  scenario = "changeuser";
  exec_sql("SET @cu = 42");
  exec_sql("SET time_zone = '+03:00'");
  pause_a_little();
  query_print("SELECT @cu, @@time_zone", "changeuser.before");
  if (mysql_change_user(db, user2, password2, db1_name))
    die("mysql_change_user(%s): %s (%u) [%s]", user2, mysql_error(db), mysql_errno(db), mysql_sqlstate(db));
  printf("changeuser.rc=0\n");
  char buf[256];
  const char *cu = query_value("SELECT CURRENT_USER()", buf, sizeof buf);
  char expect[256];
  snprintf(expect, sizeof expect, "%s@%%", user2);
  printf("changeuser.current_user=%s\n", strcmp(cu, expect) == 0 ? "user2@%" : cu);
  query_print("SELECT @cu, @@time_zone", "changeuser.after");
  print_database("changeuser.database");
  pause_a_little();
  query_print("SELECT COUNT(*) FROM t_cmd", "changeuser.count");
  query_print("SELECT @cu, @@time_zone", "changeuser.after_pause");
  cu = query_value("SELECT CURRENT_USER()", buf, sizeof buf);
  printf("changeuser.current_user_after_pause=%s\n", strcmp(cu, expect) == 0 ? "user2@%" : cu);
}

/* A second connection with the same credentials (client flag 0); database may be NULL. */
static MYSQL *open_connection(const char *database) {
  MYSQL *m = mysql_init(NULL);
  if (!m) die("mysql_init failed");
  unsigned int protocol = MYSQL_PROTOCOL_TCP;
  unsigned int timeout = 30;
  mysql_options(m, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  if (!mysql_real_connect(m, conn_host, conn_user, conn_password, database, conn_port, NULL, 0))
    die("mysql_real_connect %s:%u (%s): %s (%u)", conn_host, conn_port, database ? database : "no database", mysql_error(m),
        mysql_errno(m));
  return m;
}

/*
 * Not in the default run (CMD_ONLY=isolation): what one session leaves on a server session must not reach
 * the next one, and COM_RESET_CONNECTION keeps the default database. Deterministic through Sluice only with
 * a pool of one backend connection (then every connection here shares it, one after the other).
 */
static void scenario_isolation(void) {
  scenario = "isolation";
  MYSQL *main_db = db;

  /* 1. A connection without a default database, after another one used db1. */
  query_print("SELECT COUNT(*) FROM t_cmd", "isolation.nodb.first_in_db1");
  db = open_connection(NULL);
  print_database("isolation.nodb.database");
  expect_query_error("SELECT COUNT(*) FROM t_cmd", "isolation.nodb.unqualified");
  mysql_close(db);
  db = main_db;

  /* 2. COM_RESET_CONNECTION keeps the default database, even if another session used db2 meanwhile. */
  printf("isolation.reset.rc=%d\n", mysql_reset_connection(db));
  if (mysql_errno(db)) die("mysql_reset_connection: %s (%u)", mysql_error(db), mysql_errno(db));
  db = open_connection(db2_name);
  query_print("SELECT v FROM t_db2", "isolation.reset.other_in_db2");
  mysql_close(db);
  db = main_db;
  print_database("isolation.reset.database");
  DCHECK(mysql_select_db(db, db1_name));

  /* 3. MULTI_STATEMENTS_ON set by a session that then disconnects must not reach the next session. */
  db = open_connection(db1_name);
  printf("isolation.leak.on=%d\n", mysql_set_server_option(db, MYSQL_OPTION_MULTI_STATEMENTS_ON));
  if (mysql_errno(db)) die("mysql_set_server_option(ON): %s (%u)", mysql_error(db), mysql_errno(db));
  multi_print("SELECT 1; SELECT 2", "isolation.leak.setter");
  mysql_close(db);
  db = open_connection(db1_name);
  expect_query_error("SELECT 1; SELECT 2", "isolation.leak.next_session");
  mysql_close(db);
  db = main_db;
  expect_query_error("SELECT 1; SELECT 2", "isolation.leak.main_session");
}

static const char *arg_or_env(int argc, char **argv, int i, const char *env, const char *dflt) {
  if (argc > i) return argv[i];
  const char *v = getenv(env);
  return v ? v : dflt;
}

static const char *required_env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) die("environment variable %s is required", name);
  return v;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *host = arg_or_env(argc, argv, 1, "CMD_HOST", "127.0.0.1");
  unsigned int port = (unsigned int)atoi(arg_or_env(argc, argv, 2, "CMD_PORT", "3306"));
  const char *user = arg_or_env(argc, argv, 3, "CMD_USER", "root");
  const char *password = arg_or_env(argc, argv, 4, "CMD_PASSWORD", "");
  db1_name = arg_or_env(argc, argv, 5, "CMD_DB", "test");
  db2_name = required_env("CMD_DB2");
  user2 = required_env("CMD_USER2");
  password2 = required_env("CMD_PASSWORD2");
  const char *only = getenv("CMD_ONLY");
  if (getenv("CMD_PAUSE_MS")) pause_ms = atol(getenv("CMD_PAUSE_MS"));

  db = mysql_init(NULL);
  if (!db) die("mysql_init failed");
  unsigned int protocol = MYSQL_PROTOCOL_TCP;
  unsigned int timeout = 30;
  mysql_options(db, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  /* Client flag 0: no CLIENT_MULTI_STATEMENTS (the driver still asks for CLIENT_MULTI_RESULTS). */
  conn_host = host;
  conn_port = port;
  conn_user = user;
  conn_password = password;
  if (!mysql_real_connect(db, host, user, password, db1_name, port, NULL, 0))
    die("mysql_real_connect %s:%u: %s (%u)", host, port, mysql_error(db), mysql_errno(db));
  printf("client_version=%s\n", mysql_get_client_info());
  printf("connect.multi_statements_flag=%d\n", (db->client_flag & CLIENT_MULTI_STATEMENTS) ? 1 : 0);
  printf("connect.multi_results_flag=%d\n", (db->client_flag & CLIENT_MULTI_RESULTS) ? 1 : 0);

  struct {
    const char *name;
    void (*run)(void);
  } scenarios[] = {
      {"fieldlist", scenario_fieldlist}, {"stat", scenario_stat},   {"ping", scenario_ping},
      {"initdb", scenario_initdb},       {"setoption", scenario_setoption}, {"reset", scenario_reset},
      {"call", scenario_call},           {"warnings", scenario_warnings},   {"changeuser", scenario_changeuser},
  };
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    if (only && *only && strcmp(only, scenarios[i].name) != 0) continue;
    scenarios[i].run();
    printf("%s.ok=1\n", scenarios[i].name);
    pause_a_little();
  }
  if (only && strcmp(only, "isolation") == 0) {
    scenario_isolation();
    printf("isolation.ok=1\n");
  }

  scenario = "end";
  /* The session must still be usable and on the first database after all that. */
  print_database("end.database");
  printf("end.ping=%d\n", mysql_ping(db));
  mysql_close(db);
  printf("done=1\n");
  return 0;
}
