/*
 * stmt_client.c: exercises the binary protocol's harder parts with a real driver, MariaDB Connector/C
 * (libmariadb), for test/integration/connector-c.test.ts. It runs against Sluice and, as a control,
 * directly against the primary; both runs must print the same lines.
 *
 *   stmt_client HOST PORT USER PASSWORD DATABASE
 *   (or the environment: STMT_HOST, STMT_PORT, STMT_USER, STMT_PASSWORD, STMT_DB)
 *
 * Optional environment:
 *   STMT_PAUSE_MS  sleep this long between commands where the session is free to move to another backend
 *                  connection (default 0), so that concurrent clients get to use the pool in between.
 *   STMT_ONLY      run only the scenario with this name (cursor, longdata, reexec, interleave, reprepare).
 *
 * Expects, in DATABASE:
 *   t_rows (id INT PRIMARY KEY, v VARCHAR(32)) with rows (1,'row-1') … (10,'row-10')
 *   t_blob (id INT PRIMARY KEY, b LONGBLOB), empty
 *   t_ins  (id INT PRIMARY KEY, v VARCHAR(64)), empty
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

/* A failed call on a statement handle. */
#define SCHECK(stmt, call)                                                                          \
  do {                                                                                              \
    if (call) die("%s: %s (%u) [%s]", #call, mysql_stmt_error(stmt), mysql_stmt_errno(stmt),        \
                  mysql_stmt_sqlstate(stmt));                                                       \
  } while (0)

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

static MYSQL_STMT *prepare(const char *sql) {
  MYSQL_STMT *stmt = mysql_stmt_init(db);
  if (!stmt) die("mysql_stmt_init: %s", mysql_error(db));
  if (mysql_stmt_prepare(stmt, sql, (unsigned long)strlen(sql)))
    die("prepare \"%s\": %s (%u)", sql, mysql_stmt_error(stmt), mysql_stmt_errno(stmt));
  return stmt;
}

static void bind_int(MYSQL_BIND *b, int *value) {
  memset(b, 0, sizeof *b);
  b->buffer_type = MYSQL_TYPE_LONG;
  b->buffer = value;
}

static void bind_str(MYSQL_BIND *b, char *buf, unsigned long cap, unsigned long *len, my_bool *is_null) {
  memset(b, 0, sizeof *b);
  b->buffer_type = MYSQL_TYPE_STRING;
  b->buffer = buf;
  b->buffer_length = cap;
  b->length = len;
  b->is_null = is_null;
}

/* mysql_stmt_fetch, failing on errors and truncation; returns 1 for a row, 0 at the end. */
static int fetch(MYSQL_STMT *stmt, const char *what) {
  int rc = mysql_stmt_fetch(stmt);
  if (rc == 0) return 1;
  if (rc == MYSQL_NO_DATA) return 0;
  if (rc == MYSQL_DATA_TRUNCATED) die("%s: mysql_stmt_fetch: data truncated", what);
  die("%s: mysql_stmt_fetch: %s (%u)", what, mysql_stmt_error(stmt), mysql_stmt_errno(stmt));
  return 0;
}

/* The blob pattern; test/integration/connector-c.test.ts computes the same bytes. */
static unsigned char pattern(unsigned long i, unsigned seed) {
  return (unsigned char)(((i ^ (i >> 8) ^ (i >> 16)) * 31u + seed) & 0xffu);
}

/* ------------------------------------------------------------------------------------------------ */
/* 1. Server-side read-only cursor with prefetch 2: the rows arrive through COM_STMT_FETCH. */
static void scenario_cursor(void) {
  scenario = "cursor";
  MYSQL_STMT *stmt = mysql_stmt_init(db);
  if (!stmt) die("mysql_stmt_init: %s", mysql_error(db));
  unsigned long cursor_type = CURSOR_TYPE_READ_ONLY;
  unsigned long prefetch = 2;
  SCHECK(stmt, mysql_stmt_attr_set(stmt, STMT_ATTR_CURSOR_TYPE, &cursor_type));
  SCHECK(stmt, mysql_stmt_attr_set(stmt, STMT_ATTR_PREFETCH_ROWS, &prefetch));
  const char *sql = "SELECT id, v FROM t_rows ORDER BY id";
  SCHECK(stmt, mysql_stmt_prepare(stmt, sql, (unsigned long)strlen(sql)));
  printf("cursor.param_count=%lu\n", mysql_stmt_param_count(stmt));
  printf("cursor.field_count=%u\n", mysql_stmt_field_count(stmt));

  int id = 0;
  char v[64];
  unsigned long vlen = 0;
  my_bool vnull = 0;
  MYSQL_BIND res[2];
  bind_int(&res[0], &id);
  bind_str(&res[1], v, sizeof v, &vlen, &vnull);
  SCHECK(stmt, mysql_stmt_bind_result(stmt, res));

  for (int round = 1; round <= 2; round++) {
    SCHECK(stmt, mysql_stmt_execute(stmt));
    /* Set by the driver when the execute response said SERVER_STATUS_CURSOR_EXISTS (no rows sent yet). */
    printf("cursor.%d.cursor_exists=%d\n", round, stmt->cursor_exists ? 1 : 0);
    int n = 0;
    while (fetch(stmt, "cursor fetch")) {
      n++;
      printf("cursor.%d.row=%d,%.*s\n", round, id, (int)vlen, v);
      /* Mid-cursor, the connection is free for other commands: a text query between two fetches. */
      if (round == 2 && n == 3) {
        DCHECK(mysql_query(db, "SELECT COUNT(*) FROM t_rows"));
        MYSQL_RES *r = mysql_store_result(db);
        if (!r) die("store_result mid-cursor: %s", mysql_error(db));
        MYSQL_ROW row = mysql_fetch_row(r);
        printf("cursor.%d.mid_query=%s\n", round, row && row[0] ? row[0] : "NULL");
        mysql_free_result(r);
      }
    }
    printf("cursor.%d.count=%d\n", round, n);
    SCHECK(stmt, mysql_stmt_free_result(stmt));
  }

  /* A cursor abandoned half-way: mysql_stmt_reset closes it, then the statement runs again from the top. */
  SCHECK(stmt, mysql_stmt_execute(stmt));
  int n = 0;
  while (n < 4 && fetch(stmt, "partial fetch")) n++;
  printf("cursor.partial.last=%d\n", id);
  SCHECK(stmt, mysql_stmt_reset(stmt));
  pause_a_little();
  SCHECK(stmt, mysql_stmt_execute(stmt));
  n = 0;
  int first = -1, last = -1;
  while (fetch(stmt, "after-reset fetch")) {
    if (first < 0) first = id;
    last = id;
    n++;
  }
  printf("cursor.after_reset=%d,%d,%d\n", n, first, last);
  SCHECK(stmt, mysql_stmt_close(stmt));
}

/* ------------------------------------------------------------------------------------------------ */
/* 2. COM_STMT_SEND_LONG_DATA: a BLOB parameter sent in chunks, then read back. */
#define CHUNK 100000UL
static void scenario_longdata(void) {
  scenario = "longdata";
  static unsigned char data[3 * CHUNK];
  MYSQL_STMT *ins = prepare("INSERT INTO t_blob (id, b) VALUES (?, ?)");
  printf("longdata.param_count=%lu\n", mysql_stmt_param_count(ins));
  int id = 0;
  MYSQL_BIND p[2];
  bind_int(&p[0], &id);
  memset(&p[1], 0, sizeof p[1]);
  p[1].buffer_type = MYSQL_TYPE_BLOB;
  SCHECK(ins, mysql_stmt_bind_param(ins, p));

  /* Row 1: 3 × 100000 bytes of pattern seed 7. */
  for (unsigned long i = 0; i < sizeof data; i++) data[i] = pattern(i, 7);
  id = 1;
  for (int c = 0; c < 3; c++) SCHECK(ins, mysql_stmt_send_long_data(ins, 1, (const char *)data + c * CHUNK, CHUNK));
  SCHECK(ins, mysql_stmt_execute(ins));
  printf("longdata.1.affected=%llu\n", (unsigned long long)mysql_stmt_affected_rows(ins));
  SCHECK(ins, mysql_stmt_reset(ins));
  pause_a_little();

  /* Row 2, same statement: 2 chunks (100000 + 1 bytes) of pattern seed 99. */
  for (unsigned long i = 0; i < CHUNK + 1; i++) data[i] = pattern(i, 99);
  id = 2;
  SCHECK(ins, mysql_stmt_send_long_data(ins, 1, (const char *)data, CHUNK));
  SCHECK(ins, mysql_stmt_send_long_data(ins, 1, (const char *)data + CHUNK, 1));
  SCHECK(ins, mysql_stmt_execute(ins));
  printf("longdata.2.affected=%llu\n", (unsigned long long)mysql_stmt_affected_rows(ins));

  /* Row 3, same statement, no long data this time: the parameter's (empty) bound value is sent inline. */
  id = 3;
  SCHECK(ins, mysql_stmt_execute(ins));
  printf("longdata.3.affected=%llu\n", (unsigned long long)mysql_stmt_affected_rows(ins));
  SCHECK(ins, mysql_stmt_close(ins));
  pause_a_little();

  MYSQL_STMT *sel = prepare("SELECT id, LENGTH(b), MD5(b) FROM t_blob ORDER BY id");
  int rid = 0;
  long long len = 0;
  char md5[64];
  unsigned long md5len = 0;
  my_bool md5null = 0;
  MYSQL_BIND r[3];
  bind_int(&r[0], &rid);
  memset(&r[1], 0, sizeof r[1]);
  r[1].buffer_type = MYSQL_TYPE_LONGLONG;
  r[1].buffer = &len;
  bind_str(&r[2], md5, sizeof md5, &md5len, &md5null);
  SCHECK(sel, mysql_stmt_execute(sel));
  SCHECK(sel, mysql_stmt_bind_result(sel, r));
  SCHECK(sel, mysql_stmt_store_result(sel));
  while (fetch(sel, "length/md5")) printf("longdata.row=%d,%lld,%.*s\n", rid, len, (int)md5len, md5);
  SCHECK(sel, mysql_stmt_close(sel));

  /* Read row 1's blob back whole through the binary protocol (a 300 KB row) and compare byte for byte. */
  for (unsigned long i = 0; i < sizeof data; i++) data[i] = pattern(i, 7);
  static unsigned char back[3 * CHUNK + 16];
  MYSQL_STMT *get = prepare("SELECT b FROM t_blob WHERE id = ?");
  int gid = 1;
  MYSQL_BIND gp[1];
  bind_int(&gp[0], &gid);
  SCHECK(get, mysql_stmt_bind_param(get, gp));
  unsigned long blen = 0;
  my_bool bnull = 0;
  MYSQL_BIND gr[1];
  memset(gr, 0, sizeof gr);
  gr[0].buffer_type = MYSQL_TYPE_BLOB;
  gr[0].buffer = back;
  gr[0].buffer_length = sizeof back;
  gr[0].length = &blen;
  gr[0].is_null = &bnull;
  SCHECK(get, mysql_stmt_execute(get));
  SCHECK(get, mysql_stmt_bind_result(get, gr));
  if (!fetch(get, "blob readback")) die("blob readback: no row");
  printf("longdata.readback=%lu,%s\n", blen, blen == sizeof data && memcmp(back, data, sizeof data) == 0 ? "equal" : "DIFFERENT");
  if (fetch(get, "blob readback end")) die("blob readback: more than one row");
  SCHECK(get, mysql_stmt_close(get));
}

/* ------------------------------------------------------------------------------------------------ */
/* 3. One statement executed again and again with new values and no rebinding: after the first execute the
 *    driver sends new_params_bound = 0 (no types), so whoever executes it must remember the types. */
static void scenario_reexec(void) {
  scenario = "reexec";
  static const int ids[5] = {3, 7, 1, 10, 5};

  MYSQL_STMT *sel = prepare("SELECT id, v FROM t_rows WHERE id = ?");
  int pid = 0;
  MYSQL_BIND p[1];
  bind_int(&p[0], &pid);
  SCHECK(sel, mysql_stmt_bind_param(sel, p));
  int id = 0;
  char v[64];
  unsigned long vlen = 0;
  my_bool vnull = 0;
  MYSQL_BIND r[2];
  bind_int(&r[0], &id);
  bind_str(&r[1], v, sizeof v, &vlen, &vnull);
  SCHECK(sel, mysql_stmt_bind_result(sel, r));
  for (int i = 0; i < 5; i++) {
    pid = ids[i];
    SCHECK(sel, mysql_stmt_execute(sel));
    SCHECK(sel, mysql_stmt_store_result(sel));
    int n = 0;
    while (fetch(sel, "reexec select")) {
      n++;
      printf("reexec.select.%d=%d,%.*s\n", i + 1, id, (int)vlen, v);
    }
    if (n != 1) die("select id=%d returned %d rows", pid, n);
    SCHECK(sel, mysql_stmt_free_result(sel));
    SCHECK(sel, mysql_stmt_reset(sel));
    pause_a_little();
  }

  /* The same with a string parameter whose length changes on every execute. */
  MYSQL_STMT *ins = prepare("INSERT INTO t_ins (id, v) VALUES (?, ?)");
  int iid = 0;
  char iv[64];
  unsigned long ivlen = 0;
  MYSQL_BIND ip[2];
  bind_int(&ip[0], &iid);
  memset(&ip[1], 0, sizeof ip[1]);
  ip[1].buffer_type = MYSQL_TYPE_STRING;
  ip[1].buffer = iv;
  ip[1].buffer_length = sizeof iv;
  ip[1].length = &ivlen;
  SCHECK(ins, mysql_stmt_bind_param(ins, ip));
  for (int i = 0; i < 5; i++) {
    iid = ids[i] * 100;
    ivlen = (unsigned long)snprintf(iv, sizeof iv, "value-%d-%.*s", ids[i], ids[i] * 3, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    SCHECK(ins, mysql_stmt_execute(ins));
    printf("reexec.insert.%d.affected=%llu\n", i + 1, (unsigned long long)mysql_stmt_affected_rows(ins));
    SCHECK(ins, mysql_stmt_reset(ins));
    pause_a_little();
  }
  SCHECK(ins, mysql_stmt_close(ins));
  SCHECK(sel, mysql_stmt_close(sel));

  DCHECK(mysql_query(db, "SELECT id, v FROM t_ins ORDER BY id"));
  MYSQL_RES *res = mysql_store_result(db);
  if (!res) die("store_result: %s", mysql_error(db));
  MYSQL_ROW row;
  while ((row = mysql_fetch_row(res))) printf("reexec.t_ins=%s,%s\n", row[0], row[1] ? row[1] : "NULL");
  mysql_free_result(res);
}

/* ------------------------------------------------------------------------------------------------ */
/* 4. Two statement handles interleaved: prepare A, prepare B, execute A, execute B, close A, execute B. */
static void exec_a(MYSQL_STMT *a, int arg, const char *label) {
  MYSQL_BIND p[1];
  bind_int(&p[0], &arg);
  SCHECK(a, mysql_stmt_bind_param(a, p));
  char v[64];
  unsigned long vlen = 0;
  my_bool vnull = 0;
  MYSQL_BIND r[1];
  bind_str(&r[0], v, sizeof v, &vlen, &vnull);
  SCHECK(a, mysql_stmt_execute(a));
  SCHECK(a, mysql_stmt_bind_result(a, r));
  while (fetch(a, label)) printf("interleave.%s=%.*s\n", label, (int)vlen, v);
  SCHECK(a, mysql_stmt_free_result(a));
}

static void exec_b(MYSQL_STMT *b, int arg, const char *label) {
  MYSQL_BIND p[1];
  bind_int(&p[0], &arg);
  SCHECK(b, mysql_stmt_bind_param(b, p));
  long long count = 0, sum = 0;
  MYSQL_BIND r[2];
  memset(r, 0, sizeof r);
  r[0].buffer_type = MYSQL_TYPE_LONGLONG;
  r[0].buffer = &count;
  r[1].buffer_type = MYSQL_TYPE_LONGLONG;
  r[1].buffer = &sum;
  SCHECK(b, mysql_stmt_execute(b));
  SCHECK(b, mysql_stmt_bind_result(b, r));
  SCHECK(b, mysql_stmt_store_result(b));
  while (fetch(b, label)) printf("interleave.%s=%lld,%lld\n", label, count, sum);
  SCHECK(b, mysql_stmt_free_result(b));
}

static void scenario_interleave(void) {
  scenario = "interleave";
  MYSQL_STMT *a = prepare("SELECT v FROM t_rows WHERE id = ?");
  pause_a_little();
  MYSQL_STMT *b = prepare("SELECT COUNT(*), CAST(SUM(id) AS SIGNED) FROM t_rows WHERE id <= ?");
  pause_a_little();
  exec_a(a, 4, "a1");
  pause_a_little();
  exec_b(b, 6, "b1");
  pause_a_little();
  SCHECK(a, mysql_stmt_close(a));
  pause_a_little();
  exec_b(b, 9, "b2");
  pause_a_little();
  exec_b(b, 2, "b3");
  SCHECK(b, mysql_stmt_close(b));
}

/* ------------------------------------------------------------------------------------------------ */
/* 5. mysql_stmt_close, then the same SQL prepared again on a new handle (and a third time). */
static void scenario_reprepare(void) {
  scenario = "reprepare";
  const char *sql = "SELECT v FROM t_rows WHERE id = ?";
  static const int args[3] = {2, 8, 6};
  for (int round = 0; round < 3; round++) {
    MYSQL_STMT *s = prepare(sql);
    char label[16];
    snprintf(label, sizeof label, "r%d", round + 1);
    int arg = args[round];
    MYSQL_BIND p[1];
    bind_int(&p[0], &arg);
    SCHECK(s, mysql_stmt_bind_param(s, p));
    char v[64];
    unsigned long vlen = 0;
    my_bool vnull = 0;
    MYSQL_BIND r[1];
    bind_str(&r[0], v, sizeof v, &vlen, &vnull);
    SCHECK(s, mysql_stmt_execute(s));
    SCHECK(s, mysql_stmt_bind_result(s, r));
    while (fetch(s, label)) printf("reprepare.%s=%.*s\n", label, (int)vlen, v);
    SCHECK(s, mysql_stmt_close(s));
    pause_a_little();
  }
}

static const char *arg_or_env(int argc, char **argv, int i, const char *env, const char *dflt) {
  if (argc > i) return argv[i];
  const char *v = getenv(env);
  return v ? v : dflt;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *host = arg_or_env(argc, argv, 1, "STMT_HOST", "127.0.0.1");
  unsigned int port = (unsigned int)atoi(arg_or_env(argc, argv, 2, "STMT_PORT", "3306"));
  const char *user = arg_or_env(argc, argv, 3, "STMT_USER", "root");
  const char *password = arg_or_env(argc, argv, 4, "STMT_PASSWORD", "");
  const char *database = arg_or_env(argc, argv, 5, "STMT_DB", "test");
  const char *only = getenv("STMT_ONLY");
  if (getenv("STMT_PAUSE_MS")) pause_ms = atol(getenv("STMT_PAUSE_MS"));

  db = mysql_init(NULL);
  if (!db) die("mysql_init failed");
  unsigned int protocol = MYSQL_PROTOCOL_TCP;
  unsigned int timeout = 30;
  mysql_options(db, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  if (!mysql_real_connect(db, host, user, password, database, port, NULL, 0))
    die("mysql_real_connect %s:%u: %s (%u)", host, port, mysql_error(db), mysql_errno(db));
  printf("client_version=%s\n", mysql_get_client_info());

  struct {
    const char *name;
    void (*run)(void);
  } scenarios[] = {
      {"cursor", scenario_cursor},
      {"longdata", scenario_longdata},
      {"reexec", scenario_reexec},
      {"interleave", scenario_interleave},
      {"reprepare", scenario_reprepare},
  };
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    if (only && *only && strcmp(only, scenarios[i].name) != 0) continue;
    scenarios[i].run();
    printf("%s.ok=1\n", scenarios[i].name);
    pause_a_little();
  }

  scenario = "end";
  /* The session must still be usable and on the right database after all that. */
  DCHECK(mysql_query(db, "SELECT DATABASE()"));
  MYSQL_RES *res = mysql_store_result(db);
  if (!res) die("store_result: %s", mysql_error(db));
  MYSQL_ROW row = mysql_fetch_row(res);
  printf("end.database_matches=%d\n", row && row[0] && strcmp(row[0], database) == 0 ? 1 : 0);
  mysql_free_result(res);
  mysql_close(db);
  printf("done=1\n");
  return 0;
}
