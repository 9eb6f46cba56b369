/* ism_str: ASCII string helpers (see ism_str.h). */
#include "ism_str.h"

#include <string.h>

char *ism_str_lower_all(char *s)
{
    for (char *p = s; *p; p++)
        *p = ism_str_lower(*p);
    return s;
}

int ism_str_icmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)ism_str_lower(*a), y = (unsigned char)ism_str_lower(*b);
        if (x != y || !x)
            return x - y;
    }
}

int ism_str_ieq(const char *a, const char *b)
{
    return ism_str_icmp(a, b) == 0;
}

int ism_str_ieq_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ism_str_lower(a[i]) != ism_str_lower(b[i]))
            return 0;
    return 1;
}

int ism_str_iprefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (len < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ism_str_lower(s[i]) != ism_str_lower(prefix[i]))
            return 0;
    return 1;
}

int ism_str_ieqn(const char *a, size_t len, const char *b)
{
    return strlen(b) == len && ism_str_iprefix(a, len, b);
}

int ism_str_verb_is(const char *line, size_t len, const char *verb)
{
    size_t n = strlen(verb);
    return ism_str_iprefix(line, len, verb) && (len == n || line[n] == ' ');
}
