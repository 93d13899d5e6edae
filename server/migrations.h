/* The schema migrations compiled into the server (generated from
 * schema/migrations/ by scripts/embed_sql.py); migration i brings the
 * database to user_version i + 1. */
#ifndef SRV_MIGRATIONS_H
#define SRV_MIGRATIONS_H

struct srv_migration {
    const char *file; /* "0001_initial.sql" */
    const char *sql;
};

extern const struct srv_migration srv_migrations[];
extern const int srv_nmigrations;

#endif
