/* A JSON text writer for the large answers (run lists), where building a
 * jansson tree of every row and dumping it cost far more than the query:
 * values are appended as text in jansson's compact format, and JSON the
 * server stored itself (a run's summary, cost, tags, spec) is copied in
 * verbatim instead of being parsed and printed again. */
#ifndef SRV_JTEXT_H
#define SRV_JTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Grown on the heap; an allocation failure is sticky (`oom`) and the text
 * is then incomplete. */
struct srv_jtext {
    char *text; /* NUL-terminated; owned until srv_jtext_take */
    size_t len, cap;
    bool oom;
};

void srv_jtext_init(struct srv_jtext *j);
void srv_jtext_free(struct srv_jtext *j);
/* Hands the text over (caller frees with free()); NULL after an allocation
 * failure. The writer is empty afterwards. */
char *srv_jtext_take(struct srv_jtext *j, size_t *len);

/* Raw text, copied as is: punctuation, or JSON known to be valid. */
void srv_jtext_raw(struct srv_jtext *j, const char *s, size_t n);
void srv_jtext_lit(struct srv_jtext *j, const char *s); /* NUL-terminated raw text */
/* A JSON string of the UTF-8 text `s` (NULL: null), escaped as jansson
 * escapes it ('"', '\\' and control characters). */
void srv_jtext_str(struct srv_jtext *j, const char *s);
void srv_jtext_int(struct srv_jtext *j, int64_t v);
/* A real as jansson prints it: 17 significant digits, always with a '.' or
 * an exponent, the exponent without '+' or leading zeros. */
void srv_jtext_real(struct srv_jtext *j, double v);
void srv_jtext_bool(struct srv_jtext *j, bool v);
/* `"key":`, the key escaped like a string. */
void srv_jtext_key(struct srv_jtext *j, const char *key);

#endif
